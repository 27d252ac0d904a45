"""The one atomic file writer for every output (report.json, the Slack message files, the post ledger)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class OutputWriteError(OSError):
    """An output file could not be written; str() is one line naming the path and the OS reason."""

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}"


def write_atomic(path: Path | str, data: str | bytes) -> Path:
    """Write data (str as UTF-8) to path all or nothing: a temp file in the same folder, fsync, mode 0644,
    os.replace. The folder is created. Raises OutputWriteError (an OSError) naming the path and the reason;
    no temp file is left behind."""
    path = Path(path)
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
            handle.flush()
            os.fsync(handle.fileno())  # the bytes are on disk before the name points at them
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; outputs hold no secrets and are meant to be opened
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise OutputWriteError(exc.errno, exc.strerror or str(exc), str(path)) from None
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise
    return path
