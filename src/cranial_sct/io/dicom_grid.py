"""Slices of one DICOM volume -> an array on a rectilinear grid and its LPS affine.

Spacing comes from the slice positions (never SliceThickness, which exports leave zero or missing).
Two layouts are not rectilinear as stored and are resampled, each with one info log line:

- gantry-tilted CT: the slices are stacked along the table, not along their normal. Each slice is
  shifted in its own plane (linear interpolation, no mixing between slices) onto a grid whose third
  axis is the slice normal, widened to hold every shifted slice, the rim filled with the darkest
  value: the geometry of dcm2niix's ``_Tilt_1`` output;
- uneven slice spacing (missing slices, or a CT with zones of different thickness): refused unless
  ``allow_gaps``, then interpolated linearly onto equal spacing equal to the smallest gap (at most
  twice as many slices as stored), as dcm2niix's ``_Eq`` output.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from cranial_sct.errors import InputError
from cranial_sct.io.dicom_frames import Frame

log = logging.getLogger(__name__)
ORIENTATION_TOLERANCE = 1e-4
POSITION_TOLERANCE_MM = 0.01
TILT_TOLERANCE_MM = 0.05  # in-plane drift (any slice vs the first) below which a stack counts as straight


def stack_on_grid(
    frames: list[Frame], read_slices: Callable[[list[Frame]], np.ndarray], name: str, allow_gaps: bool
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(array indexed x, y, z; LPS affine; notes on any resampling) for frames sorted along the normal.

    ``read_slices`` decodes the frames into a (slice, row, column) float32 array; it is called only
    after the geometry has been checked, so a refused series decodes nothing.
    """
    first = frames[0]
    _check_consistent(frames, name)
    row_dir, col_dir = np.asarray(first.orientation[:3]), np.asarray(first.orientation[3:])
    normal = np.cross(row_dir, col_dir)
    positions = np.asarray([frame.position for frame in frames])
    moves = positions - positions[0]
    offsets = moves @ normal
    step, regular = _slice_step(offsets, name, allow_gaps)
    drift = np.stack([moves @ col_dir / first.spacing[0], moves @ row_dir / first.spacing[1]], axis=1)  # pixels
    array = read_slices(frames)
    notes: list[str] = []
    origin = positions[0]
    if np.abs(drift * first.spacing).max() > TILT_TOLERANCE_MM:
        array, low = _untilt(array, drift)
        origin = origin + low[0] * first.spacing[0] * col_dir + low[1] * first.spacing[1] * row_dir
        notes.append(_note(name, f"gantry tilt of {_tilt_deg(positions, normal):.2f} deg; slices shifted onto a rectilinear grid (as dcm2niix _Tilt_1)"))
    if not regular:
        array = _equalise(array, offsets, step)
        notes.append(_note(name, f"uneven slice spacing; interpolated onto {array.shape[0]} slices {step:.4g} mm apart (as dcm2niix _Eq)"))
    lps = np.eye(4)
    lps[:3, 0] = row_dir * first.spacing[1]
    lps[:3, 1] = col_dir * first.spacing[0]
    lps[:3, 2] = normal * step
    lps[:3, 3] = origin
    return array.transpose(2, 1, 0), lps, notes


def _note(name: str, text: str) -> str:
    log.info("%s: %s", name, text)
    return text


def _check_consistent(frames: list[Frame], name: str) -> None:
    first = frames[0]
    if len(frames) < 2:
        raise InputError(f"{name}: the series has a single slice; a 3D volume is needed")
    for frame in frames:
        if not np.allclose(frame.orientation, first.orientation, atol=ORIENTATION_TOLERANCE):
            raise InputError(f"{name}: slices have different ImageOrientationPatient; this is not one volume")
        if frame.shape != first.shape or not np.allclose(frame.spacing, first.spacing, rtol=1e-4):
            raise InputError(f"{name}: slices have different sizes or pixel spacing; this is not one volume")


