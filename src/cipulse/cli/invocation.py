"""The commands cipulse prints, typed so they work when pasted.

How the commands cipulse prints should be typed, so that they work when pasted: the
executable as this shell reaches it (``cipulse`` when that is the one on ``PATH``, else the
path it was started by, ``.venv/bin/cipulse`` after ``make run``), and the database when it
is not the default one."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

from cipulse.settings import DEFAULT_DATABASE_URL, Settings
from cipulse.storage.database import normalise_url


def _shown_path(path: Path) -> str:
    """``path`` relative to the current folder when it lies inside it, else absolute."""
    absolute = path.absolute()
    try:
        relative = absolute.relative_to(Path.cwd())
    except ValueError:
        return str(absolute)
    text = str(relative)
    return text if os.sep in text else f".{os.sep}{text}"


def executable(argv0: str | None = None) -> str:
    """The command that runs this cipulse from the current shell."""
    started = Path(argv0 if argv0 is not None else sys.argv[0])
    if started.name not in {"cipulse", "cipulse.exe"} or not started.exists():
        # ``python -m cipulse`` (argv[0] is __main__.py) or something unusual.
        return f"{shlex.quote(_shown_path(Path(sys.executable)))} -m cipulse"
    on_path = shutil.which("cipulse")
    if on_path is not None and Path(on_path).resolve() == started.resolve():
        return "cipulse"
    return shlex.quote(_shown_path(started))


def cipulse_command(settings: Settings, arguments: str, argv0: str | None = None) -> str:
    """``cipulse ARGUMENTS`` as it must be typed here: with ``--database-url`` when the
    database is not the default one (a shell without ``CIPULSE_DATABASE_URL`` would
    otherwise open ``./cipulse.db``), unless the URL holds a password, which is never
    printed."""
    command = executable(argv0)
    url = settings.database_url
    if url != DEFAULT_DATABASE_URL and normalise_url(url).password is None:
        command += f" --database-url {shlex.quote(url)}"
    return f"{command} {arguments}"
