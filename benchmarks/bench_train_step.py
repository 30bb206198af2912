"""Median seconds per training step (2 x 64^3 patches) and peak memory, per model.

    .venv/bin/python benchmarks/bench_train_step.py [--models resunet-cascade mamba-cascade ...] [--steps 5] [--threads N]
    .venv/bin/python benchmarks/bench_train_step.py --models resunet-cascade --compare-layouts   # NDHWC vs NCDHW
    .venv/bin/python benchmarks/bench_train_step.py --models resunet-cascade --competing         # one other busy process

Each model runs in its own subprocess so peak memory (ru_maxrss, or CUDA max_memory_allocated on a
GPU) is its own. A step is forward + losses + backward + AdamW on random MR with a realistic target
(one step of the real trainer's loss, minus data loading, which runs in worker processes).
Targets on the 2-core CPU: resunet cascade <= 0.8 s, mamba cascade <= 4 s; transformer reported.
``--compare-layouts`` alternates steps of the model as built (channels-last weights) and of a copy with
NCDHW weights, so a busy machine slows both alike; it reports both medians and their ratio.
``--competing`` times each model with every core to torch and with one core fewer (the trainer's
policy when a core is busy, ``cranial_sct.training.trainer.cpu_threads``), each alone and beside one
busy process (a pure-Python loop, as a second job on a shared machine would be).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import torch
from torch import nn

MODELS = {
    "resunet-cascade": {"kind": "cascade", "backbone": "resunet"},
    "mamba-cascade": {"kind": "cascade", "backbone": "mamba"},
    "transformer-cascade": {"kind": "cascade", "backbone": "transformer"},
    "resunet-direct": {"kind": "direct", "backbone": "resunet"},
}
PATCH, BATCH = 64, 2


def train_step(name: str, device: str, layout: torch.memory_format | None = None) -> tuple[Callable[[], None], nn.Module]:
    """Build the model, its optimiser and a fixed batch; return one training step and the model."""
    from cranial_sct.models.conditioning import encode_condition
    from cranial_sct.models.registry import ModelConfig, build_model
    from cranial_sct.training.config import LossConfig
    from cranial_sct.training.losses import SCTLoss

    torch.manual_seed(0)
    model = build_model(ModelConfig(contrasts=["t1w", "flair"], **MODELS[name])).to(device)
    if layout is not None:
        model = model.to(memory_format=layout)
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-4)
    criterion = SCTLoss(LossConfig())
    shape = (BATCH, 1, PATCH, PATCH, PATCH)
    ct = torch.rand(shape, device=device) * 2000 - 1000
    batch = {"ct": ct, "mask": torch.ones(shape, device=device), "classes": (ct > 0).long() + (ct > 300).long()}
    mr, cond = torch.rand(BATCH, 2, PATCH, PATCH, PATCH, device=device), torch.stack([encode_condition(1.5, ["t1w", "flair"])] * BATCH).to(device)

    def step() -> None:
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device == "cuda"):
            outputs = model(mr, cond)
        loss, _ = criterion(outputs, batch)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if device == "cuda":
            torch.cuda.synchronize()

    return step, model


def median_seconds(steps: dict[str, Callable[[], None]], count: int) -> dict[str, float]:
    """Median wall time per step of each variant, their steps interleaved; the first round warms up."""
    times: dict[str, list[float]] = {variant: [] for variant in steps}
    for _ in range(count + 1):
        for variant, step in steps.items():
            start = time.perf_counter()
            step()
            times[variant].append(time.perf_counter() - start)
    return {variant: statistics.median(seconds[1:]) for variant, seconds in times.items()}


def measure(name: str, steps: int, device: str, compare_layouts: bool) -> dict[str, float | str]:
    step, model = train_step(name, device)
    variants = {"median_s_per_step": step}
    if compare_layouts:
        variants["ncdhw_median_s_per_step"] = train_step(name, device, torch.contiguous_format)[0]
    medians = median_seconds(variants, steps)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {"model": name, "device": device, "threads": torch.get_num_threads(), **medians,
            "peak_memory_gib": peak, "parameters_m": sum(p.numel() for p in model.parameters()) / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["resunet-cascade", "mamba-cascade", "transformer-cascade"], choices=MODELS)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--compare-layouts", action="store_true", help="also time NCDHW weights, interleaved (peak memory then covers both)")
    parser.add_argument("--competing", action="store_true", help="time all cores and one core fewer, alone and beside a busy process")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: measure a single model in this process
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.one:
        print(json.dumps(measure(args.one, args.steps, args.device, args.compare_layouts)))
        return
    print(f"{'model':22s} {'device':6s} {'threads':>7s} {'s/step':>8s} {'peak GiB':>9s} {'params M':>9s}  {'other job':s}")
    cores = len(os.sched_getaffinity(0))
    runs = [(t, busy) for busy in (False, True) for t in (cores, max(1, cores - 1))] if args.competing else [(args.threads, False)]
    for name in args.models:
        for threads, busy in runs:
            other = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
            try:
                result = subprocess.run([sys.executable, __file__, "--one", name, "--steps", str(args.steps), "--device", args.device,
                                         "--threads", str(threads), *(["--compare-layouts"] if args.compare_layouts else [])],
                                        capture_output=True, text=True, check=True)
            finally:
                if other is not None:
                    other.kill()
                    other.wait()
            r = json.loads(result.stdout.strip().splitlines()[-1])
            print(f"{r['model']:22s} {r['device']:6s} {r['threads']:7d} {r['median_s_per_step']:8.3f} {r['peak_memory_gib']:9.2f} "
                  f"{r['parameters_m']:9.2f}  {'one busy process' if busy else '-'}", flush=True)
        if "ncdhw_median_s_per_step" in r:
            ncdhw = r["ncdhw_median_s_per_step"]
            print(f"{'  same, NCDHW weights':22s} {'':6s} {'':7s} {ncdhw:8.3f}   (channels-last is {ncdhw / r['median_s_per_step']:.2f}x faster)")


if __name__ == "__main__":
    main()
