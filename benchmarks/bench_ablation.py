"""The cascade's method ablation (issue 9): one change at a time, side by side, over seeds, on validation subjects.

    .venv/bin/python benchmarks/bench_ablation.py --out ABL [--arms cascade-base direct-base cascade-heads ...] [--seeds 0 1]

Every arm trains with the ``standard`` benchmark preset's settings (T1w input, 1.5 T only, 10 training
subjects, 2-mm phantom, 48^3 patches, its step count), changed by the arm's overrides only, once per seed.
The subjects are a validation cohort simulated with seed 1 (``ABL/cohort``, 14 subjects, all four
fields): the standard preset tests on a cohort of seed 0, so no test subject steers a choice. Each run
predicts the 4 validation subjects at every field; ``evaluate`` scores them; the table is the
benchmark's own (:func:`cranial_sct.benchmark.accuracy_table`): mean ± sd over seeds per field and arm,
then ``cascade-base`` against ``direct-base`` paired over subjects. Then where the bone error sits: the
reference bone voxels (CT > 300 HU) split into those the predicted skull finds and those it misses,
with the mean absolute and signed error on each (pooled over the validation subjects).

Resumable: finished runs, predictions and scored cases are reused, so rerunning with more arms or seeds
adds only what is new. Training one arm takes 6-10 minutes on the 2-core CPU.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nibabel as nib
import numpy as np

from cranial_sct.benchmark import accuracy_table, base_training_config, load_benchmark_config, training_job
from cranial_sct.evaluation.evaluate import evaluate
from cranial_sct.hounsfield import BONE_THRESHOLD_HU
from cranial_sct.io.manifest import MANIFEST_NAME
from cranial_sct.io.names import case_tag, tagged_filename
from cranial_sct.phantom import simulate_cohort
from cranial_sct.prediction import predict_cohort
from cranial_sct.training.config import TrainConfig, apply_override, from_dict, to_dict
from cranial_sct.training.trainer import train

# arm name -> (method, training-config overrides); each changes one thing against cascade-base, the cascade
# as it was before this ablation (no bone-surface weighting; the kept change, now the default, is undone)
BEFORE = ["loss.boundary_weight=0.0"]
ARMS: dict[str, tuple[str, list[str]]] = {
    "cascade-base": ("cascade", BEFORE),
    "direct-base": ("direct", []),
    "cascade-heads": ("cascade", [*BEFORE, "loss.head_l1=1.0"]),  # each HU head also scored on its own tissue
    "cascade-ema": ("cascade", [*BEFORE, "train.ema_decay=0.99"]),  # predict with the weights' moving average
    "cascade-staged": ("cascade", [*BEFORE, "train.cascade_training=staged", "train.stage1_steps=400"]),  # stage 1 first, then frozen
    "cascade-bone6": ("cascade", [*BEFORE, "loss.bone_extra_weight=6.0"]),  # bone voxels weigh 7 instead of 3 in the L1
    "cascade-augment": ("cascade", [*BEFORE, "augment.artefact_probability=0.4", "augment.tissue_remap_probability=0.9"]),  # more often
    "cascade-boundary": ("cascade", ["loss.boundary_weight=4.0"]),  # stage-1 cross-entropy x5 on the bone surface (kept)
}
COHORT_SEED, SUBJECTS, TRAIN, FIELDS = 1, 14, 10, [1.5, 3.0, 7.0, 0.064]


def arm_config(arm: str, seed: int, cohort: Path, run_dir: Path) -> TrainConfig:
    preset = load_benchmark_config("standard")
    method, overrides = ARMS[arm]
    subjects = [f"sub-{i:03d}" for i in range(TRAIN)]
    job = training_job(base_training_config(preset, cohort), method, "resunet", "t1w", preset.steps, preset.train_field, subjects, seed)
    values = to_dict(job)
    for assignment in [*overrides, f"run_dir={run_dir}"]:
        apply_override(values, assignment)
    return from_dict(TrainConfig, values, arm)


def bone_errors(pred: Path, cohort: Path, methods: list[str], subjects: list[str], fields: list[float]) -> str:
    """Markdown: per method and field, the reference bone found / missed by the predicted skull and the error on each."""
    lines = ["| method | field (T) | bone found | error there (HU) | bias there | bone missed | error there (HU) | bias there |",
             "|---|---|---|---|---|---|---|---|"]
    references = {s: (nib.load(cohort / s / "ct.nii.gz").get_fdata(), nib.load(cohort / s / "mask.nii.gz").get_fdata() > 0) for s in subjects}
    for method in methods:
        for field_T in fields:
            found, missed = [], []
            for subject, (ct, mask) in references.items():
                tag = case_tag(field_T, "t1w")
                sct = nib.load(pred / method / subject / tagged_filename("sct", tag)).get_fdata()
                skull = nib.load(pred / method / subject / tagged_filename("skull", tag)).get_fdata() > 0
                bone = (ct > BONE_THRESHOLD_HU) & mask
                found.append((sct - ct)[bone & skull])
                missed.append((sct - ct)[bone & ~skull])
            hit, miss = np.concatenate(found), np.concatenate(missed)
            share = hit.size / (hit.size + miss.size)
            lines.append(f"| {method} | {field_T:g} | {share:.1%} | {np.abs(hit).mean():.0f} | {hit.mean():+.0f} | {1 - share:.1%} | "
                         f"{np.abs(miss).mean():.0f} | {miss.mean():+.0f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    args = parser.parse_args()
    cohort = args.out / "cohort"
    if not (cohort / MANIFEST_NAME).is_file():
        simulate_cohort(cohort, SUBJECTS, FIELDS, ["t1w"], 2.0, COHORT_SEED, overwrite=True)
    validation = [f"sub-{i:03d}" for i in range(TRAIN, SUBJECTS)]
    for arm in args.arms:
        for seed in args.seeds:
            run_dir = args.out / "runs" / f"{arm}-seed{seed}"
            if not (run_dir / "done").is_file():
                last = run_dir / "checkpoints" / "last.pt"
                train(arm_config(arm, seed, cohort, run_dir), resume=last.is_file())
                (run_dir / "done").write_text("finished\n")
            predict_cohort([str(run_dir / "checkpoints" / "last.pt")], cohort, args.out / "pred", contrast_sets=[["t1w"]],
                           subjects=validation, method=f"{arm}-seed{seed}", progress=False)
    rows, _ = evaluate(args.out / "pred", cohort, out_dir=args.out / "evaluation", progress=False)
    wanted = {f"{arm}-seed{seed}" for arm in args.arms for seed in args.seeds}
    print(accuracy_table([row for row in rows if row["method"] in wanted], "t1w", "1.5"))
    print(bone_errors(args.out / "pred", cohort, sorted(wanted), validation, FIELDS))


if __name__ == "__main__":
    main()
