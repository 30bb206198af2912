"""Smooth random fields: the source of every per-subject variation (shape, texture, bias)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from cranial_sct.phantom.grids import Grid, Resampler


def smooth_field(rng: np.random.Generator, grid: Grid, correlation_mm: float) -> np.ndarray:
    """Zero-mean, unit-std Gaussian random field on ``grid`` with the given correlation length.

    White noise is smoothed on a lattice of spacing ``correlation_mm / 2`` and interpolated onto the
    grid, so long correlation lengths cost no more than short ones.
    """
    step = max(correlation_mm / 2.0, grid.spacing)
    extent = np.array(grid.shape) * grid.spacing
    shape = tuple(int(n) for n in np.ceil(extent / step) + 4)
    lattice = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), 1.0, mode="wrap")
    origin = np.array(grid.origin) - 2 * step
    lattice_grid = Grid(tuple(origin), step, shape)
    field = Resampler.between(lattice_grid, tuple(grid.axis(k) for k in range(3)))(lattice)
    field -= field.mean()
    field /= field.std() + 1e-12
    return field.astype(np.float32)


def periodic_tile(rng: np.random.Generator, size: int, sigma_vox: float) -> np.ndarray:
    """A small wrap-around unit-std texture, sampled by world coordinate modulo its size."""
    tile = ndimage.gaussian_filter(rng.standard_normal((size,) * 3).astype(np.float32), sigma_vox, mode="wrap")
    return (tile - tile.mean()) / tile.std()
