"""Shared test helpers: run the real CLI in a subprocess, as a user would; share expensive artefacts;
Hypothesis profiles.

The suite runs on both cores with pytest-xdist (``make test``), one process per core, so every process,
the CLI subprocesses included, uses one thread: two multi-threaded torch processes on two cores spend
their time waiting for each other (a built-in-model prediction took 46 s with two threads beside one
busy process, 7 s with one).

The fuzz tests (marker ``fuzz``) run in every suite run under the ``ci`` profile: a fixed number of
derandomised cases, so CI is repeatable and quick. A long run uses the ``fuzz`` profile with a seed:

    nice -n 10 .venv/bin/python -m pytest -m fuzz --hypothesis-profile=fuzz --hypothesis-seed=1 -p no:cacheprovider

with ``FUZZ_EXAMPLES`` cases per test (default 2,000). docs/guide/errors.md says what they check.
"""

from __future__ import annotations

import os
import tempfile

for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")  # before torch is imported; inherited by the CLI subprocesses
# The DICOM folder index cache of every test (and CLI run) goes to a scratch folder, not the user's home.
os.environ.setdefault("CRANIAL_SCT_CACHE", tempfile.mkdtemp(prefix="cranial-sct-test-cache-"))

import subprocess  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402
from filelock import FileLock  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

torch.set_num_threads(1)

SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large]
settings.register_profile("ci", max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=SLOW_IS_FINE)
settings.register_profile("fuzz", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "2000")), deadline=None,
                          suppress_health_check=SLOW_IS_FINE)
settings.load_profile("ci")


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


@contextmanager
def shared_folder(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """A folder every test process of this run sees (xdist workers share their base temporary folder's
    parent), held under a lock: the first process builds what is missing in it, the others reuse it."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    with FileLock(str(root / f"{name}.lock")):
        yield root / name
