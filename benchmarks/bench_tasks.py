"""Time of the clinical task metrics (``evaluate --task``) for one 2-mm phantom head.

The sCT is the CT with its bone 10 % less dense plus 30 HU of noise: the time does not depend on how
good the sCT is. Prints wall and CPU seconds per task (the anatomy once, then proton, PET and
ultrasound, whose first run also compiles the jwave solver) and the machine's load, since a shared
machine's wall time is not a quiet one's.

    .venv/bin/python benchmarks/bench_tasks.py [--spacing 2] [--tasks proton,pet,ultrasound]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from cranial_sct.hounsfield import BONE_THRESHOLD_HU
from cranial_sct.phantom import simulate_subject
from cranial_sct.tasks.measure import TaskSettings, measure_tasks, parse_tasks, reference_anatomy


def timed(label: str, work):
    start, cpu = time.perf_counter(), time.process_time()
    result = work()
    print(f"{label:>10}: {time.perf_counter() - start:6.1f} s wall, {time.process_time() - cpu:6.1f} s CPU", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spacing", type=float, default=2.0)
    parser.add_argument("--tasks", default="proton,pet,ultrasound")
    args = parser.parse_args()
    subject = simulate_subject(0, [1.5], ["t1w"], args.spacing)
    ct = np.asarray(subject.ct.array, np.float64)
    sct = np.where(ct > BONE_THRESHOLD_HU, 0.9 * ct, ct) + np.random.default_rng(0).normal(0, 30, ct.shape)
    inside = np.asarray(subject.mask.array) > 0
    print(f"head {ct.shape} at {args.spacing:g} mm; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    start = time.perf_counter()
    anatomy = timed("anatomy", lambda: reference_anatomy(ct, inside, subject.ct.affine, subject.ct.spacing, BONE_THRESHOLD_HU,
                                                         np.asarray(subject.labels.array)))
    for task in parse_tasks(args.tasks):
        row = timed(task, lambda: measure_tasks(TaskSettings((task,)), ct, sct, subject.ct.spacing, anatomy))
        print("            " + ", ".join(f"{k} {v:.2f}" for k, v in row.items()))
    print(f"{'total':>10}: {time.perf_counter() - start:6.1f} s wall")


if __name__ == "__main__":
    main()
