"""Models on held-out heads of every anatomy source, at every field and contrast, region by region.

    .venv/bin/python benchmarks/bench_anatomy.py --checkpoint builtin [--checkpoint CK ...] --out OUT
        [--source procedural --source labels:PATH --source ct:PATH ...] [--heads 1] [--fields 0.064,1.5,3,7]
        [--contrasts t1w,t2w,flair] [--spacing 2] [--seed 99]

Each ``--source`` (``cranial-sct simulate --anatomy``; by default the procedural generator, the last BrainWeb and
the last SynthSeg head of ``../shared/anatomy`` and the whole-head real CT ``../shared/realdev/ct_unc_cthead``, none
of which the built-in model saw) gives ``--heads`` simulated heads (``OUT/cohorts/<n>``, reused when present). Every
checkpoint predicts every field and contrast of them as ``predict`` does (one contrast at a time), ``evaluate`` scores
them, and the script prints per source, field and contrast the head MAE and skull Dice of the whole skull, the vault
and the skull base with the face (``cranial_sct.evaluation.regions``), one column group per checkpoint, then writes
``OUT/anatomy.md`` (the same table) and ``OUT/anatomy.png`` (head MAE and base + face Dice against field strength,
a line per source and contrast). Real data stays outside the package.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cranial_sct.evaluation.evaluate import evaluate  # noqa: E402
from cranial_sct.phantom import simulate_cohort  # noqa: E402
from cranial_sct.phantom.sources import parse_anatomy  # noqa: E402
from cranial_sct.prediction import PredictOptions, predict_cohort  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DEFAULT_SOURCES = ("procedural", f"labels:{SHARED / 'anatomy/brainweb20/subject54_crisp_v.mnc.gz'}",
                   f"labels:{SHARED / 'anatomy/synthseg_v1/subject20_seg.nii.gz'}", f"ct:{SHARED / 'realdev/ct_unc_cthead/ct.nii.gz'}")
COLUMNS = (("mae", "head MAE", 1), ("dice", "Dice", 3), ("dice_vault", "vault", 3), ("dice_base", "base + face", 3))


def source_label(spec: str) -> str:
    source = parse_anatomy(spec)
    return source.kind if source.kind == "procedural" else source.head_name(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", action="append", required=True, help="repeat to compare models side by side")
    parser.add_argument("--source", action="append", help="an --anatomy source (repeatable); default: one of each kind")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--heads", type=int, default=1, help="simulated heads per source")
    parser.add_argument("--fields", default="0.064,1.5,3,7")
    parser.add_argument("--contrasts", default="t1w,t2w,flair")
    parser.add_argument("--spacing", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=99, help="a seed no shipped model was trained with")
    args = parser.parse_args()
    fields, contrasts = [float(f) for f in args.fields.split(",")], args.contrasts.split(",")
    results: dict[tuple[str, str, str, str], dict[str, float]] = {}  # (source, field, contrast, checkpoint) -> means
    for number, spec in enumerate(args.source or DEFAULT_SOURCES):
        cohort = args.out / "cohorts" / str(number)
        if not (cohort / "manifest.csv").is_file():
            simulate_cohort(cohort, args.heads, fields, contrasts, args.spacing, args.seed, overwrite=True, anatomy=spec)
        for index, checkpoint in enumerate(args.checkpoint):
            predictions = args.out / "predictions" / str(number)
            method = f"model{index}"
            predict_cohort([checkpoint], cohort, predictions, contrast_sets=[[c] for c in contrasts], method=method,
                           options=PredictOptions(), progress=False)
            rows, _ = evaluate(predictions / method, cohort, progress=False)
            groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
            for row in rows:
                groups[(row["field_T"], row["contrast"])].append(row)
            for (field_T, contrast), group in groups.items():
                results[(source_label(spec), field_T, contrast, checkpoint)] = {
                    key: float(np.nanmean([row[key] for row in group])) for key, _, _ in COLUMNS}
    table = markdown(results, args.checkpoint)
    print(table)
    (args.out / "anatomy.md").write_text(table)
    plot(results, args.checkpoint, args.out / "anatomy.png")
    print(f"plot: {args.out / 'anatomy.png'}")


def markdown(results: dict[tuple[str, str, str, str], dict[str, float]], checkpoints: list[str]) -> str:
    """One row per source, field and contrast; per checkpoint its head MAE and whole / vault / base + face Dice."""
    header = "| source | field (T) | contrast | " + " | ".join(f"{title} ({k})" for k in range(len(checkpoints)) for _, title, _ in COLUMNS) + " |"
    lines = ["models: " + ", ".join(f"({k}) {c}" for k, c in enumerate(checkpoints)), "", header, "|---" * (3 + len(checkpoints) * len(COLUMNS)) + "|"]
    for source, field_T, contrast in sorted({key[:3] for key in results}, key=lambda k: (k[0], float(k[1]), k[2])):
        cells = [f"{results[(source, field_T, contrast, c)][key]:.{digits}f}" for c in checkpoints for key, _, digits in COLUMNS]
        lines.append(f"| {source} | {field_T} | {contrast} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plot(results: dict[tuple[str, str, str, str], dict[str, float]], checkpoints: list[str], path: Path) -> None:
    """Head MAE and base + face Dice against field strength (log axis): a line per source and contrast, a column of
    panels per checkpoint."""
    figure, axes = plt.subplots(2, len(checkpoints), figsize=(6 * len(checkpoints), 8), squeeze=False, sharey="row")
    for column, checkpoint in enumerate(checkpoints):
        for source, contrast in sorted({(key[0], key[2]) for key in results}):
            keys = sorted((key for key in results if key[0] == source and key[2] == contrast and key[3] == checkpoint), key=lambda k: float(k[1]))
            tesla = [float(key[1]) for key in keys]
            for row, metric in enumerate(("mae", "dice_base")):
                axes[row, column].plot(tesla, [results[key][metric] for key in keys], marker="o", label=f"{source}, {contrast}")
        for row, title in enumerate(("head MAE (HU)", "skull Dice, base + face")):
            axes[row, column].set_xscale("log")
            axes[row, column].set_xlabel("field strength (T)")
            axes[row, column].set_ylabel(title)
        axes[0, column].set_title(f"({column}) {'/'.join(Path(checkpoint).parts[-3:])}")  # runs/NAME/checkpoints/last.pt: the run's name
    axes[0, -1].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


if __name__ == "__main__":
    main()
