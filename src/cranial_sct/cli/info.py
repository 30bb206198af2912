"""``cranial-sct info PATH``: what the tool sees in a file or DICOM folder, before you use it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import typer

from cranial_sct.cli.app import app
from cranial_sct.errors import InputError
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


def describe_checkpoint(checkpoint: str) -> dict[str, Any]:
    """What a checkpoint was trained on and how it wants its input: ``info --checkpoint``."""
    from cranial_sct.training.checkpoint import load_for_inference, resolve

    _, info = load_for_inference(checkpoint)
    model, plan = info.config.model, info.plan
    return {
        "checkpoint": str(resolve(checkpoint)),
        "model": f"{model.kind} / {model.backbone}, features {model.features}",
        "contrasts": " + ".join(info.contrasts) + " (any subset)",
        "fields_seen": ", ".join(f"{f} T" for f in info.fields_seen),
        "contrasts_seen": ", ".join(info.contrasts_seen),
        "trained_steps": str(info.step),
        "input_plan": (f"{'x'.join(f'{s:g}' for s in plan.spacing_mm)} mm {plan.orientation}, head mask {plan.head_mask}, "
                       f"N4 {'on' if plan.n4 else 'off'}, {plan.normalisation} {plan.percentiles}, margin {plan.crop_margin_mm:g} mm"),
        "patch": "x".join(map(str, info.patch_size)),
        "tta_axes": ", ".join(map(str, info.mirror_axes)) or "none",
        "version": info.version,
        **({"recipe": info.recipe} if info.recipe else {}),
    }


@app.command("info")
def info(
    path: Path = typer.Argument(None, help="Image file (.nii, .nii.gz, .mha, .mhd, .nrrd) or DICOM series folder."),
    volume: int = typer.Option(None, "--volume", help="Volume index K of a 4D image."),
    series: str = typer.Option(None, "--series", help="SeriesInstanceUID to read from a folder with several series."),
    allow_gaps: bool = typer.Option(False, "--allow-gaps", help="Interpolate over missing DICOM slices."),
    checkpoint: str = typer.Option(None, "--checkpoint", help="Describe a model instead: a checkpoint file or 'builtin'."),
) -> None:
    """Print shape, spacing, orientation, intensity range, modality guess and field strength (or, with
    --checkpoint, what a model was trained on)."""
    if checkpoint is not None:
        facts = describe_checkpoint(checkpoint)
    elif path is None:
        raise InputError("give an image PATH, or --checkpoint FILE|builtin")
    else:
        facts = describe(path, volume, series, allow_gaps)
    for key, value in facts.items():
        typer.echo(f"{key:<14} {value}")
