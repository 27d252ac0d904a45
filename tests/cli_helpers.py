"""Running a stage script's main() in-process and reading what it printed."""

from __future__ import annotations

from collections.abc import Callable


def run_cli(capsys, main: Callable[[list[str]], int], *argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of main(argv)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def error_lines(err: str) -> list[str]:
    """The `error: …` lines of stderr (a failing script prints exactly one)."""
    return [line for line in err.splitlines() if line.startswith("error: ")]
