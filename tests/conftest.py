"""Shared test helpers: run the real CLI in a subprocess, as a user would; Hypothesis profiles.

The fuzz tests (marker ``fuzz``) run in every suite run under the ``ci`` profile: a fixed number of
derandomised cases, so CI is repeatable and quick. A long run uses the ``fuzz`` profile with a seed:

    nice -n 10 .venv/bin/python -m pytest -m fuzz --hypothesis-profile=fuzz --hypothesis-seed=1 -p no:cacheprovider

with ``FUZZ_EXAMPLES`` cases per test (default 2,000). docs/guide/errors.md says what they check.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]
settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=SLOW_IS_FINE)
settings.register_profile("fuzz", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "2000")), deadline=None,
                          suppress_health_check=SLOW_IS_FINE)
settings.load_profile("ci")
# The DICOM folder index cache of every test (and CLI run) goes to a scratch folder, not the user's home.
os.environ.setdefault("CRANIAL_SCT_CACHE", tempfile.mkdtemp(prefix="cranial-sct-test-cache-"))


def run_cli(*args: str | Path, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run ``cranial-sct ARGS`` in a fresh interpreter and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "cranial_sct", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )


@pytest.fixture
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli
