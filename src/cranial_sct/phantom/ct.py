"""CT synthesis: HU per tissue (DESIGN 4) with smooth within-tissue variation, partial volume, noise."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from cranial_sct.hounsfield import HU_MAX, HU_MIN
from cranial_sct.phantom.random_fields import smooth_field
from cranial_sct.phantom.tissues import BONE_TISSUES, TISSUES, Tissue
from cranial_sct.phantom.voxelise import TissueFractions

CT_NOISE_HU = 15.0  # default quantum noise (issue 2)
BONE_DENSITY_MM = 25.0  # bone mineral density varies along the skull over a few cm
PSF_FWHM_MM = 0.7  # in-plane resolution of a head CT reconstruction kernel


def simulate_ct(fractions: TissueFractions, rng: np.random.Generator, noise_hu: float = CT_NOISE_HU) -> np.ndarray:
    """Int16 HU volume: partial-volume mixture of per-tissue HU maps, a mild PSF and correlated noise."""
    grid = fractions.grid
    density = {"bone": smooth_field(rng, grid, BONE_DENSITY_MM).ravel(),
               "soft": smooth_field(rng, grid, 15.0).ravel()}
    hu = np.zeros(grid.size, dtype=np.float32)
    for tissue in Tissue:
        counts = fractions.counts[tissue].ravel()
        where = np.flatnonzero(counts)
        if where.size == 0:
            continue
        props = TISSUES[tissue]
        variation = density["bone" if tissue in BONE_TISSUES else "soft"][where]
        value = np.clip(props.hu + props.hu_sd * variation, *props.hu_range)
        hu[where] += counts[where] / fractions.subvoxels * value
    hu = ndimage.gaussian_filter(hu.reshape(grid.shape), PSF_FWHM_MM / 2.3548 / grid.spacing)
    noise = ndimage.gaussian_filter(rng.standard_normal(grid.shape, dtype=np.float32), 0.6)
    hu += noise * (noise_hu / noise.std())
    return np.clip(np.rint(hu), HU_MIN, HU_MAX).astype(np.int16)
