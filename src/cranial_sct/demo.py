"""``cranial-sct demo`` (``make demo``): the main job as a new user meets it, then the method's evidence.

1. One phantom head simulated at 1 mm, 1.5 T T1w (``OUT/head``, the phantom layout with its true CT).
2. The built-in model predicts it from the MR alone, through the function behind ``cranial-sct predict``
   (``OUT/head-sct``).
3. ``OUT/index.html``: MR, CT, sCT, error map and skull overlay of that head, with its metrics, and a link
   to the benchmark's report.
4. The ``quick`` cross-field benchmark (``OUT/benchmark``): train at 1.5 T, test at every field.

Every step reuses what a previous run finished, so a rerun is fast and a stopped run continues.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import numpy as np

from cranial_sct.benchmark import load_benchmark_config, run_benchmark
from cranial_sct.evaluation.figures import PanelCase, case_panels
from cranial_sct.evaluation.metrics import CaseMetrics, reference_bone
from cranial_sct.evaluation.report import HEADLINE_TITLE, embed_png, headline, html_page, read_evaluation
from cranial_sct.hounsfield import BONE_THRESHOLD_HU
from cranial_sct.io import read_volume
from cranial_sct.io.atomic import atomic_path
from cranial_sct.io.manifest import MANIFEST_NAME
from cranial_sct.training.checkpoint import BUILTIN

DEMO_SEED = 2026  # a head the built-in model never saw (its cohort used seed 1)
DEMO_FIELD_T = 1.5
DEMO_SPACING_MM = 1.0  # a typical clinical T1w; the built-in model's plan resamples it to 2 mm and back
PAGE = "index.html"
HEAD_METRICS = {"mae": "head MAE (HU)", "mae_bone": "bone MAE (HU)", "mae_soft": "soft-tissue MAE (HU)", "dice": "skull Dice",
                "dice_vault": "skull Dice, vault", "dice_base": "skull Dice, skull base + face", "hd95_mm": "skull HD95 (mm)", "ssim": "SSIM"}
FRACTIONS = {"dice", "dice_vault", "dice_base", "ssim"}  # shown with three decimals


def simulate_head(out: Path, spacing_mm: float) -> Path:
    """The demo head in the phantom layout (reused when already there); returns its folder."""
    from cranial_sct.phantom import simulate_cohort

    if not (out / MANIFEST_NAME).is_file():
        simulate_cohort(out, 1, [DEMO_FIELD_T], ["t1w"], spacing_mm, DEMO_SEED, overwrite=True)
    return out / "sub-000"


def predict_head(head: Path, out: Path) -> Path:
    """``cranial-sct predict --mr HEAD/mr_1.5T_t1w.nii.gz --out OUT`` with the built-in model (reused when done)."""
    from cranial_sct.prediction import predict_files

    if not (out / "sct.json").is_file():  # predict writes its sidecar last: a stopped prediction is redone
        predict_files([BUILTIN], {"t1w": head / f"mr_{DEMO_FIELD_T:g}T_t1w.nii.gz"}, out, field_T=DEMO_FIELD_T)
    return out


def head_section(head: Path, predicted: Path) -> str:
    """The head's panel row and metrics as HTML."""
    ct, sct, mr = (read_volume(p) for p in (head / "ct.nii.gz", predicted / "sct.nii.gz", head / f"mr_{DEMO_FIELD_T:g}T_t1w.nii.gz"))
    mask = np.asarray(read_volume(head / "mask.nii.gz").array) > 0
    skull = (np.asarray(read_volume(predicted / "skull.nii.gz").array) > 0) & mask
    row = CaseMetrics()(ct.array.astype(np.float64), sct.array.astype(np.float64), mask, skull, ct.affine)
    caption = f"{ct.spacing[0]:g}-mm phantom head, {DEMO_FIELD_T:g} T T1w\nMAE {row['mae']:.1f} HU, Dice {row['dice']:.3f}"
    panel = case_panels([PanelCase(caption, ct, sct, mask, skull, reference_bone(ct.array, mask, BONE_THRESHOLD_HU), mr)])
    cells = "".join(f"<tr><td class='key'>{html.escape(label)}</td><td>{row[key]:.{3 if key in FRACTIONS else 1}f}</td></tr>"
                    for key, label in HEAD_METRICS.items())
    return (
        "<h2>Your first sCT: one head, predicted from its MR alone</h2>"
        f'<p class="note">A phantom head simulated at {ct.spacing[0]:g} mm (seed {DEMO_SEED}, never seen in training), '
        "predicted by the built-in model exactly as <code>cranial-sct predict --mr MR.nii.gz --out DIR</code> does, "
        f"and compared with the head's true CT. Files: <code>{html.escape(str(head))}</code> (MR, CT, mask), "
        f"<code>{html.escape(str(predicted))}</code> (sCT, skull, bone probability and the <code>sct.json</code> record).</p>"
        f"{embed_png(panel, 'MR, CT, sCT, error and skull overlay of the demo head')}"
        f"<table><thead><tr><th class='key'>metric (inside the head)</th><th>value</th></tr></thead><tbody>{cells}</tbody></table>"
    )


def write_page(out: Path, head_html: str, report: Path | None) -> Path:
    """``OUT/index.html``: the head, then the cross-field benchmark's headline and a link to its report."""
    if report is None:
        evidence = '<p class="note">The cross-field benchmark is running; its report will be linked here.</p>'
    else:
        link = os.path.relpath(report, out)
        rows, summary = read_evaluation(report.parent / "evaluation")
        evidence = (f'<p class="note">The quick benchmark trained the cascade, the direct network and bulk density at 1.5 T on '
                    f'4-mm phantom heads and tested them at 0.064, 1.5, 3 and 7 T. Its whole report: <a href="{html.escape(link)}">'
                    f"{html.escape(link)}</a>.</p>{headline(rows, summary)}")
    body = f"<h1>cranial-sct demo</h1>{head_html}<h2>{html.escape(HEADLINE_TITLE)}</h2>{evidence}"
    with atomic_path(out / PAGE) as tmp:
        tmp.write_text(html_page("cranial-sct demo", body), encoding="utf-8")
    return out / PAGE


def run_demo(out: str | os.PathLike[str], benchmark: bool = True, spacing_mm: float = DEMO_SPACING_MM) -> Path:
    """Run every step into ``out``; return the page's path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    head = simulate_head(out / "head", spacing_mm)
    head_html = head_section(head, predict_head(head, out / "head-sct"))
    page = write_page(out, head_html, None)
    if benchmark:
        page = write_page(out, head_html, run_benchmark(load_benchmark_config("quick"), out / "benchmark"))
    return page
