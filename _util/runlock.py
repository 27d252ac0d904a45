"""One run at a time: an flock on LOCK_FILE (released by the kernel when a run dies, so never stale)."""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

log = logging.getLogger("aws_cost_tracking")

EXIT_LOCKED = 75  # EX_TEMPFAIL: another run holds the lock; cron may simply try again later


_HELD: set[int] = set()  # lock fds of this process: a forked child must not keep them (close_inherited)


def close_inherited() -> None:
    """In a forked child (chart workers): close the parent's lock fds, so a worker outliving a killed run
    cannot hold its lock (flock is shared by every copy of the descriptor)."""
    for fd in list(_HELD):
        try:
            os.close(fd)
        except OSError:
            pass
    _HELD.clear()


class LockBusy(RuntimeError):
    """Another run holds the lock."""


class RunLock:
    """Context manager holding an exclusive, non-blocking flock on path."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a setting points somewhere unusable: say which one
            raise OSError(f"cannot create the lock file {self.path} ({exc.strerror}) — check LOCK_FILE / "
                          "OUTPUT_DIR") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockBusy(f"another run is in progress (pid {holder}, lock {self.path}); not starting") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:  # a full disk: the flock still holds; the pid is only for the "busy" message
            log.warning("cannot write the pid into the lock file %s (%s); the lock holds without it", self.path,
                        exc.strerror)
        self._fd = fd
        _HELD.add(fd)
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            _HELD.discard(self._fd)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
