"""``cranial-sct report``: one self-contained HTML page from an evaluation folder."""

from __future__ import annotations

from pathlib import Path

import typer

from cranial_sct.cli.app import app
from cranial_sct.io.output_paths import check_output_file


@app.command("report")
def report_command(
    eval_dir: Path = typer.Option(..., "--eval", help="Folder written by `cranial-sct evaluate` (metrics.csv, summary.json)."),
    out: Path = typer.Option(Path("report.html"), "--out", help="HTML file to write (images embedded)."),
    pred: Path | None = typer.Option(None, "--pred", help="Prediction folder for image panels (default: the one evaluated)."),
    ref: Path | None = typer.Option(None, "--ref", help="Reference folder for image panels (default: the one evaluated)."),
    panel_method: str | None = typer.Option(None, "--panel-method", help="Method shown in image panels (default: lowest median MAE)."),
    config: list[Path] = typer.Option([], "--config", help="A run's config file (YAML/JSON) to show in the report; repeatable."),
) -> None:
    """Write the HTML report: cascade vs direct vs bulk density per field first (CIs, paired tests, field plot), then box plots, image panels, details."""
    from cranial_sct.evaluation.report import write_report

    check_output_file(out)
    path = write_report(eval_dir, out, pred_dir=pred, ref_dir=ref, panel_method=panel_method, config_files=config)
    typer.echo(f"report -> {path}")
