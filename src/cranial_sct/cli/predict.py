"""``cranial-sct predict``: a thin wrapper over :mod:`cranial_sct.prediction` (one case or a cohort)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from cranial_sct.cli.app import app
from cranial_sct.errors import InputError


@app.command("predict")
def predict_command(
    checkpoint: list[str] = typer.Option(["builtin"], "--checkpoint", help="Trained checkpoint, or 'builtin' (the default: the model shipped with cranial-sct); repeat for an ensemble (the spread gives the uncertainty)."),
    out: Path = typer.Option(..., "--out", help="Output folder."),
    mr: Optional[Path] = typer.Option(None, "--mr", "--t1w", help="T1-weighted MR (NIfTI/MHA/NRRD/DICOM folder); its grid is the output grid."),
    flair: Optional[Path] = typer.Option(None, "--flair", help="T2-FLAIR MR."),
    t2w: Optional[Path] = typer.Option(None, "--t2w", help="T2-weighted MR."),
    mask: Optional[Path] = typer.Option(None, "--mask", help="Head mask on the MR grid (default: computed from the MR)."),
    field: Optional[str] = typer.Option(None, "--field", help="Field strength in tesla, or 'unknown' (default: from DICOM/BIDS metadata)."),
    data: Optional[Path] = typer.Option(None, "--data", help="Cohort folder with manifest.csv: predict every case into OUT/<method>/<subject>/."),
    fields: list[str] = typer.Option([], "--fields", help="With --data: field strengths to predict (repeatable; default all)."),
    contrasts: list[str] = typer.Option([], "--contrasts", help="With --data: input sets such as t1w or t1w+flair (repeatable; default all the checkpoint's)."),
    method: Optional[str] = typer.Option(None, "--method", help="With --data: method folder name (default e.g. cascade-resunet)."),
    dicom: bool = typer.Option(False, "--dicom", help="Also write the sCT as a DICOM CT series."),
    tta: bool = typer.Option(False, "--tta", help="Test-time mirroring along the axes mirrored in training (left-right: 2 passes); gives an uncertainty map."),
    device: str = typer.Option("cpu", "--device", help="cpu or cuda (windows on the GPU, CPU fallback when it runs out of memory)."),
    mu_map: bool = typer.Option(False, "--mu-map", help="Also write the 511 keV attenuation map (cm^-1) for PET/MR."),
    kvp: int = typer.Option(120, "--kvp", help="CT tube voltage the HU refer to (bilinear HU -> mu coefficients)."),
    density: bool = typer.Option(False, "--density", help="Also write relative electron density for dose calculation."),
    density_table: Optional[Path] = typer.Option(None, "--density-table", help="CSV 'hu,density' calibration (default: a generic table)."),
    rsp: bool = typer.Option(False, "--rsp", help="Also write the proton stopping power relative to water."),
    rsp_table: Optional[Path] = typer.Option(None, "--rsp-table", help="CSV 'hu,rsp' calibration (default: Schneider et al. 1996)."),
    acoustic: bool = typer.Option(False, "--acoustic", help="Also write speed of sound, density and attenuation maps for transcranial ultrasound."),
    frequency: float = typer.Option(0.5, "--frequency", help="Ultrasound frequency in MHz for the --acoustic attenuation map."),
    series: Optional[str] = typer.Option(None, "--series", help="DICOM SeriesInstanceUID when an MR folder holds several series."),
    volume: Optional[int] = typer.Option(None, "--volume", help="Volume index K of a 4D MR image."),
    allow_gaps: bool = typer.Option(False, "--allow-gaps", help="Interpolate missing DICOM slices instead of refusing the series."),
    keep_bone_islands: bool = typer.Option(False, "--keep-bone-islands", help="Keep the skull's deep islands: pieces lying wholly deep inside the head, joined to no other bone (removed by default: no bone of a head lies there)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing predictions."),
) -> None:
    """Synthetic CT (+ skull mask, bone probability, uncertainty) from MRI, on the MR's own grid."""
    from cranial_sct.conversion import DEFAULT_DENSITY_TABLE, read_density_table, read_hu_table
    from cranial_sct.prediction import PredictOptions, parse_field, predict_cohort, predict_files
    from cranial_sct.tasks.proton import SCHNEIDER_1996_RSP
    from cranial_sct.tasks.ultrasound import check_frequency

    if device not in ("cpu", "cuda"):
        raise InputError(f"--device {device}: use cpu or cuda")
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise InputError("--device cuda: no CUDA GPU available; use --device cpu")
    options = PredictOptions(
        tta=tta, device=device, dicom=dicom, mu_map=mu_map, kvp=kvp, density=density or density_table is not None,
        density_table=read_density_table(density_table) if density_table else DEFAULT_DENSITY_TABLE, overwrite=overwrite,
        series=series, volume=volume, allow_gaps=allow_gaps, keep_bone_islands=keep_bone_islands,
        rsp=rsp or rsp_table is not None, rsp_table=read_hu_table(rsp_table, "rsp") if rsp_table else SCHNEIDER_1996_RSP,
        acoustic=acoustic, frequency_mhz=check_frequency(frequency),
    )
    checkpoints = list(checkpoint)
    inputs = {name: path for name, path in (("t1w", mr), ("flair", flair), ("t2w", t2w)) if path is not None}
    if data is not None:
        if inputs or mask is not None:
            raise InputError("--data predicts a whole cohort: drop --mr/--flair/--t2w/--mask (use --contrasts to choose inputs)")
        sets = [[c.strip() for c in text.split("+")] for text in contrasts]
        method_dir = predict_cohort(checkpoints, data, out, contrast_sets=sets, fields=fields, method=method, options=options)
        typer.echo(f"predictions in {method_dir}")
        return
    if not inputs:
        raise InputError("give --mr (T1w), --flair and/or --t2w for one case, or --data DIR for a cohort")
    written = predict_files(checkpoints, inputs, out, parse_field(field), mask, options)
    typer.echo(f"{len(written)} files written to {out}")
