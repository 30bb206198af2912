"""``cranial-sct evaluate``: sCT metrics per case, per field strength, per region; paired tests."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cranial_sct.cli.app import app
from cranial_sct.hounsfield import BONE_THRESHOLD_HU

HEADLINE_TASK_METRICS = ("proton_wepl_p95_mm", "pet_acf_error_mean_pct", "us_deep_pressure_diff_pct")


@app.command("evaluate")
def evaluate_command(
    pred: Path = typer.Option(..., "--pred", help="Predictions: PRED/<method>/<subject>/sct_<field>T_<contrast>.nii.gz (+ skull_...), or PRED/<subject>/... for one method."),
    ref: Path = typer.Option(..., "--ref", help="Reference data: REF/<subject>/ct.nii.gz + mask.nii.gz (phantom or preprocessed layout)."),
    preset: str = typer.Option("synthrad2023", "--preset", help="Metric protocol: synthrad2023 (SSIM) or synthrad2025 (MS-SSIM)."),
    out: Path = typer.Option(Path("evaluation"), "--out", help="Folder for metrics.csv and summary.json."),
    bone_threshold: float = typer.Option(BONE_THRESHOLD_HU, "--bone-threshold", help="CT bone = HU above this inside the head mask."),
    mu_map: bool = typer.Option(False, "--mu-map", help="Also report the 511 keV attenuation-map relative error."),
    kvp: int = typer.Option(120, "--kvp", help="CT tube voltage for the HU -> mu conversion (with --mu-map and --task pet)."),
    task: str = typer.Option("", "--task", help="Clinical task figures, comma-separated: proton, pet, ultrasound (docs/guide/tasks.md)."),
    rsp_table: Optional[Path] = typer.Option(None, "--rsp-table", help="CSV 'hu,rsp' stopping-power calibration for --task proton (default: Schneider et al. 1996)."),
    frequency: float = typer.Option(0.5, "--frequency", help="Ultrasound frequency in MHz for --task ultrasound."),
) -> None:
    """Measure predicted sCTs against reference CTs (MAE, ME, PSNR, SSIM/MS-SSIM, skull Dice/HD95)."""
    from cranial_sct.conversion import read_hu_table
    from cranial_sct.io.output_paths import check_output_folder
    from cranial_sct.tasks.measure import TaskSettings, parse_tasks
    from cranial_sct.tasks.proton import SCHNEIDER_1996_RSP
    from cranial_sct.tasks.ultrasound import check_frequency

    rsp = read_hu_table(rsp_table, "rsp") if rsp_table else SCHNEIDER_1996_RSP
    tasks = TaskSettings(parse_tasks(task), rsp, kvp, check_frequency(frequency))
    check_output_folder(out, [pred])  # PRED is scanned for method folders; REF is read by subject only
    from cranial_sct.evaluation.evaluate import evaluate  # heavy: only once the output is known to be good

    rows, summary = evaluate(pred, ref, preset=preset, out_dir=out, bone_threshold_hu=bone_threshold, mu_map=mu_map, kvp=kvp, tasks=tasks)
    for group in summary["by_method_field"]:
        typer.echo(
            f"{group['method']:>14} {group['field_T']:>6} T  n={group['mae']['n']:<3} "
            f"MAE {group['mae']['mean']:7.1f} HU  bone MAE {group['mae_bone']['mean']:7.1f} HU  "
            f"Dice {group['dice']['mean']:.3f} (vault {group['dice_vault']['mean']:.3f}, base + face {group['dice_base']['mean']:.3f})"
            + "".join(f"  {name} {group[name]['mean']:.2f}" for name in HEADLINE_TASK_METRICS if name in group)
        )
    typer.echo(f"{len(rows)} cases -> {out / 'metrics.csv'}, {out / 'summary.json'}")
