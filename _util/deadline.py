"""The whole run's deadline (RUN_TIMEOUT_SECONDS): past it, the run stops with one line naming its stage."""

from __future__ import annotations

import logging
import multiprocessing
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("aws_cost_tracking")

GRACE_S = 30  # after the deadline, recording the failure (run row, notices) gets this long before it is cut too


class RunTimeout(BaseException):
    """The run's deadline passed. A BaseException so that the `except Exception` which lets one chart or one
    upload fail without stopping the run cannot swallow it."""


def kill_children() -> int:
    """SIGKILL this process's multiprocessing children (chart workers); return how many."""
    killed = 0
    for child in multiprocessing.active_children():
        try:
            child.kill()
            killed += 1
        except Exception:  # already gone
            pass
    return killed


@contextmanager
def run_deadline(seconds: int, where: Callable[[], str]) -> Iterator[None]:
    """Raise RunTimeout in the main thread `seconds` (s) after entry, or on SIGTERM, naming the stage where() returns.

    SIGALRM interrupts a blocking socket read, lock wait or sleep: PEP 475 retries those after a signal unless the
    handler raises, which this one does. Outside the main thread (or without setitimer) there is no deadline."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return
    message: list[str] = []

    def on_alarm(signum, frame) -> None:
        if not message:
            message.append(f"run timed out after {seconds} s in stage {where()}")
            kill_children()  # chart workers are processes: they die with the run, not after it
            signal.setitimer(signal.ITIMER_REAL, GRACE_S)
        raise RunTimeout(message[0])

    def on_term(signum, frame) -> None:
        # systemd's stop or timeout, `kill`, a shutdown: end like a missed deadline (one line naming the stage, the
        # run row, the Slack notice, the /fail ping), not silently.
        if not message:
            message.append(f"run terminated by {signal.Signals(signum).name} in stage {where()}")
            kill_children()
            signal.setitimer(signal.ITIMER_REAL, GRACE_S)
        raise RunTimeout(message[0])

    previous = signal.signal(signal.SIGALRM, on_alarm)
    previous_term = signal.signal(signal.SIGTERM, on_term)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        signal.signal(signal.SIGTERM, previous_term)
