"""The promise every fuzz test of the readers checks: a volume that passes the gate, or one clear line.

Anything else (another exception type, a message over several lines or not naming the input) fails
the test, and Hypothesis shrinks the input that caused it.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import event

from cranial_sct.errors import InputError
from cranial_sct.io.readers import read_volume
from cranial_sct.io.validate import check_volume
from cranial_sct.io.volume import Volume


def read_or_refuse(path: Path) -> Volume | None:
    """``read_volume(path)`` checked against the promise; None when the input was refused."""
    try:
        volume = read_volume(path)
    except InputError as error:
        message = str(error)
        assert "\n" not in message and str(path) in message, message
        event("refused in one line")
        return None
    check_volume(volume, str(path))
    event("read, passes the gate")
    return volume
