"""Where a model puts the vault's band on phantom heads whose scalp layers differ: one line per head.

    .venv/bin/python benchmarks/bench_scalp_band.py --checkpoint builtin [--checkpoint CK ...] [--heads 8] [--seed 500] [--field 1.5] [--out runs/scalp-band]

Simulates ``--heads`` procedural heads (T1w at ``--field`` tesla, 2 mm), predicts them with each checkpoint and prints, per head,
the drawn scalp fat and galea (mm), and per checkpoint the vault band's median depth under the skin less the true
one (mm; negative: the band sits too far out) and the vault's skull Dice. The vault is the upper 45 % of the true
skull's height (``cranial_sct.evaluation.regions``), bone within 30 mm of the skin (not the falx). A model that
places the outer table by how far under the fat it lies, not by the MR, calls a thick galea bone (issue 21).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy import ndimage

from cranial_sct.evaluation.metrics import dice
from cranial_sct.evaluation.regions import head_regions
from cranial_sct.hounsfield import BONE_THRESHOLD_HU
from cranial_sct.io import read_volume
from cranial_sct.io.names import case_tag, tagged_filename
from cranial_sct.phantom import simulate_cohort
from cranial_sct.prediction import PredictOptions, predict_cohort

ROOT = Path(__file__).resolve().parents[1]
SKIN_DEPTH_MM = 30.0  # vault bone deeper than this under the skin is the falx or the tentorium, not the band


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", action="append", required=True)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--seed", type=int, default=500)
    parser.add_argument("--field", type=float, default=1.5, help="tesla")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "scalp-band")
    args = parser.parse_args()
    cohort = args.out / "cohort"
    simulate_cohort(cohort, args.heads, [args.field], ["t1w"], 2.0, args.seed)
    shapes = json.loads((cohort / "tissues.json").read_text())["subjects"]
    methods = [predict_cohort([checkpoint], cohort, args.out / f"model{index}", contrast_sets=[["t1w"]],
                              options=PredictOptions(overwrite=True), progress=False)
               for index, checkpoint in enumerate(args.checkpoint)]
    print("models: " + ", ".join(f"({index}) {checkpoint}" for index, checkpoint in enumerate(args.checkpoint)))
    print(f"{'head':<8} {'fat mm':>6} {'galea mm':>8}" + "".join(f" {f'({i}) depth err mm':>17} {f'({i}) vault Dice':>15}" for i in range(len(methods))))
    for subject, record in sorted(shapes.items()):
        ct = read_volume(cohort / subject / "ct.nii.gz")
        head = np.asarray(read_volume(cohort / subject / "mask.nii.gz").array) > 0
        bone = head & (np.asarray(ct.array) > BONE_THRESHOLD_HU)
        depth = ndimage.distance_transform_edt(np.pad(head, 1), sampling=ct.spacing)[1:-1, 1:-1, 1:-1]
        vault = head_regions(bone, ct.affine)["vault"] & (depth < SKIN_DEPTH_MM)
        true_depth = float(np.median(depth[bone & vault]))
        line = f"{subject:<8} {record['shape']['scalp_fat_mm']:>6.1f} {record['shape']['galea_mm']:>8.1f}"
        for method in methods:
            skull = np.asarray(read_volume(method / subject / tagged_filename("skull", case_tag(args.field, "t1w"))).array) > 0
            line += f" {float(np.median(depth[skull & vault])) - true_depth:>17.1f} {dice(skull & vault, bone & vault):>15.3f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
