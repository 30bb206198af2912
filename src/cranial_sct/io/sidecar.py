"""BIDS JSON sidecars: field strength and sequence parameters stored next to a NIfTI file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cranial_sct.errors import InputError

SEQUENCE_KEYS = (
    "RepetitionTime",
    "EchoTime",
    "InversionTime",
    "FlipAngle",
    "ScanningSequence",
    "SequenceName",
    "SeriesDescription",
    "Manufacturer",
    "ManufacturersModelName",
)


def sidecar_path(image_path: Path) -> Path:
    """``sub-01_T1w.nii.gz`` -> ``sub-01_T1w.json`` (BIDS convention)."""
    name = image_path.name
    for suffix in (".nii.gz", ".nii", ".mha", ".mhd", ".nrrd"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return image_path.with_name(name + ".json")


def format_field(tesla: float | str | None) -> str:
    """Field strength as the manifest and file names spell it: ``1.5``, ``0.064``, ``7`` or ``unknown``."""
    try:
        value = float(tesla)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "unknown"
    return f"{value:g}" if value > 0 else "unknown"


def read_sidecar(image_path: Path) -> dict[str, Any]:
    """Field strength (``field_T``) and sequence parameters from the image's sidecar, if there is one."""
    path = sidecar_path(image_path)
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not valid JSON ({error}); fix or remove the sidecar") from error
    meta: dict[str, Any] = {"sequence": {k: data[k] for k in SEQUENCE_KEYS if k in data}}
    if "MagneticFieldStrength" in data:
        meta["field_T"] = format_field(data["MagneticFieldStrength"])
    return meta
