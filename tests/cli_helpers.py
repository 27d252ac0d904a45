"""Running a stage script's main() in-process and reading what it printed."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

# d -> a SQLite file filled through procAmzData.py once per test process; later fills copy it (the same bytes).
_FILLED: dict[date, Path] = {}


def run_cli(capsys, main: Callable[[list[str]], int], *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of main(argv)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def error_lines(err: str) -> list[str]:
    """The `error: …` lines of stderr (a failing script prints exactly one)."""
    return [line for line in err.splitlines() if line.startswith("error: ")]


def fill_with_sample(url: str, capsys, d: date) -> str:
    """url filled through the real ingest path (procAmzData.py) with the built-in sample data for d. A SQLite url
    gets a copy of the file the first such fill in this process wrote (the ingest itself is under test elsewhere;
    here it is set-up, paid once)."""
    if not url.startswith("sqlite:///"):
        return _ingest_sample(url, capsys, d)
    template = _FILLED.get(d)
    if template is None or not template.exists():
        folder = Path(tempfile.mkdtemp(prefix="filled-sample-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        template = folder / "costs.sqlite"
        _ingest_sample(f"sqlite:///{template}", capsys, d)
        _FILLED[d] = template
    shutil.copyfile(template, url[len("sqlite:///"):])
    return url


def _ingest_sample(url: str, capsys, d: date) -> str:
    import procAmzData

    code = procAmzData.main(["--source", "sample", "--db-url", url, "--date", d.isoformat()])
    _, err = capsys.readouterr()
    assert code == 0, err
    return url


def fill_disk(folder: Path) -> None:
    """Write zeros into folder/filler until its file system is full."""
    with open(folder / "filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass
