"""Where the tasks aim: the intracranial cavity of the reference CT and targets inside it.

All tasks measure in the reference CT's array coordinates scaled by its voxel spacing (mm along the
array axes), so a target or a beam direction means the same thing on the CT and on the sCT, which
share the grid. The superior axis is read from the affine, so "axial slice" means a slice across it
whatever the file's orientation.
"""

from __future__ import annotations

from collections.abc import Sequence

import nibabel as nib
import numpy as np
from scipy import ndimage

from cranial_sct.hounsfield import AIR_BELOW_HU

CORTICAL_DEPTH_MM = 15.0  # a cortical target lies this far inside the inner table of the skull
SEAL_GAPS_MM = 10.0  # gaps in a slice's bone ring up to this wide are closed before its inside is filled


def superior_axis(affine: np.ndarray) -> int:
    """The array axis that runs along the patient's inferior-superior direction."""
    return int(np.flatnonzero(nib.orientations.io_orientation(affine)[:, 0] == 2)[0])


def intracranial_cavity(ct: np.ndarray, inside: np.ndarray, axis: int, spacing: Sequence[float], bone_threshold_hu: float) -> np.ndarray:
    """What the skull encloses: per axial slice the holes of the bone ring, its gaps up to
    ``SEAL_GAPS_MM`` (a sinus wall, a foramen) sealed first, minus bone and air, inside the head; the
    largest connected piece (the brain's compartment, not an orbit)."""
    bone = (np.asarray(ct) > bone_threshold_hu) & inside
    in_plane = [s for a, s in enumerate(spacing) if a != axis]
    radius = [int(np.ceil(SEAL_GAPS_MM / 2 / s)) for s in in_plane]
    grid = np.indices([2 * r + 1 for r in radius]) - np.reshape(radius, (2, 1, 1))
    disc = ((grid * np.reshape(in_plane, (2, 1, 1))) ** 2).sum(axis=0) <= (SEAL_GAPS_MM / 2) ** 2
    inner = (slice(radius[0], -radius[0]), slice(radius[1], -radius[1]))
    filled = [ndimage.binary_erosion(ndimage.binary_fill_holes(ndimage.binary_dilation(np.pad(s, radius), disc)), disc)[inner]
              for s in np.moveaxis(bone, axis, 0)]  # grow the ring to seal its gaps, fill it, shrink the fill back
    filled = np.moveaxis(np.stack(filled), 0, axis)
    cavity = filled & ~bone & (np.asarray(ct) >= AIR_BELOW_HU) & inside
    labelled, count = ndimage.label(cavity)
    if count == 0:
        return cavity
    sizes = ndimage.sum_labels(cavity, labelled, index=np.arange(1, count + 1))
    return labelled == 1 + int(np.argmax(sizes))


def deep_target(cavity: np.ndarray) -> np.ndarray:
    """The cavity's centroid (voxel coordinates): a deep target such as the thalamus."""
    return np.argwhere(cavity).mean(axis=0)


def cortical_target(cavity: np.ndarray, spacing: Sequence[float], axis: int) -> np.ndarray:
    """A point ``CORTICAL_DEPTH_MM`` inside the cavity's lateral wall, level with its centroid:
    the cavity voxel on the centroid's left-right line closest to that depth under the inner table."""
    depth = ndimage.distance_transform_edt(cavity, sampling=spacing)
    centre = deep_target(cavity)
    lateral = 0 if axis != 0 else 1  # the first in-plane axis (left-right in RAS files)
    line = [int(round(c)) for c in centre]
    line[lateral] = slice(None)
    candidates = np.flatnonzero(cavity[tuple(line)])
    best = candidates[np.argmin(np.abs(depth[tuple(line)][candidates] - CORTICAL_DEPTH_MM))]
    point = centre.copy()
    point[lateral] = best
    return point


def brain_targets(cavity: np.ndarray, spacing: Sequence[float], count: int, margin_mm: float, seed: int = 0) -> np.ndarray:
    """``count`` voxel positions drawn (seeded) from the cavity at least ``margin_mm`` inside its wall."""
    depth = ndimage.distance_transform_edt(cavity, sampling=spacing)
    candidates = np.argwhere(depth >= margin_mm)
    if len(candidates) == 0:
        candidates = np.argwhere(depth == depth.max())
    pick = np.random.default_rng(seed).choice(len(candidates), size=min(count, len(candidates)), replace=False)
    return candidates[np.sort(pick)].astype(np.float64)
