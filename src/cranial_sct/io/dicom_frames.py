"""The image frames of one DICOM series, classic (a file per slice) or enhanced (many frames a file).

Both kinds become the same ``Frame`` records, so sorting, volume splitting and geometry are written
once. An enhanced file keeps per-frame geometry and rescaling in its per-frame functional groups
(falling back to the shared ones), and says which volume a frame belongs to in its dimension index
values; a classic series says it with InstanceNumber. Frames at one position along the slice normal
are the volumes of a 4D series (time points, b-values, echoes kept in one series) and ``--volume K``
picks one.

Philips MR stores a private scale slope (2005,100E). Values are returned as Philips' floating-point
values, ``(stored * RescaleSlope + RescaleIntercept) / (RescaleSlope * ScaleSlope)``, as dcm2niix does
by default, so a DICOM series reads the same as the NIfTI most users' data went through; display
values (the rescale alone) differ from series to series by an arbitrary factor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pydicom

from cranial_sct.errors import InputError, reason

PHILIPS_SCALE_SLOPE = 0x2005100E
PHILIPS_FRAME_PRIVATE = 0x2005140F  # per-frame copy of the classic header, holding (2005,100E)
SPATIAL_DIMENSIONS = {0x00209056, 0x00209057, 0x00200032}  # StackID, InStackPositionNumber, position
POSITION_TOLERANCE_MM = 0.01
ORIENTATION_UNIT_TOLERANCE = 1e-3  # direction cosines: length within 1 +- this, dot product below it


@dataclass(frozen=True)
class Frame:
    """One 2D image: where it lies, how its stored values become real ones, and how to find its pixels."""

    path: Path
    number: int | None  # frame index in a multi-frame file; None for a single-frame file
    position: tuple[float, float, float]  # ImagePositionPatient, LPS mm
    orientation: tuple[float, ...]  # ImageOrientationPatient: row then column direction cosines
    spacing: tuple[float, float]  # PixelSpacing: between rows, between columns (mm)
    shape: tuple[int, int]  # rows, columns
    slope: float
    intercept: float
    order: tuple[float, ...]  # sorts the volumes sharing one position


def read_frames(files: list[Path], name: str) -> tuple[list[Frame], pydicom.Dataset]:
    """Every frame of ``files`` and the first file's header (for metadata); headers only, no pixels."""
    first = _header(files[0], name)
    frames: list[Frame] = []
    for path in files:
        header = first if path == files[0] else _header(path, name)
        if "PerFrameFunctionalGroupsSequence" in header:
            frames.extend(_enhanced_frames(header, path, name))
        else:
            frames.append(_classic_frame(header, path, name))
    return frames, first


def _header(path: Path, name: str) -> pydicom.Dataset:
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as error:  # pydicom raises many types for damaged headers
        raise InputError(f"{name}: cannot read the header of {path} ({reason(error)})") from error


def split_volumes(frames: list[Frame], name: str) -> list[list[Frame]]:
    """Frames grouped into volumes: the k-th volume holds the k-th frame (in ``order``) at every position."""
    normal = _normal(frames[0])
    offsets = np.array([np.dot(frame.position, normal) for frame in frames])
    order = np.argsort(offsets, kind="stable")
    positions: list[list[Frame]] = []
    last = -np.inf
    for index in order:
        if offsets[index] - last > POSITION_TOLERANCE_MM:
            positions.append([])
        positions[-1].append(frames[index])
        last = offsets[index]
    counts = {len(at) for at in positions}
    if len(counts) > 1:
        raise InputError(
            f"{name}: positions hold different numbers of frames ({min(counts)} to {max(counts)}); "
            "the series is incomplete or mixes acquisitions"
        )
    for at in positions:
        at.sort(key=lambda frame: frame.order)
    return [[at[k] for at in positions] for k in range(counts.pop())]


def _normal(frame: Frame) -> np.ndarray:
    orientation = np.asarray(frame.orientation, dtype=np.float64)
    return np.cross(orientation[:3], orientation[3:])


def _classic_frame(header: pydicom.Dataset, path: Path, name: str) -> Frame:
    slope, intercept = _rescale(header, header, header, path, name)
    return Frame(
        path, None, _numbers(header.get("ImagePositionPatient"), 3, "ImagePositionPatient", path, name),
        _orientation(header.get("ImageOrientationPatient"), path, name),
        _spacing(header.get("PixelSpacing"), path, name), _shape(header, path, name),
        slope, intercept, _numbers(header.get("InstanceNumber", 0) or 0, 1, "InstanceNumber", path, name),
    )  # fmt: skip


