"""Sanity checks on volumes as read, so a bad file fails early with one line naming it and the fix.

``check_volume`` is the geometry gate every reader's volume passes (``read_volume``, whatever the
format): a scalar 3D array of finite values, not constant, on a finite, invertible, orthogonal grid
with voxels of 0.05 to 20 mm. Readers hand it the grid their file states, never one a library
repaired (``nifti.stated_affine``), and DICOM stacks that need it are resampled onto an orthogonal grid
before it (``dicom_grid``). Each check raises ``InputError``. The intensity checks rely on physics, not file names: CT air sits
near -1000 HU, while MR magnitude images are non-negative, which also reveals a swapped MR/CT pair.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cranial_sct.errors import InputError
from cranial_sct.io.volume import Volume

# Voxel sizes outside these are a header in the wrong units (metres, microns) or damaged: a 7-T
# microscopy-grade scan is 0.1 mm, a 0.064-T slice 5 mm, an old CT 10 mm.
MIN_SPACING_MM = 0.05
MAX_SPACING_MM = 20.0
MIN_PREDICT_VOXELS = 8  # per axis: fewer cannot hold a head at any spacing the gate accepts
AIR_HU_BELOW = -500.0  # a CT in HU has air (about -1000) in its field of view
MAX_SHEAR_COS = 1e-3  # cosine between axes above which the grid is called sheared
# The largest volume read: 2^29 voxels (2 GiB as float32; e.g. 1024 x 1024 x 512), several times a
# 0.5-mm head CT. Every later step holds a few float32 copies, so more would not fit a 24-GiB machine.
MAX_VOXELS = 2**29


def check_volume(volume: Volume, name: str) -> None:
    """The gate: refuse a volume no later step can handle (pixel type, shape, grid, NaN, constant)."""
    check_pixel_type(volume.array.dtype, name)
    if volume.array.ndim != 3 or min(volume.shape) < 2:
        raise InputError(f"{name}: a 3D image is needed, got shape {volume.shape}; pass a volume, not a slice")
    check_affine(volume.affine, name)
    finite = np.isfinite(volume.array)
    if not finite.all():
        raise InputError(f"{name}: {int((~finite).sum())} NaN/Inf voxels; fix or replace them before use")
    if volume.array.min() == volume.array.max():
        raise InputError(f"{name}: constant image (every voxel is {volume.array.flat[0]}); is this the right file?")


def check_pixel_type(dtype: np.dtype, name: str) -> None:
    """Refuse what is not one real number per voxel: complex data, RGB or other compound pixels."""
    if dtype.kind == "c":
        raise InputError(f"{name}: complex-valued image; give the magnitude image")
    if dtype.kind not in "biuf":
        raise InputError(f"{name}: pixel type {dtype} is not one real number per voxel; give a grey-scale image")


def check_extent(volume: Volume, name: str, minimum: int = MIN_PREDICT_VOXELS) -> None:
    """Refuse a volume with fewer than ``minimum`` voxels along an axis (a slab, a localiser)."""
    if min(volume.shape) < minimum:
        shown = " x ".join(str(n) for n in volume.shape)
        raise InputError(f"{name}: {shown} voxels; at least {minimum} per axis are needed (a localiser or a slab?)")


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
    """Refuse non-finite, singular, sheared or implausibly spaced voxel grids."""
    if not np.isfinite(affine).all():
        raise InputError(f"{name}: non-finite numbers in the voxel-to-world affine; fix the header (qform/sform, spacing or direction)")
    axes = affine[:3, :3]
    spacing = np.linalg.norm(axes, axis=0)
    shown = " x ".join(f"{s:g}" for s in spacing)
    if spacing.min() == 0:
        raise InputError(f"{name}: singular voxel-to-world affine, voxel size {shown} mm (zero along axis "
                         f"{int(np.argmin(spacing))}); the header gives no usable voxel size (pixdim/sform or spacing)")
    unit = axes / spacing
    cosines = np.abs(unit.T @ unit - np.eye(3))
    if cosines.max() > MAX_SHEAR_COS or abs(np.linalg.det(unit)) < 0.5:
        raise InputError(f"{name}: sheared or singular voxel grid (axes not orthogonal); resample it to an orthogonal grid first")
    if spacing.min() < MIN_SPACING_MM or spacing.max() > MAX_SPACING_MM:
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
