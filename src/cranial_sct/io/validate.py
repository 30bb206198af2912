"""Sanity checks on volumes as read, so a bad file fails early with one line naming it and the fix.

Each check raises ``InputError``. The intensity checks rely on physics, not file names: CT air sits
near -1000 HU, while MR magnitude images are non-negative, which also reveals a swapped MR/CT pair.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cranial_sct.errors import InputError
from cranial_sct.io.volume import Volume

MIN_SPACING_MM = 0.1
MAX_SPACING_MM = 10.0
AIR_HU_BELOW = -500.0  # a CT in HU has air (about -1000) in its field of view
MAX_SHEAR_COS = 1e-3  # cosine between axes above which the grid is called sheared
# The largest volume read: 2^29 voxels (2 GiB as float32; e.g. 1024 x 1024 x 512), several times a
# 0.5-mm head CT. Every later step holds a few float32 copies, so more would not fit a 24-GiB machine.
MAX_VOXELS = 2**29


def check_volume(volume: Volume, name: str) -> None:
    """Refuse a volume that no later step can handle: not 3D, bad affine or spacing, NaN, constant."""
    if volume.array.ndim != 3 or min(volume.shape) < 2:
        raise InputError(f"{name}: a 3D image is needed, got shape {volume.shape}; pass a volume, not a slice")
    check_affine(volume.affine, name)
    finite = np.isfinite(volume.array)
    if not finite.all():
        raise InputError(f"{name}: {int((~finite).sum())} NaN/Inf voxels; fix or replace them before use")
    if volume.array.min() == volume.array.max():
        raise InputError(f"{name}: constant image (every voxel is {volume.array.flat[0]}); is this the right file?")


def check_voxel_count(shape: tuple[int, ...], name: str) -> None:
    """Refuse, before anything is allocated, a volume larger than ``MAX_VOXELS``."""
    count = int(np.prod(shape, dtype=np.int64))
    if count > MAX_VOXELS:
        shown = " x ".join(str(n) for n in shape)
        raise InputError(
            f"{name}: {shown} = {count:,} voxels is above the {MAX_VOXELS:,}-voxel limit; crop or downsample it first"
        )


def check_volume_index(volume_index: int | None, count: int, name: str | Path) -> int:
    """The volume of a 4D input to read: ``volume_index`` checked against ``count`` volumes."""
    if volume_index is None:
        raise InputError(f"{name}: 4D image with {count} volumes; choose one with --volume K (0..{count - 1})")
    if not 0 <= volume_index < count:
        raise InputError(f"{name}: --volume {volume_index} is out of range; the image has {count} volumes (0..{count - 1})")
    return volume_index


def check_affine(affine: np.ndarray, name: str) -> None:
    """Refuse singular, sheared or implausibly spaced voxel grids."""
    axes = affine[:3, :3]
    spacing = np.linalg.norm(axes, axis=0)
    if not np.isfinite(affine).all() or abs(np.linalg.det(axes)) < 1e-9 or spacing.min() == 0:
        raise InputError(f"{name}: singular voxel-to-world affine; fix the header (qform/sform or direction)")
    unit = axes / spacing
    cosines = np.abs(unit.T @ unit - np.eye(3))
    if cosines.max() > MAX_SHEAR_COS:
        raise InputError(f"{name}: sheared voxel grid (axes not orthogonal); resample it to an orthogonal grid first")
    if spacing.min() < MIN_SPACING_MM or spacing.max() > MAX_SPACING_MM:
        shown = " x ".join(f"{s:g}" for s in spacing)
        raise InputError(
            f"{name}: voxel spacing {shown} mm is outside {MIN_SPACING_MM}-{MAX_SPACING_MM} mm; check the header units"
        )


def _subsample(array: np.ndarray, voxels: int = 1_000_000) -> np.ndarray:
    """A regular subgrid of about ``voxels`` voxels: percentiles of a whole 512^2 x 200 CT cost seconds."""
    step = max(1, int(np.ceil((array.size / voxels) ** (1 / 3))))
    return array[::step, ::step, ::step]


def looks_like_ct(array: np.ndarray) -> bool:
    """True when the image holds HU-like air (well below -500) and tissue above it."""
    low, high = np.percentile(_subsample(array), [1, 99.5])
    return bool(low < AIR_HU_BELOW and high > AIR_HU_BELOW)


def guess_modality(array: np.ndarray) -> str:
    """``ct`` for HU-like intensities, ``mr`` for non-negative ones, else ``unknown``."""
    if looks_like_ct(array):
        return "ct"
    return "mr" if np.percentile(_subsample(array), 1) >= 0 else "unknown"


def check_ct_in_hu(ct: Volume, name: str) -> None:
    """Refuse a CT whose intensities are not Hounsfield units (e.g. an 8-bit 0-255 export)."""
    if not looks_like_ct(ct.array):
        low, high = float(ct.array.min()), float(ct.array.max())
        raise InputError(
            f"{name}: CT values span {low:g}..{high:g}, not Hounsfield units (air should be near -1000); "
            "export the CT in HU (apply RescaleSlope/RescaleIntercept)"
        )


def check_pair_order(mr: Volume, mr_name: str, ct: Volume, ct_name: str) -> None:
    """Refuse an MR/CT pair given the wrong way round, detected from intensities."""
    if looks_like_ct(mr.array) and not looks_like_ct(ct.array):
        raise InputError(
            f"{mr_name} looks like a CT (HU air near -1000) and {ct_name} like an MR; they seem swapped"
        )
