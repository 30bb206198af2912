"""From tissue fractions to a field-specific MR magnitude image (DESIGN 4).

Signal is computed per tissue with within-tissue variation of T1, T2 and PD, mixed by partial-volume
fraction, shaped by the transmit field (B1+, centre brightening and temporal drop-out growing with B0)
and the receive bias, blurred and resampled to the scanner's acquisition voxel, given Rician noise at
that voxel, and returned on the CT grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from cranial_sct.phantom.grids import Grid
from cranial_sct.phantom.mr_physics import Acquisition, Sequence, signal, tissue_signal
from cranial_sct.phantom.random_fields import smooth_field
from cranial_sct.phantom.tissues import TISSUES, Tissue
from cranial_sct.phantom.voxelise import TissueFractions

FWHM_PER_SIGMA = 2.3548
WM_DISPLAY_LEVEL = 1000.0  # stored intensity of nominal white matter (scanner gain)


@dataclass(frozen=True)
class TissueVoxels:
    """For each tissue: flat voxel indices, partial-volume fractions and variation (t1, t2, pd)."""

    grid: Grid
    index: dict[Tissue, np.ndarray]
    fraction: dict[Tissue, np.ndarray]
    variation: dict[Tissue, np.ndarray]  # (3, n) unit-std smooth fields at those voxels

    @classmethod
    def from_fractions(cls, fractions: TissueFractions, rng: np.random.Generator) -> "TissueVoxels":
        fields = np.stack([smooth_field(rng, fractions.grid, 12.0).ravel() for _ in range(3)])
        index, fraction, variation = {}, {}, {}
        for tissue in Tissue:
            counts = fractions.counts[tissue].ravel()
            where = np.flatnonzero(counts)
            if TISSUES[tissue].pd == 0 or where.size == 0:
                continue
            index[tissue], variation[tissue] = where, fields[:, where]
            fraction[tissue] = counts[where].astype(np.float32) / fractions.subvoxels
        return cls(fractions.grid, index, fraction, variation)


def world_points(grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return tuple(np.meshgrid(*(grid.axis(k).astype(np.float32) for k in range(3)), indexing="ij", sparse=True))


def _centre_and_temporal(grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smooth spatial patterns of high-field coils: central bump, temporal-lobe dips, brain region."""
    x, y, z = world_points(grid)
    centre = np.exp(-(x**2 + (y + 10) ** 2 + (z - 5) ** 2) / (2 * 45.0**2))
    temporal = np.exp(-((np.abs(x) - 58) ** 2 + (y + 5) ** 2 + (z + 20) ** 2) / (2 * 18.0**2))
    brain = (x / 65) ** 2 + ((y + 8) / 85) ** 2 + ((z - 5) / 65) ** 2 < 1
    return centre, temporal, brain


def transmit_field(grid: Grid, acquisition: Acquisition, rng: np.random.Generator) -> np.ndarray:
    """Relative flip angle B1+/nominal: mean 1 over the brain, high centrally, low in the temporal lobes.

    The pattern (centre brightening, temporal drop-out, a random smooth part) is scaled to a coefficient
    of variation of ``b1_cv`` inside the brain: ~4 % at 3 T, 10-30 % at 7 T (DESIGN 4).
    """
    centre, temporal, brain = _centre_and_temporal(grid)
    pattern = centre - temporal + 0.3 * smooth_field(rng, grid, 60.0)
    inside = pattern[np.broadcast_to(brain, pattern.shape)]
    pattern = (pattern - inside.mean()) / inside.std()
    return np.clip(1.0 + acquisition.b1_cv * pattern, 0.2, None).astype(np.float32)


def receive_bias(grid: Grid, acquisition: Acquisition, rng: np.random.Generator) -> np.ndarray:
    """Receive sensitivity: a random smooth gain, plus central brightening that grows above 3 T."""
    centre, _, _ = _centre_and_temporal(grid)
    brightening = 0.2 * min(max(acquisition.field_t - 3.0, 0.0) / 4.0, 1.0)
    bias = np.exp(acquisition.bias_sd * smooth_field(rng, grid, 70.0)) * (1.0 + brightening * centre)
    return bias.astype(np.float32)


def ideal_image(voxels: TissueVoxels, sequence: Sequence, field_t: float, b1: np.ndarray) -> np.ndarray:
    """Noise-free signal (units of M0) mixed over tissues by partial-volume fraction."""
    image = np.zeros(voxels.grid.size, dtype=np.float32)
    b1 = b1.ravel()
    for tissue, where in voxels.index.items():
        props = TISSUES[tissue]
        v = voxels.variation[tissue]
        t1 = props.t1_at(field_t) * (1 + props.t1_cv * v[0])
        t2 = props.t2_at(field_t) * (1 + props.t2_cv * v[1])
        pd = props.pd * (1 + props.pd_cv * v[2])
        image[where] += voxels.fraction[tissue] * signal(sequence, t1, t2, pd, b1[where])
    return image.reshape(voxels.grid.shape)


def effective_snr(acquisition: Acquisition, spacing: float) -> float:
    """WM SNR at the voxel actually sampled: native voxels are averaged up to the output spacing."""
    native = np.array(acquisition.voxel_mm)
    sampled = np.maximum(native, spacing)
    return acquisition.snr_native * float(np.sqrt(np.prod(sampled) / np.prod(native)))


def acquire(image: np.ndarray, spacing: float, acquisition: Acquisition, sigma: float,
            rng: np.random.Generator) -> np.ndarray:
    """Blur to the acquisition voxel, sample there, add Rician noise, interpolate back to the grid."""
    shape = image.shape
    sampled = np.maximum(np.array(acquisition.voxel_mm), spacing)
    coarse = bool(np.any(sampled > spacing * 1.01))
    if coarse:
        blur = np.sqrt(sampled**2 - spacing**2) / FWHM_PER_SIGMA / spacing
        image = ndimage.gaussian_filter(image, blur, mode="nearest")
        image = ndimage.zoom(image, spacing / sampled, order=1, mode="nearest", grid_mode=True)
    real = image + sigma * rng.standard_normal(image.shape, dtype=np.float32)
    imaginary = sigma * rng.standard_normal(image.shape, dtype=np.float32)
    magnitude = np.hypot(real, imaginary)
    if coarse:
        factor = np.array(shape) / np.array(magnitude.shape)
        magnitude = ndimage.zoom(magnitude, factor, order=1, mode="nearest", grid_mode=True)
    return magnitude


def simulate_mr(voxels: TissueVoxels, acquisition: Acquisition, contrast: str, b1: np.ndarray,
                bias: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One magnitude image on the CT grid, scaled so nominal white matter reads ``WM_DISPLAY_LEVEL``."""
    sequence = acquisition.sequences[contrast]
    white_matter = tissue_signal(Tissue.WM, sequence, acquisition.field_t)
    image = ideal_image(voxels, sequence, acquisition.field_t, b1) * bias
    sigma = white_matter / effective_snr(acquisition, voxels.grid.spacing)
    image = acquire(image, voxels.grid.spacing, acquisition, sigma, rng)
    return image * (WM_DISPLAY_LEVEL / white_matter)
