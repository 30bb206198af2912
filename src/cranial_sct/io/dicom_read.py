"""DICOM series folders -> ``Volume``, with pydicom rather than SimpleITK's series reader.

Slices are sorted by their ImagePositionPatient projected on the slice normal (file names and
InstanceNumber are unreliable), the spacing is derived from those positions (never from a
SliceThickness that exports leave zero or missing), per-slice RescaleSlope/Intercept is applied,
and uneven or missing slices are refused or interpolated. pydicom rather than SimpleITK's series
reader, because every one of these decisions must be explicit and reported with the series named.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.errors import InvalidDicomError

from cranial_sct.errors import InputError
from cranial_sct.io.sidecar import format_field
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
POSITION_TOLERANCE_MM = 0.01


@dataclass
class SliceStack:
    """The slices of one series, sorted along the slice normal."""

    datasets: list[pydicom.Dataset]
    positions: np.ndarray  # (n, 3) ImagePositionPatient, LPS mm
    offsets: np.ndarray  # (n,) positions projected on the normal
    row_dir: np.ndarray
    col_dir: np.ndarray


def read_dicom_series(folder: str | os.PathLike[str], series_uid: str | None = None, allow_gaps: bool = False) -> Volume:
    """Read one series from ``folder`` (searched recursively) into a RAS+ ``Volume`` of float32 values."""
    folder = Path(folder)
    series = _pick_series(_scan(folder), folder, series_uid)
    stack = _sorted_stack(series, folder)
    array = _pixel_stack(stack.datasets, folder)
    step, irregular = _slice_step(stack, folder, allow_gaps)
    if irregular:
        array, stack.offsets = _interpolate_slices(array, stack.offsets, step)
    first = stack.datasets[0]
    row_spacing, col_spacing = (float(v) for v in first.PixelSpacing)
    lps = np.eye(4)
    lps[:3, 0] = stack.row_dir * col_spacing
    lps[:3, 1] = stack.col_dir * row_spacing
    lps[:3, 2] = np.cross(stack.row_dir, stack.col_dir) * step
    lps[:3, 3] = stack.positions[0]
    return Volume(array, RAS_FROM_LPS @ lps, _meta(first, folder, len(stack.datasets)))


def _scan(folder: Path) -> dict[str, list[pydicom.Dataset]]:
    """Every DICOM image file below ``folder``, grouped by SeriesInstanceUID; other files are skipped."""
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    groups: dict[str, list[pydicom.Dataset]] = defaultdict(list)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        try:
            dataset = pydicom.dcmread(path)
        except (InvalidDicomError, EOFError, OSError, ValueError):
            continue
        if "PixelData" in dataset and "SeriesInstanceUID" in dataset:
            groups[str(dataset.SeriesInstanceUID)].append(dataset)
    return groups


def _pick_series(groups: dict[str, list[pydicom.Dataset]], folder: Path, series_uid: str | None) -> list[pydicom.Dataset]:
    if not groups:
        raise InputError(f"{folder}: no DICOM image files found; point to the folder holding the series")
    if series_uid is not None:
        if series_uid not in groups:
            raise InputError(f"{folder}: no series {series_uid}; found {_describe(groups)}")
        return groups[series_uid]
    if len(groups) > 1:
        raise InputError(f"{folder}: {len(groups)} series found ({_describe(groups)}); choose one with --series UID")
    return next(iter(groups.values()))


def _describe(groups: dict[str, list[pydicom.Dataset]]) -> str:
    return "; ".join(
        f"{uid} '{items[0].get('SeriesDescription', '')}' {items[0].get('Modality', '?')} {len(items)} files"
        for uid, items in groups.items()
    )


def _sorted_stack(datasets: list[pydicom.Dataset], folder: Path) -> SliceStack:
    first = datasets[0]
    if int(first.get("NumberOfFrames", 1) or 1) > 1:
        raise InputError(f"{folder}: enhanced multi-frame DICOM is not supported; convert it with dcm2niix first")
    if "ImageOrientationPatient" not in first or "ImagePositionPatient" not in first:
        raise InputError(f"{folder}: slices lack ImagePositionPatient/ImageOrientationPatient; cannot place them")
    orientation = np.asarray(first.ImageOrientationPatient, dtype=np.float64)
    for dataset in datasets:
        if not np.allclose(np.asarray(dataset.ImageOrientationPatient, dtype=np.float64), orientation, atol=1e-4):
            raise InputError(f"{folder}: slices have different ImageOrientationPatient; this is not one volume")
    row_dir, col_dir = orientation[:3], orientation[3:]
    positions = np.asarray([ds.ImagePositionPatient for ds in datasets], dtype=np.float64)
    offsets = positions @ np.cross(row_dir, col_dir)
    order = np.argsort(offsets, kind="stable")
    return SliceStack([datasets[i] for i in order], positions[order], offsets[order], row_dir, col_dir)


def _slice_step(stack: SliceStack, folder: Path, allow_gaps: bool) -> tuple[float, bool]:
    """The slice spacing and whether slices are irregular; refuses duplicates, tilt and (unless allowed) gaps."""
    if len(stack.offsets) < 2:
        raise InputError(f"{folder}: the series has a single slice; a 3D volume is needed")
    gaps = np.diff(stack.offsets)
    if gaps.min() < POSITION_TOLERANCE_MM:
        raise InputError(f"{folder}: several slices share one position (echoes or time points?); split the series")
    step = float(np.median(gaps))
    travel = stack.positions[-1] - stack.positions[0]
    normal = np.cross(stack.row_dir, stack.col_dir)
    if np.linalg.norm(travel - normal * (travel @ normal)) > 1e-3 * np.linalg.norm(travel) + POSITION_TOLERANCE_MM:
        raise InputError(f"{folder}: slices are not stacked along their normal (gantry tilt); resample with dcm2niix")
    irregular = np.abs(gaps - step) > max(0.01 * step, POSITION_TOLERANCE_MM)
    if irregular.any() and not allow_gaps:
        at = int(np.argmax(irregular))
        raise InputError(
            f"{folder}: uneven slice spacing ({gaps[at]:.3g} mm after slice {at + 1} vs {step:.3g} mm; "
            "missing slices?); pass --allow-gaps to interpolate"
        )
    return step, bool(irregular.any())


def _pixel_stack(datasets: list[pydicom.Dataset], folder: Path) -> np.ndarray:
    """Slices as an (x, y, z) float32 array in real units (RescaleSlope/Intercept applied per slice).

    Filled slice by slice in (z, row, column) memory order and returned as a transposed view, which
    is also the order ITK wants, so neither filling nor handing it to SimpleITK copies it again.
    """
    shape = (int(datasets[0].Rows), int(datasets[0].Columns))
    out = np.empty((len(datasets), *shape), dtype=np.float32)
    for k, dataset in enumerate(datasets):
        try:
            pixels = dataset.pixel_array
        except Exception as error:  # pydicom raises many types for undecodable pixel data
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise InputError(f"{folder}: cannot decode pixel data of {dataset.filename} ({reason})") from error
        if pixels.shape != shape:
            raise InputError(f"{folder}: slices have different sizes; this is not one volume")
        np.multiply(pixels, float(dataset.get("RescaleSlope", 1) or 1), out=out[k], casting="unsafe")
        out[k] += float(dataset.get("RescaleIntercept", 0) or 0)
    return out.transpose(2, 1, 0)


def _interpolate_slices(array: np.ndarray, offsets: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Linear interpolation onto regularly spaced slices covering the same extent (for ``--allow-gaps``)."""
    count = int(round((offsets[-1] - offsets[0]) / step)) + 1
    targets = offsets[0] + step * np.arange(count)
    lower = np.clip(np.searchsorted(offsets, targets, side="right") - 1, 0, len(offsets) - 2)
    weight = ((targets - offsets[lower]) / (offsets[lower + 1] - offsets[lower])).astype(np.float32)
    out = array[:, :, lower] * (1 - weight) + array[:, :, lower + 1] * weight
    return out.astype(np.float32), targets


def _meta(first: pydicom.Dataset, folder: Path, count: int) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "path": str(folder),
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
