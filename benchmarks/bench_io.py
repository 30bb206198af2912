"""Speed and peak memory of reading and preprocessing (issue 3 targets), printed as a table.

    .venv/bin/python benchmarks/bench_io.py [--repeats 3] [--work DIR]

- preprocess one 1-mm head pair end to end (read, N4, rigid MI registration, mask, normalise,
  crop, write) with ``preprocess_dataset``: target <= 60 s on the 2-core machine;
- read a 200-slice 512 x 512 DICOM CT series with ``read_volume``: target <= 3 s.

The head is the analytic test head (tests/heads.py) sampled at 1 mm, the MR moved by 8 deg / 16 mm.
Each run is a fresh process, so the peak resident memory reported is that run's alone (it includes
the interpreter and imports, about 0.3 GB). Report the machine's load next to the figures.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.heads

from cranial_sct.io.dicom_write import write_ct_series  # noqa: E402
from cranial_sct.io.readers import read_volume  # noqa: E402
from cranial_sct.io.volume import Volume  # noqa: E402
from cranial_sct.preprocess.dataset import preprocess_dataset  # noqa: E402
from tests.heads import rigid, write_case  # noqa: E402


def preprocess_pair(data: Path, out: Path) -> None:
    preprocess_dataset(data, out)


def read_series(folder: Path, _: Path) -> None:
    read_volume(folder)


def _timed(task: Callable[[Path, Path], None], source: Path, out: Path) -> tuple[float, float]:
    start = time.perf_counter()
    task(source, out)
    seconds = time.perf_counter() - start
    return seconds, _peak_rss_mib()


def _peak_rss_mib() -> float:
    """This process's high-water resident memory (VmHWM; ru_maxrss would include the parent's, inherited)."""
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) / 1024


def measure(task: Callable[[Path, Path], None], source: Path, work: Path, repeats: int) -> tuple[list[float], float]:
    """Run ``task`` ``repeats`` times, each in a fresh process; (seconds per run, worst peak RSS MiB)."""
    times, peaks = [], []
    context = multiprocessing.get_context("spawn")
    for run in range(repeats):
        with context.Pool(1) as pool:
            seconds, peak = pool.apply(_timed, (task, source, work / f"{task.__name__}-{run}"))
        times.append(seconds)
        peaks.append(peak)
    return times, max(peaks)


def make_inputs(work: Path) -> tuple[Path, Path]:
    """A 1-mm MR/CT pair in the phantom layout and a 200-slice 512 x 512 DICOM CT series."""
    data = work / "pair"
    write_case(data / "s01", spacing=1.0, move=rigid(8, -5, 6, (10, -10, 8)))
    ct = read_volume(data / "s01" / "ct.nii.gz")
    slab = np.full((512, 512, 200), -1024, np.int16)
    slab[166:346, 146:366, 5:195] = ct.array
    affine = np.diag([-0.5, -0.5, 1.0, 1.0])
    write_ct_series(Volume(slab, affine), work / "dicom")
    return data, work / "dicom"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = args.work or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        data, dicom = make_inputs(work)
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} before the runs")
        print(f"{'task':<48} {'median s':>9} {'min s':>7} {'max s':>7} {'peak MiB':>9} {'target s':>9}")
        for label, task, source, target in (
            ("preprocess 1-mm head pair (N4 + registration)", preprocess_pair, data, 60),
            ("read 200-slice 512x512 DICOM CT series", read_series, dicom, 3),
        ):
            times, peak = measure(task, source, work, args.repeats)
            print(f"{label:<48} {statistics.median(times):>9.2f} {min(times):>7.2f} {max(times):>7.2f} {peak:>9.0f} {target:>9}")
        print(f"load average after the runs: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
