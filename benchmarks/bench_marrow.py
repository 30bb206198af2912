"""How far a checkpoint leans on the phantom's bright diploe: skull found per bone layer, diploe as simulated vs darkened.

    .venv/bin/python benchmarks/bench_marrow.py --checkpoint CK [--checkpoint CK2 ...] --data COHORT \
        [--subjects sub-000 ...] [--fields 1.5 ...] [--out runs/bench_marrow]

The phantom's diploe is fatty marrow, bright on T1w between two dark tables; in many real T1w scans the
vault is one dark band (red marrow, or a thin vault). For every subject and field strength the T1w MR is
predicted twice, as simulated and with every voxel labelled diploe (``labels.nii.gz``) set to the median
of the outer and inner tables, and the script prints skull Dice against the phantom's bone labels and the
share of each layer (outer table, diploe, inner table) that the predicted skull covers. A model that reads
the dark band's inner side as CSF loses the inner table. Use subjects no model trained on.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from cranial_sct.evaluation.metrics import dice
from cranial_sct.io import read_volume, write_volume
from cranial_sct.phantom.tissues import BONE_TISSUES, Tissue
from cranial_sct.prediction import PredictOptions, cohort_cases, parse_field, predict_files

ROOT = Path(__file__).resolve().parents[1]
LAYERS = (Tissue.OUTER_TABLE, Tissue.DIPLOE, Tissue.INNER_TABLE)


def darken_diploe(mr: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """The MR with the diploe at the tables' median signal (red marrow on T1w)."""
    tables = np.isin(labels, (Tissue.OUTER_TABLE, Tissue.INNER_TABLE))
    out = mr.astype(np.float32).copy()
    out[labels == Tissue.DIPLOE] = np.median(mr[tables])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", action="append", required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--subjects", nargs="*", default=[])
    parser.add_argument("--fields", nargs="*", default=[])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "bench_marrow")
    args = parser.parse_args()
    print(f"{'checkpoint':<44} {'case':<16} {'diploe':<9} {'Dice':>6} " + " ".join(f"{t.name.lower():>12}" for t in LAYERS))
    for case in cohort_cases(args.data, [["t1w"]], args.fields, args.subjects):
        labels = np.asarray(read_volume(args.data / case.subject / "labels.nii.gz").array)
        bone = np.isin(labels, BONE_TISSUES)
        mr = read_volume(case.mr["t1w"])
        inputs = {"simulated": case.mr["t1w"], "darkened": args.out / case.subject / f"{case.tag}_dark_diploe.nii.gz"}
        inputs["darkened"].parent.mkdir(parents=True, exist_ok=True)
        write_volume(mr.with_array(darken_diploe(mr.array, labels)), inputs["darkened"])
        for checkpoint in args.checkpoint:
            for variant, path in inputs.items():
                out = args.out / case.subject / f"{case.tag}_{variant}_{Path(checkpoint).parent.parent.name or Path(checkpoint).stem}"
                predict_files([checkpoint], {"t1w": path}, out, parse_field(case.field_T), options=PredictOptions(overwrite=True))
                skull = np.asarray(read_volume(out / "skull.nii.gz").array) > 0
                covered = " ".join(f"{skull[labels == t].mean():>12.3f}" for t in LAYERS)
                print(f"{checkpoint[-44:]:<44} {case.subject + ' ' + case.field_T + 'T':<16} {variant:<9} {dice(skull, bone):>6.3f} {covered}",
                      flush=True)


if __name__ == "__main__":
    main()
