"""``cranial-sct info PATH``: what the tool sees in a file or DICOM folder, before you use it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import typer

from cranial_sct.cli.app import app
from cranial_sct.io.readers import read_volume


def describe(path: Path, volume_index: int | None = None, series: str | None = None, allow_gaps: bool = False) -> dict[str, Any]:
    """The facts ``info`` prints, as a dict (also handy in notebooks)."""
    volume = read_volume(path, volume_index, series_uid=series, allow_gaps=allow_gaps)
    low, high = np.percentile(volume.array, [0.5, 99.5])
    return {
        "path": str(path),
        "format": volume.meta.get("format", ""),
        "shape": " x ".join(map(str, volume.shape)),
        "spacing_mm": " x ".join(f"{s:.4g}" for s in volume.spacing),
        "orientation": volume.orientation,
        "dtype": str(volume.array.dtype),
        "range": f"{float(volume.array.min()):.6g} .. {float(volume.array.max()):.6g} (0.5-99.5%: {low:.6g} .. {high:.6g})",
        "modality": f"{volume.meta.get('modality', 'unknown')} (intensities suggest {volume.meta['modality_guess']})",
        "field_T": volume.meta.get("field_T", "unknown"),
        **{k: v for k, v in volume.meta.get("sequence", {}).items()},
    }


@app.command("info")
def info(
    path: Path = typer.Argument(..., help="Image file (.nii, .nii.gz, .mha, .mhd, .nrrd) or DICOM series folder."),
    volume: int = typer.Option(None, "--volume", help="Volume index K of a 4D image."),
    series: str = typer.Option(None, "--series", help="SeriesInstanceUID to read from a folder with several series."),
    allow_gaps: bool = typer.Option(False, "--allow-gaps", help="Interpolate over missing DICOM slices."),
) -> None:
    """Print shape, spacing, orientation, intensity range, modality guess and field strength."""
    for key, value in describe(path, volume, series, allow_gaps).items():
        typer.echo(f"{key:<12} {value}")
