"""``Volume``: a 3D array that always travels with its voxel-to-world affine.

Geometry is explicit everywhere in cranial-sct: the affine (RAS+ world, millimetres, as nibabel
uses) is carried from read to write, so an output can be put back exactly on its input's grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import nibabel as nib
import numpy as np


@dataclass
class Volume:
    """A 3D image on a grid: ``array[i, j, k]`` sits at world point ``affine @ (i, j, k, 1)``."""

    array: np.ndarray
    affine: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.affine = np.asarray(self.affine, dtype=np.float64)
        if self.affine.shape != (4, 4):
            raise ValueError(f"affine must be 4x4, got {self.affine.shape}")

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Voxel size in mm along each array axis (column norms of the affine)."""
        return tuple(float(s) for s in np.linalg.norm(self.affine[:3, :3], axis=0))

    @property
    def orientation(self) -> str:
        """Three-letter axis code in nibabel's convention, e.g. ``RAS`` or ``LPS``."""
        return "".join(nib.aff2axcodes(self.affine))

    def with_array(self, array: np.ndarray, **meta: Any) -> "Volume":
        """A new volume on the same grid (same affine) holding ``array``."""
        if array.shape[:3] != self.array.shape[:3]:
            raise ValueError(f"array shape {array.shape} does not match grid {self.array.shape}")
        return Volume(array, self.affine.copy(), {**self.meta, **meta})

    def same_grid(self, other: "Volume", atol_mm: float = 1e-3) -> bool:
        """True when both volumes have the same shape and (within ``atol_mm``) the same affine."""
        return self.shape[:3] == other.shape[:3] and bool(
            np.allclose(self.affine, other.affine, atol=atol_mm)
        )