def _slice_step(offsets: np.ndarray, name: str, allow_gaps: bool) -> tuple[float, bool]:
    """The spacing of the output grid and whether the stored slices already lie on it."""
    gaps = np.diff(offsets)
    median = float(np.median(gaps))
    irregular = np.abs(gaps - median) > max(0.01 * median, POSITION_TOLERANCE_MM)
    if not irregular.any():
        return float(offsets[-1] / (len(offsets) - 1)), True
    if not allow_gaps:
        at = int(np.argmax(irregular))
        raise InputError(
            f"{name}: uneven slice spacing ({gaps[at]:.3g} mm after slice {at + 1} vs {median:.3g} mm; "
            "missing slices or zones of different thickness?); pass --allow-gaps to interpolate onto equal spacing"
        )
    step = float(gaps.min())
    if round(offsets[-1] / step) + 1 > 2 * len(offsets):
        step = float(offsets[-1] / (2 * len(offsets) - 1))
    return step, False


def _equalise(array: np.ndarray, offsets: np.ndarray, step: float) -> np.ndarray:
    """Linear interpolation between the two nearest stored slices, one output slice at a time."""
    count = int(round(offsets[-1] / step)) + 1
    targets = np.minimum(step * np.arange(count), offsets[-1])
    lower = np.clip(np.searchsorted(offsets, targets, side="right") - 1, 0, len(offsets) - 2)
    weights = (targets - offsets[lower]) / (offsets[lower + 1] - offsets[lower])
    out = np.empty((count, *array.shape[1:]), dtype=np.float32)
    for k, (low, weight) in enumerate(zip(lower, weights, strict=True)):
        np.multiply(array[low], np.float32(1 - weight), out=out[k])
        out[k] += np.float32(weight) * array[low + 1]
    return out


def _untilt(array: np.ndarray, drift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Shift each slice by its in-plane drift (rows, columns) onto a canvas that holds them all.

    The canvas keeps the pixel grid of the slice drifted furthest toward the last row (and column),
    so that slice is copied unchanged, and reaches a whole number of pixels beyond the other end, as
    dcm2niix's does. Returns the canvas stack and the drift of its origin, in pixels.
    """
    high = drift.max(axis=0)
    extra = np.ceil(high - drift.min(axis=0) - 1e-6).astype(int)
    low = high - extra
    fill = np.float32(array.min())
    out = np.empty((array.shape[0], array.shape[1] + extra[0], array.shape[2] + extra[1]), dtype=np.float32)
    for k in range(array.shape[0]):
        rows = _shift_axis(array[k], drift[k, 0] - low[0], out.shape[1], 0, fill)
        out[k] = _shift_axis(rows, drift[k, 1] - low[1], out.shape[2], 1, fill)
    return out, low


def _shift_axis(image: np.ndarray, shift: float, size: int, axis: int, fill: np.float32) -> np.ndarray:
    """``image`` moved by ``shift`` pixels along ``axis`` into ``size`` pixels, linearly interpolated.

    Past the first source pixel it is repeated for one pixel, past the last the canvas holds ``fill``
    (dcm2niix's rule, which it applies to rows counted from the bottom, the order it stores them in).
    """
    count = image.shape[axis]
    source = np.arange(size) - shift
    lower = np.clip(np.floor(source).astype(int), 0, count - 1)
    upper = np.minimum(lower + 1, count - 1)
    weight = np.expand_dims(np.clip(source - lower, 0, 1).astype(np.float32), 1 - axis)
    out = np.take(image, lower, axis=axis) * (1 - weight) + np.take(image, upper, axis=axis) * weight
    outside = (source <= -1) | (source > count - 1)
    np.moveaxis(out, axis, 0)[outside] = fill
    return out


def _tilt_deg(positions: np.ndarray, normal: np.ndarray) -> float:
    travel = positions[-1] - positions[0]
    cosine = abs(travel @ normal) / np.linalg.norm(travel)
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))
