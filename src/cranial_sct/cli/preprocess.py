"""``cranial-sct preprocess``: real paired MR/CT -> the training layout (see preprocess.dataset)."""

from __future__ import annotations

from pathlib import Path

import typer

from cranial_sct.cli.app import app
from cranial_sct.errors import InputError
from cranial_sct.io.layouts import LAYOUTS
from cranial_sct.io.output_paths import check_output_folder
from cranial_sct.preprocess.dataset import ReadOptions, preprocess_dataset
from cranial_sct.preprocess.pipeline import PreprocessOptions


@app.command("preprocess")
def preprocess(
    data: Path = typer.Option(..., "--data", help="Dataset folder (or CSV manifest)."),
    out: Path = typer.Option(..., "--out", help="Output folder (phantom layout + manifest.csv)."),
    layout: str = typer.Option("auto", "--layout", help=f"One of {', '.join(LAYOUTS)}."),
    registered: bool = typer.Option(False, "--registered", help="MR and CT are already aligned: skip registration."),
    spacing: float = typer.Option(1.0, "--spacing", help="Target isotropic spacing in mm (0 keeps the CT grid)."),
    n4: bool = typer.Option(True, "--n4/--no-n4", help="N4 bias-field correction of the MR."),
    normalise: str = typer.Option("none", "--normalise", help="MR normalisation written to the files: percentile, zscore or none (default: a model's input plan normalises its MR itself, so training data needs none)."),
    margin: float = typer.Option(10.0, "--margin", help="Crop to the head mask plus this margin in mm (negative: no crop)."),
    workers: int = typer.Option(1, "--workers", help="Cases prepared in parallel."),
    volume: int = typer.Option(None, "--volume", help="Volume index K of 4D inputs."),
    allow_gaps: bool = typer.Option(False, "--allow-gaps", help="Interpolate DICOM series with missing slices."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output folder's cases."),
) -> None:
    """Reorient, resample, register MR to CT, mask, N4, normalise, clip and crop every case; resumable."""
    if normalise not in ("percentile", "zscore", "none"):
        raise InputError(f"--normalise {normalise}: use percentile, zscore or none")
    if spacing < 0 or workers < 1:
        raise InputError("--spacing must be >= 0 and --workers >= 1")
    check_output_folder(out, [data])
    options = PreprocessOptions(
        spacing_mm=spacing or None,
        registered=registered,
        n4=n4,
        normalise=None if normalise == "none" else normalise,  # type: ignore[arg-type]
        crop_margin_mm=margin if margin >= 0 else None,
    )
    result = preprocess_dataset(data, out, layout, options, ReadOptions(volume, allow_gaps), workers, overwrite)
    typer.echo(f"{len(result.done)} cases prepared, {len(result.skipped)} already done; manifest: {out / 'manifest.csv'}")
