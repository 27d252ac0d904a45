"""Running a stage script's main() in-process and reading what it printed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path


def run_cli(capsys, main: Callable[[list[str]], int], *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of main(argv)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def error_lines(err: str) -> list[str]:
    """The `error: …` lines of stderr (a failing script prints exactly one)."""
    return [line for line in err.splitlines() if line.startswith("error: ")]


def fill_with_sample(url: str, capsys, d: date) -> str:
    """url filled through the real ingest path (procAmzData.py) with the built-in sample data for d."""
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
