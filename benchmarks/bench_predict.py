"""Speed and peak memory of ``predict`` on a 1-mm head (issue 5 targets), printed as a table.

    .venv/bin/python benchmarks/bench_predict.py [--repeats 3] [--backbones builtin resunet mamba transformer] [--device cpu]
                                                 [--plan-spacing 2] [--keep-bone-islands] [--keep-air-pockets]

Targets: the ``resunet`` cascade predicts a 1-mm head (180 x 220 x 190 voxels, the analytic test
head of tests/heads.py) in at most 30 s on the 2-core CPU without TTA, peak memory at most 3 GB; the
built-in model (``builtin``: the shipped weights and their own 2-mm plan, T1w given) in at most 20 s;
``mamba`` and ``transformer`` cascades are reported alongside. Architectures come from
configs/cascade_resunet.yaml, cascade_mamba.yaml and direct_transformer.yaml (run as a cascade).
The model's input plan has ``--plan-spacing`` mm voxels (default 2: a model trained on the 2-mm
phantom), so the timed run includes resampling the 1-mm head to it and every output back.
Apart from ``builtin`` the weights are UNTRAINED (random initialisation): run time and memory do not depend on
the weight values, and this keeps the benchmark free of a training run. Timed: ``predict_volume`` (head mask,
normalisation, sliding window with Gaussian blending, mapping back, the deep-bone-island rule unless
``--keep-bone-islands``, the brain-air-pocket rule unless ``--keep-air-pockets``), not file reading or writing.
Each run is a fresh process, so the peak resident memory (VmHWM) is that run's alone; it includes
the interpreter and imports (about 0.4 GB). Report the machine's load next to the figures.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.heads

from tests.heads import grid, head_arrays  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# Architecture per backbone from the shipped run configs (window = their training patch size), as a cascade.
BACKBONES = {
    "resunet": ROOT / "configs" / "cascade_resunet.yaml",
    "mamba": ROOT / "configs" / "cascade_mamba.yaml",
    "transformer": ROOT / "configs" / "direct_transformer.yaml",
}
TARGET_S, TARGET_MIB = 30, 3072
TARGET_BUILTIN_S = 20


def _peak_rss_mib() -> float:
    status = Path("/proc/self/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))) / 1024


def _predict_once(backbone: str, device: str, plan_spacing: float, keep_bone_islands: bool,
                  keep_air_pockets: bool) -> tuple[float, float, tuple[int, ...]]:
    """In a fresh process: build the untrained cascade, predict the 1-mm head; (seconds, peak MiB, shape)."""
    import torch

    from cranial_sct.inference import load_models, predict_volume
    from cranial_sct.io.volume import Volume
    from cranial_sct.models.registry import build_model
    from cranial_sct.preprocess.plan import InputPlan
    from cranial_sct.training.checkpoint import BUILTIN, CheckpointInfo
    from cranial_sct.training.config import load_config

    torch.manual_seed(0)
    if backbone == "builtin":
        model, info = load_models([BUILTIN])
    else:
        config = load_config(BACKBONES[backbone], ["model.kind=cascade", "model.contrasts=[t1w]"])
        plan = InputPlan(spacing_mm=[plan_spacing] * 3)
        info = CheckpointInfo(config, plan, ["t1w"], ["1.5"], ["t1w"], [0], config.sampling.patch_size, 0, "untrained")
        model = build_model(config.model).eval()
    shape, affine = grid(1.0)
    mr, _ = head_arrays(shape, affine)
    start = time.perf_counter()
    predict_volume(model, info, {"t1w": Volume(mr, affine)}, 1.5, device=device, keep_bone_islands=keep_bone_islands,
                   keep_air_pockets=keep_air_pockets)
    return time.perf_counter() - start, _peak_rss_mib(), shape


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backbones", nargs="+", default=["builtin", *BACKBONES], choices=["builtin", *BACKBONES])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--plan-spacing", type=float, default=2.0, help="the model's network voxel size in mm")
    parser.add_argument("--keep-bone-islands", action="store_true", help="skip the deep-bone-island rule (predict --keep-bone-islands)")
    parser.add_argument("--keep-air-pockets", action="store_true", help="skip the brain-air-pocket rule (predict --keep-air-pockets)")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} before the runs; device {args.device}; untrained weights except builtin; plan spacing {args.plan_spacing:g} mm (builtin: its own plan)")
    print(f"{'cascade':<18} {'shape':<16} {'median s':>9} {'min s':>7} {'max s':>7} {'peak MiB':>9} {'targets':>14}")
    context = multiprocessing.get_context("spawn")
    for backbone in args.backbones:
        runs = []
        for _ in range(args.repeats):
            with context.Pool(1) as pool:
                runs.append(pool.apply(_predict_once, (backbone, args.device, args.plan_spacing, args.keep_bone_islands, args.keep_air_pockets)))
        times = [seconds for seconds, _, _ in runs]
        peak = max(mib for _, mib, _ in runs)
        shape = "x".join(map(str, runs[0][2]))
        targets = {"resunet": f"<={TARGET_S}s <={TARGET_MIB}MiB", "builtin": f"<={TARGET_BUILTIN_S}s"}.get(backbone, "reported")
        print(f"{backbone:<18} {shape:<16} {statistics.median(times):>9.1f} {min(times):>7.1f} {max(times):>7.1f} {peak:>9.0f} {targets:>14}", flush=True)
    print(f"load average after the runs: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
