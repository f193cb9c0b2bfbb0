from cipulse.cli.main import main

main()
