"""One simulated subject in memory: labels, head mask, CT and MR at every requested field/contrast."""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from cranial_sct.io.volume import Volume
from cranial_sct.phantom.anatomy import ShapeParameters
from cranial_sct.phantom.ct import simulate_ct
from cranial_sct.phantom.grids import covering_grid
from cranial_sct.phantom.mr_physics import CONTRASTS, Acquisition, nominal_acquisition, site_acquisition
from cranial_sct.phantom.mr_scanner import TissueVoxels, receive_bias, simulate_mr, transmit_field
from cranial_sct.phantom.sources import PROCEDURAL, AnatomySource, draw_anatomy
from cranial_sct.phantom.tissues import Tissue
from cranial_sct.phantom.voxelise import TissueFractions

# Independent random streams per purpose, so adding a field or contrast never changes the others.
_ANATOMY, _TEXTURE, _CT = 1, 2, 3


def field_key(field_t: float) -> int:
    return int(round(field_t * 1000))


def stream(seed: int, *keys: int) -> np.random.Generator:
    return np.random.default_rng([seed, *keys])


@dataclass
class PhantomSubject:
    """Every volume of one subject, all on one grid (one affine)."""

    subject_id: str
    labels: Volume
    mask: Volume
    ct: Volume
    mr: dict[tuple[float, str], Volume] = field(default_factory=dict)
    acquisitions: dict[float, Acquisition] = field(default_factory=dict)
    shape_parameters: ShapeParameters | None = None  # None for a real head (``anatomy`` records its draw)
    fractions: TissueFractions | None = None  # partial-volume tissue fractions behind ``labels``
    anatomy: dict = field(default_factory=lambda: {"source": PROCEDURAL})


def head_mask(labels: np.ndarray) -> np.ndarray:
    return ndimage.binary_fill_holes(labels != Tissue.BACKGROUND).astype(np.uint8)


def simulate_subject(seed: int, fields: Sequence[float], contrasts: Sequence[str], spacing: float,
                     subject_id: str = "sub-000", anatomy: AnatomySource = AnatomySource(PROCEDURAL, PROCEDURAL),
                     index: int = 0) -> PhantomSubject:
    """Simulate one subject (deterministic in ``seed``) on a grid of ``spacing`` mm, its anatomy drawn from
    ``anatomy`` (subject ``index`` of a cohort: which source head)."""
    unknown = sorted(set(contrasts) - set(CONTRASTS))
    if unknown:
        raise ValueError(f"unknown contrast(s) {unknown}; choose from {CONTRASTS}")
    grid = covering_grid(spacing)
    fractions, shape, record = draw_anatomy(anatomy, index, stream(seed, _ANATOMY), grid)
    labels = fractions.labels
    volume = Volume(labels, grid.affine, {"subject": subject_id})
    subject = PhantomSubject(subject_id, volume, volume.with_array(head_mask(labels)),
                             volume.with_array(simulate_ct(fractions, stream(seed, _CT))),
                             shape_parameters=shape, fractions=fractions, anatomy=record)
    voxels = TissueVoxels.from_fractions(fractions, stream(seed, _TEXTURE))
    # Fields are independent scanners with their own random streams: simulate them concurrently
    # (NumPy and SciPy release the GIL in the heavy loops), results do not depend on the order.
    with ThreadPoolExecutor(max_workers=min(len(fields), os.cpu_count() or 1)) as pool:
        scans = list(pool.map(lambda f: scan_field(voxels, seed, f, contrasts), fields))
    for field_t, (acquisition, images) in zip(fields, scans):
        subject.acquisitions[field_t] = acquisition
        for contrast, image in images.items():
            subject.mr[(field_t, contrast)] = volume.with_array(image, field_T=field_t, contrast=contrast)
    return subject


def scan_field(voxels: TissueVoxels, seed: int, field_t: float,
               contrasts: Sequence[str]) -> tuple[Acquisition, dict[str, np.ndarray]]:
    """Every requested contrast from one (site-jittered) scanner at ``field_t``."""
    rng = stream(seed, field_key(field_t))
    acquisition = site_acquisition(nominal_acquisition(field_t), rng)
    b1, bias = transmit_field(voxels.grid, acquisition, rng), receive_bias(voxels.grid, acquisition, rng)
    images = {}
    for contrast in contrasts:
        noise = stream(seed, field_key(field_t), CONTRASTS.index(contrast))
        images[contrast] = simulate_mr(voxels, acquisition, contrast, b1, bias, noise).astype(np.float32)
    return acquisition, images
