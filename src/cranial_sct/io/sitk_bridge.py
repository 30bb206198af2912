"""Volume <-> SimpleITK image, converting between nibabel's RAS+ affine and ITK's LPS geometry.

SimpleITK does the jobs it does well (MHA/NRRD files, resampling, registration, N4); this is the one
place that translates geometry, so every caller gets the same, tested convention.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import SimpleITK as sitk

from cranial_sct.io.volume import Volume

RAS_FROM_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])  # its own inverse


def to_sitk(volume: Volume, array: np.ndarray | None = None) -> sitk.Image:
    """An ITK image with ``volume``'s grid holding ``array`` (default: the volume's own array)."""
    data = volume.array if array is None else array
    if data.dtype == np.bool_:
        data = data.astype(np.uint8)
    image = sitk.GetImageFromArray(np.ascontiguousarray(data.transpose(2, 1, 0)))
    set_grid(image, volume.affine)
    return image


def set_grid(image: sitk.Image, affine_ras: np.ndarray) -> None:
    """Give ``image`` the origin, spacing and direction of a nibabel RAS+ affine."""
    lps = RAS_FROM_LPS @ np.asarray(affine_ras, dtype=np.float64)
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    image.SetSpacing([float(s) for s in spacing])
    image.SetDirection([float(d) for d in (lps[:3, :3] / spacing).ravel()])
    image.SetOrigin([float(o) for o in lps[:3, 3]])


def affine_of(image: sitk.Image) -> np.ndarray:
    """The nibabel RAS+ affine of a 3D ITK image."""
    lps = np.eye(4)
    direction = np.asarray(image.GetDirection(), dtype=np.float64).reshape(3, 3)
    lps[:3, :3] = direction @ np.diag(image.GetSpacing())
    lps[:3, 3] = image.GetOrigin()
    return RAS_FROM_LPS @ lps


def from_sitk(image: sitk.Image, meta: dict[str, Any] | None = None) -> Volume:
    """A ``Volume`` (array indexed x, y, z) from a 3D ITK image."""
    array = sitk.GetArrayFromImage(image).transpose(2, 1, 0)
    return Volume(array, affine_of(image), dict(meta or {}))


def grid_image(shape: tuple[int, ...], affine_ras: np.ndarray) -> sitk.Image:
    """An empty ITK image that only describes a grid, used as a resampling reference."""
    image = sitk.Image([int(n) for n in shape[:3]], sitk.sitkUInt8)
    set_grid(image, affine_ras)
    return image
