"""Accuracy effects of the network-input plan's choices, measured on validation subjects of a phantom cohort.

    .venv/bin/python benchmarks/bench_plan_choices.py --checkpoint RUN/checkpoints/last.pt --cohort COHORT \
        --subjects sub-008 sub-009 sub-010 sub-011 [--fields 1.5 3 7 0.064] [--fine-spacing 1]

Prints three tables (mean over the subjects; head MAE and bone MAE in HU inside the reference head
mask, skull Dice against CT bone > 300 HU):

1. Field strength through FiLM: the header's value vs "unknown", per test field (the checkpoint was
   trained at one field only).
2. Test-time augmentation (left-right mirroring, the axes seen in training) vs one pass; with TTA the
   Spearman rank correlation between the uncertainty map and the absolute error.
3. A finer scan: subject 1 of ``--subjects`` simulated at ``--fine-spacing`` mm, predicted through the plan
   (resampled to the model's spacing) vs run at the input's own voxel size (what ``predict`` did
   before the plan), and the skull Dice between the fine-scan prediction and the prediction of the
   same subject simulated at the model's spacing, on the fine grid.

Use validation subjects (never the test subjects) for these choices. The checkpoint must be a
single-contrast T1w model for table 3.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from cranial_sct.evaluation.evaluate import find_reference
from cranial_sct.evaluation.metrics import dice, mae, uncertainty_error_spearman
from cranial_sct.hounsfield import BONE_THRESHOLD_HU
from cranial_sct.inference import load_models, predict_volume
from cranial_sct.io import read_volume
from cranial_sct.io.names import mr_filename
from cranial_sct.phantom.cohort import subject_seed
from cranial_sct.phantom.subject import simulate_subject
from cranial_sct.prediction import parse_field
from cranial_sct.preprocess.geometry import grid_of, resample


def scores(prediction, ct: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    sct = np.asarray(prediction.sct.array, np.float64)
    bone = (ct > BONE_THRESHOLD_HU) & mask
    skull = (np.asarray(prediction.skull.array) > 0) & mask
    return {"mae": mae(ct, sct, mask), "bone_mae": mae(ct, sct, bone), "dice": dice(skull, bone)}


def mean_row(rows: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.mean(r[key] for r in rows) for key in rows[0]}


def show(label: str, row: dict[str, float]) -> None:
    print(f"  {label:<34} " + "  ".join(f"{k} {v:8.3f}" if k in ("dice", "rho") else f"{k} {v:7.1f}" for k, v in row.items()), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--cohort", type=Path, required=True)
    parser.add_argument("--subjects", nargs="+", required=True)
    parser.add_argument("--fields", nargs="+", default=["1.5", "3", "7", "0.064"])
    parser.add_argument("--fine-spacing", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0, help="the cohort's simulation seed (table 3 re-simulates subject 1)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    models, info = load_models([args.checkpoint])
    print(f"checkpoint {args.checkpoint}: plan spacing {info.plan.spacing_mm} mm, trained on {info.fields_seen} T, "
          f"contrasts {info.contrasts}, mirrored axes {info.mirror_axes}")
    contrast = info.contrasts[0]

    print("1. field strength through FiLM (mean over subjects)")
    tta_rows: dict[str, list[dict[str, float]]] = {"one pass": [], "tta": []}
    for field_T in args.fields:
        rows: dict[str, list[dict[str, float]]] = {"header field": [], "unknown": []}
        for subject in args.subjects:
            files = find_reference(args.cohort, subject)
            ct, mask = read_volume(files.ct).array.astype(np.float64), read_volume(files.mask).array > 0
            mr = {contrast: read_volume(files.mr[(field_T, contrast)])}
            known = scores(predict_volume(models, info, mr, parse_field(field_T)), ct, mask)
            rows["header field"].append(known)
            rows["unknown"].append(scores(predict_volume(models, info, mr, None), ct, mask))
            mirrored = predict_volume(models, info, mr, parse_field(field_T), tta=True)
            tta_rows["one pass"].append(known)
            tta_rows["tta"].append({**scores(mirrored, ct, mask), "rho": uncertainty_error_spearman(ct, mirrored.sct.array, mirrored.uncertainty.array, mask)})
        for label, found in rows.items():
            show(f"{field_T} T, {label}", mean_row(found))

    print("2. test-time augmentation (all fields and subjects)")
    for label, found in tta_rows.items():
        show(label, mean_row(found))

    print(f"3. a {args.fine_spacing:g}-mm scan of {args.subjects[0]} at 1.5 T")
    index = int(args.subjects[0].removeprefix("sub-"))
    seed = subject_seed(args.seed, index)
    fine = simulate_subject(seed, [1.5], [contrast], args.fine_spacing, args.subjects[0])
    ct, mask = fine.ct.array.astype(np.float64), fine.mask.array > 0
    mr = {contrast: fine.mr[(1.5, contrast)]}
    as_is = dataclasses.replace(info, plan=dataclasses.replace(info.plan, spacing_mm=[args.fine_spacing] * 3))
    for label, used in (("through the plan", info), ("at the input's voxel size (before)", as_is)):
        start = time.perf_counter()
        prediction = predict_volume(models, used, mr, 1.5)
        show(f"{label} [{time.perf_counter() - start:.0f} s]", scores(prediction, ct, mask))
        if used is info:
            planned = prediction
    at_model = read_volume(args.cohort / args.subjects[0] / mr_filename(1.5, contrast))
    coarse = predict_volume(models, info, {contrast: at_model}, 1.5)
    coarse_skull = resample(coarse.skull, grid_of(fine.ct), "nearest")[0].array > 0
    print(f"  skull Dice, fine-scan vs model-spacing prediction on the fine grid: {dice(planned.skull.array > 0, coarse_skull):.3f}")


if __name__ == "__main__":
    main()
