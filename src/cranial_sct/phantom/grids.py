"""The phantom's grids: the output (CT) grid, the supersampled fine grid and the coarse design grid.

All three are axis-aligned RAS+ grids over one head field of view, so moving a smooth field from
one to another is a separable linear interpolation. We do it with index/weight tables per axis
rather than ``scipy.ndimage.zoom``/``map_coordinates`` because the fine grid is processed in slabs
(bounded memory at 1 mm) and the tables are reused by every field, which makes it ~10x cheaper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Field of view in world mm (x: left->right, y: posterior->anterior, z: inferior->superior); the
# origin sits near the centre of the cerebrum. It spans vertex to upper jaw/C2, ear to ear, occiput to nose.
FOV_MIN = np.array([-86.0, -106.0, -112.0])
FOV_MAX = np.array([86.0, 116.0, 102.0])
DESIGN_SPACING_MM = 2.0  # anatomy is designed on this grid, whatever the output spacing
SUPERSAMPLE = 2  # fine voxels per output voxel along each axis (partial volume)


@dataclass(frozen=True)
class Grid:
    """An axis-aligned grid: voxel (i, j, k) is centred at ``origin + spacing * (i, j, k)``."""

    origin: tuple[float, float, float]
    spacing: float
    shape: tuple[int, int, int]

    def axis(self, k: int) -> np.ndarray:
        return self.origin[k] + self.spacing * np.arange(self.shape[k])

    @property
    def affine(self) -> np.ndarray:
        affine = np.diag([self.spacing] * 3 + [1.0])
        affine[:3, 3] = self.origin
        return affine

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


def covering_grid(spacing: float, margin_mm: float = 0.0) -> Grid:
    """A grid of the given spacing centred on the field of view (plus a margin)."""
    lo, hi = FOV_MIN - margin_mm, FOV_MAX + margin_mm
    shape = np.ceil((hi - lo) / spacing).astype(int)
    origin = (lo + hi) / 2 - (shape - 1) / 2 * spacing
    return Grid(tuple(float(o) for o in origin), float(spacing), tuple(int(s) for s in shape))


def design_grid() -> Grid:
    return covering_grid(DESIGN_SPACING_MM, margin_mm=2 * DESIGN_SPACING_MM)


def fine_axis(grid: Grid, k: int, factor: int = SUPERSAMPLE) -> np.ndarray:
    """Centres of the ``factor`` sub-voxels of every voxel along axis k (voxel-major order)."""
    offsets = ((np.arange(factor) + 0.5) / factor - 0.5) * grid.spacing
    return (grid.axis(k)[:, None] + offsets[None, :]).ravel()


@dataclass(frozen=True)
class AxisWeights:
    """Linear interpolation from a uniform source axis to arbitrary target coordinates."""

    lower: np.ndarray
    weight: np.ndarray

    @classmethod
    def between(cls, source: np.ndarray, target: np.ndarray) -> "AxisWeights":
        position = (np.asarray(target) - source[0]) / (source[1] - source[0])
        lower = np.clip(np.floor(position).astype(np.intp), 0, len(source) - 2)
        weight = np.clip(position - lower, 0.0, 1.0).astype(np.float32)
        return cls(lower, weight)

    def apply(self, array: np.ndarray, axis: int) -> np.ndarray:
        shape = [1, 1, 1]
        shape[axis] = -1
        w = self.weight.reshape(shape)
        a = np.take(array, self.lower, axis=axis)
        b = np.take(array, self.lower + 1, axis=axis)
        return a + (b - a) * w


@dataclass(frozen=True)
class Resampler:
    """Separable trilinear interpolation from one grid's samples to a box of target coordinates."""

    axes: tuple[AxisWeights, AxisWeights, AxisWeights]

    @classmethod
    def between(cls, source: Grid, targets: tuple[np.ndarray, np.ndarray, np.ndarray]) -> "Resampler":
        return cls(tuple(AxisWeights.between(source.axis(k), targets[k]) for k in range(3)))

    def __call__(self, field: np.ndarray) -> np.ndarray:
        # z first: slabs are thin in z, so the early passes stay small.
        out = self.axes[2].apply(field, 2)
        out = self.axes[1].apply(out, 1)
        return self.axes[0].apply(out, 0)

    def crop(self, box: tuple[slice, slice, slice]) -> "Resampler":
        return Resampler(tuple(AxisWeights(a.lower[s], a.weight[s]) for a, s in zip(self.axes, box)))