def _enhanced_frames(header: pydicom.Dataset, path: Path, name: str) -> list[Frame]:
    shared = header.get("SharedFunctionalGroupsSequence", [pydicom.Dataset()])[0]
    volume_axes = [
        k for k, item in enumerate(header.get("DimensionIndexSequence", []))
        if int(item.DimensionIndexPointer) not in SPATIAL_DIMENSIONS
    ]  # fmt: skip
    frames = []
    for number, groups in enumerate(header.PerFrameFunctionalGroupsSequence):
        def group(sequence: str, groups: pydicom.Dataset = groups) -> pydicom.Dataset:
            """A functional group of this frame, else the shared one, else empty."""
            return _item(groups, sequence) or _item(shared, sequence) or pydicom.Dataset()

        plane, orientation = group("PlanePositionSequence"), group("PlaneOrientationSequence")
        index = group("FrameContentSequence").get("DimensionIndexValues", [])
        index = [index] if isinstance(index, int) else list(index)
        order = tuple(float(index[k]) for k in volume_axes if k < len(index)) + (float(number),)
        private = _item(groups, PHILIPS_FRAME_PRIVATE) or pydicom.Dataset()
        slope, intercept = _rescale(header, group("PixelValueTransformationSequence"), private, path, name)
        where = f"frame {number + 1} of {path.name}"
        frames.append(Frame(
            path, number, _numbers(plane.get("ImagePositionPatient"), 3, "ImagePositionPatient", path, name, where),
            _orientation(orientation.get("ImageOrientationPatient"), path, name, where),
            _spacing(group("PixelMeasuresSequence").get("PixelSpacing"), path, name, where),
            _shape(header, path, name), slope, intercept, order,
        ))  # fmt: skip
    return frames


def _item(groups: pydicom.Dataset, sequence: str | int) -> pydicom.Dataset | None:
    """The first item of a functional-group sequence, or None."""
    if sequence not in groups:
        return None
    value = groups[sequence].value
    return value[0] if value else None


def _rescale(
    header: pydicom.Dataset, transform: pydicom.Dataset, private: pydicom.Dataset, path: Path, name: str
) -> tuple[float, float]:
    """(slope, intercept) turning stored values into real ones, Philips floating point when it applies."""
    (slope,) = _numbers(transform.get("RescaleSlope", 1) or 1, 1, "RescaleSlope", path, name)
    (intercept,) = _numbers(transform.get("RescaleIntercept", 0) or 0, 1, "RescaleIntercept", path, name)
    scale = _philips_scale(header, private)
    if scale is None:
        return slope, intercept
    return 1.0 / scale, intercept / (slope * scale)


def _philips_scale(header: pydicom.Dataset, private: pydicom.Dataset) -> float | None:
    if not str(header.get("Manufacturer", "")).lower().startswith("philips") or header.get("Modality") != "MR":
        return None
    element = private.get(PHILIPS_SCALE_SLOPE) or header.get(PHILIPS_SCALE_SLOPE)
    if element is None:
        return None
    value = _private_float(element.value)
    return value if value and np.isfinite(value) else None


def _private_float(value: Any) -> float | None:
    """A private FL value, which may arrive undecoded (bytes) when the VR was not explicit."""
    if isinstance(value, bytes):
        return float(np.frombuffer(value[:4], "<f4")[0]) if len(value) >= 4 else None
    if isinstance(value, pydicom.multival.MultiValue):
        value = value[0] if len(value) else None
    return None if value is None else float(value)


def _spacing(value: Any, path: Path, name: str, where: str = "") -> tuple[float, float]:
    spacing = _numbers(value, 2, "PixelSpacing", path, name, where)
    if min(spacing) <= 0:
        raise InputError(f"{name}: {where or path.name} has PixelSpacing {spacing}; cannot size its voxels")
    return spacing[0], spacing[1]


def _orientation(value: Any, path: Path, name: str, where: str = "") -> tuple[float, ...]:
    """ImageOrientationPatient as two unit vectors; refused unless they are (nearly) orthonormal, since
    scaled or skewed direction cosines would silently stretch or shear the grid."""
    cosines = np.asarray(_numbers(value, 6, "ImageOrientationPatient", path, name, where)).reshape(2, 3)
    lengths = np.linalg.norm(cosines, axis=1)
    if np.abs(lengths - 1).max() > ORIENTATION_UNIT_TOLERANCE or abs(cosines[0] @ cosines[1]) > ORIENTATION_UNIT_TOLERANCE:
        shown = "\\".join(f"{v:g}" for v in cosines.ravel())
        raise InputError(f"{name}: {where or path.name} has ImageOrientationPatient {shown}, not two orthogonal unit vectors; cannot place it")
    return tuple((cosines / lengths[:, None]).ravel())


def _shape(header: pydicom.Dataset, path: Path, name: str) -> tuple[int, int]:
    rows, columns = (_numbers(header.get(key), 1, key, path, name)[0] for key in ("Rows", "Columns"))
    if min(rows, columns) < 1 or rows != int(rows) or columns != int(columns):
        raise InputError(f"{name}: {path.name} has {rows:g} Rows x {columns:g} Columns; not an image")
    return int(rows), int(columns)


def _numbers(value: Any, count: int, element: str, path: Path, name: str, where: str = "") -> tuple[float, ...]:
    """``count`` finite numbers from a DICOM element's value, or an ``InputError`` naming the element."""
    values = value if isinstance(value, (list, tuple, pydicom.multival.MultiValue)) else [] if value in (None, "") else [value]
    try:
        numbers = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        numbers = ()
    if len(numbers) != count or not np.isfinite(numbers).all():
        shown = "missing" if value is None else repr(value)[:60]
        raise InputError(f"{name}: {where or path.name} has no valid {element} ({count} number{'s' * (count > 1)} expected, {shown})")
    return numbers
