"""Speed and memory of the phantom simulator, as ``cranial-sct simulate`` runs it.

Per subject: simulate (anatomy, CT, every field x contrast) and write its NIfTI files. Prints the
median over subjects, the peak resident memory, and the machine's load so shared-machine figures
can be told apart from quiet ones, and the CPU seconds, which do not depend on the load.

    .venv/bin/python benchmarks/bench_simulate.py --subjects 5 --spacing 1.5
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import tempfile
import time
from pathlib import Path

from cranial_sct.phantom import simulate_subject
from cranial_sct.phantom.cohort import subject_seed, write_subject


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", type=int, default=5)
    parser.add_argument("--spacing", type=float, default=1.5)
    parser.add_argument("--fields", default="0.064,1.5,3,7")
    parser.add_argument("--contrasts", default="t1w,t2w,flair")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    fields = [float(f) for f in args.fields.split(",")]
    contrasts = args.contrasts.split(",")
    load_before = os.getloadavg()[0]
    simulate_s, total_s, cpu_s = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.subjects):
            start, cpu_start = time.perf_counter(), time.process_time()
            subject = simulate_subject(subject_seed(args.seed, index), fields, contrasts, args.spacing,
                                       f"sub-{index:03d}")
            simulated = time.perf_counter()
            write_subject(subject, Path(tmp))
            simulate_s.append(simulated - start)
            total_s.append(time.perf_counter() - start)
            cpu_s.append(time.process_time() - cpu_start)
            del subject
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"subjects={args.subjects} spacing={args.spacing} mm fields={args.fields} contrasts={args.contrasts}")
    print(f"cpus={os.cpu_count()} load_1min before={load_before:.2f} after={os.getloadavg()[0]:.2f}")
    print(f"simulate median {statistics.median(simulate_s):.2f} s/subject (min {min(simulate_s):.2f})")
    print(f"simulate+write median {statistics.median(total_s):.2f} s/subject (min {min(total_s):.2f}, "
          f"max {max(total_s):.2f})")
    print(f"CPU time (all threads) median {statistics.median(cpu_s):.2f} s/subject: the load-independent cost")
    print(f"peak RSS {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
