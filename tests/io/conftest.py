"""Fixtures shared by the io tests (and imported by the CLI tests)."""

import os
from pathlib import Path

import pytest


@pytest.fixture
def unwritable_folder(tmp_path: Path):
    """A folder nobody can create files in: permission bits for users, /sys for root (EPERM)."""
    if os.geteuid() == 0:
        yield Path("/sys")
        return
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    yield locked
    locked.chmod(0o700)
