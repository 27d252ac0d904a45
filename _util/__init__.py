"""aws_cost_tracking's logic, one module per job. Importing it first checks the Python version.

This file must stay parseable by old Pythons (no f-strings, annotations or 3.10-only syntax): every script
imports `_util` before anything else, so a too-old interpreter stops here with one line saying what to install,
not later with an obscure TypeError (`zip() takes no keyword arguments` on 3.9).
"""

import sys

MIN_PYTHON = (3, 10)
EXIT_OLD_PYTHON = 2

HOW_TO_INSTALL = ("install one and use it for the venv: Amazon Linux 2023 `sudo dnf install python3.11` then "
                  "`make PYTHON=python3.11 install`; Ubuntu 22.04+ has python3.10+ (older: the deadsnakes PPA); "
                  "or `conda env create -f environment.yml` (README \"Conda set-up\")")


def python_too_old(version_info=None):
    """The one-line message for an interpreter older than MIN_PYTHON, or None when it is new enough."""
    version_info = version_info or sys.version_info
    if tuple(version_info[:2]) >= MIN_PYTHON:
        return None
    # Plain concatenation: old interpreters and the project's lint (pyupgrade rules) both accept it.
    need = ".".join(str(part) for part in MIN_PYTHON)
    this = ".".join(str(part) for part in version_info[:3])
    return "error: aws_cost_tracking needs Python " + need + " or newer (this is " + this + "): " + HOW_TO_INSTALL


_message = python_too_old()
if _message:
    sys.stderr.write(_message + "\n")
    raise SystemExit(EXIT_OLD_PYTHON)
