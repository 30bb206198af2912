"""DICOM series folders -> ``Volume``: index the folder, pick a series, read its frames, grid them.

The steps, each its own module: ``dicom_index`` finds the series from a few header elements per
file; ``dicom_frames`` turns the chosen series' headers (classic or enhanced multi-frame) into
frames and splits a 4D series into volumes; ``dicom_grid`` sorts slices along their normal, spaces
them from their positions and resamples tilted or unevenly spaced stacks; ``dicom_pixels`` decodes
only the frames of the chosen volume. pydicom rather than SimpleITK's series reader, because every
one of these decisions must be explicit and reported with the series named.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pydicom

from cranial_sct.errors import InputError
from cranial_sct.io.dicom_frames import read_frames, split_volumes
from cranial_sct.io.dicom_grid import stack_on_grid
from cranial_sct.io.dicom_index import index_series, pick_series
from cranial_sct.io.dicom_pixels import read_slices
from cranial_sct.io.sidecar import format_field
from cranial_sct.io.validate import check_volume_index
from cranial_sct.io.volume import Volume

RAS_FROM_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
SEQUENCE_TAGS = (
    "RepetitionTime", "EchoTime", "InversionTime", "FlipAngle", "ScanningSequence",
    "SequenceName", "SeriesDescription", "Manufacturer", "ManufacturerModelName",
)  # fmt: skip
# Copied into a derived series so it joins the same patient, study and frame of reference.
REFERENCE_TAGS = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate",
    "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName", "StudyDescription",
    "FrameOfReferenceUID", "SeriesInstanceUID", "SeriesNumber",
)  # fmt: skip


def read_dicom_series(
    folder: str | os.PathLike[str],
    series_uid: str | None = None,
    allow_gaps: bool = False,
    volume_index: int | None = None,
    member: Path | None = None,
) -> Volume:
    """Read one volume of one series below ``folder`` into a RAS+ ``Volume`` of float32 values.

    ``member``, a file of the folder, picks the series it belongs to (a single file given as input).
    """
    folder = Path(folder)
    entry = pick_series(index_series(folder), folder, series_uid, member)
    name = f"{folder} (series {entry.key})" if series_uid else str(folder)
    if entry.is_mosaic:
        raise InputError(f"{name}: Siemens mosaic (fMRI/DWI packed as tiles) is not supported; convert it with dcm2niix")
    frames, first = read_frames(entry.files, name)
    volumes = split_volumes(frames, name)
    frames = volumes[check_volume_index(volume_index, len(volumes), name) if len(volumes) > 1 else 0]
    array, lps, notes = stack_on_grid(frames, lambda chosen: read_slices(chosen, name), name, allow_gaps)
    meta = _meta(first, folder, len(frames), entry.key)
    if notes:
        meta["resampled"] = notes
    if len(volumes) > 1:
        meta["volume"] = f"{volume_index} of {len(volumes)}"
    return Volume(array, RAS_FROM_LPS @ lps, meta)


def _meta(first: pydicom.Dataset, folder: Path, count: int, key: str) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "path": str(folder),
        "series": key,
        "format": "dicom",
        "modality": str(first.get("Modality", "")).lower() or "unknown",
        "sequence": {tag: _plain(first.get(tag)) for tag in SEQUENCE_TAGS if first.get(tag) not in (None, "")},
        "dicom_reference": {tag: _plain(first.get(tag)) for tag in REFERENCE_TAGS if tag in first},
        "slices": count,
    }
    if first.get("MagneticFieldStrength") not in (None, ""):
        meta["field_T"] = format_field(first.MagneticFieldStrength)
    return meta


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of a DICOM element value (DS/IS numbers become float/int)."""
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, pydicom.multival.MultiValue):
        return [_plain(v) for v in value]
    return str(value)
