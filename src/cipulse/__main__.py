"""``python -m cipulse``: the same command line as ``cipulse``."""

from cipulse.cli.main import main

main()
