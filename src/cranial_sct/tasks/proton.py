"""Proton range: water-equivalent path length (WEPL) from the skin to targets in the brain.

A proton's range in the patient is set by the stopping power relative to water (RSP) integrated
along its path, so a WEPL error is a range error. HU become RSP through a stoichiometric calibration
curve; by default the piecewise-linear fit of Schneider, Pedroni and Lomax, "The calibration of CT
Hounsfield units for radiotherapy treatment planning", Phys Med Biol 41:111 (1996) (the segments
as plastimatch tabulates them: air 0.00106, water 1 at 0 HU, soft tissue 1 + 0.001174 HU up to
41.46 HU, bone 1.0279 + 0.0005011 HU above). Every scanner needs its own curve: pass it as a CSV.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from cranial_sct.conversion import interpolate_hu_table
from cranial_sct.hounsfield import HU_MAX
from cranial_sct.tasks import geometry

SCHNEIDER_1996_RSP: tuple[tuple[float, float], ...] = (
    (-1000.0, 0.00106),
    (0.0, 1.0),
    (41.46, 1.04867),
    (HU_MAX, 1.0279 + 0.0005011 * HU_MAX),
)
TARGETS = 20  # targets drawn in the brain per case
TARGET_MARGIN_MM = 10.0  # ... at least this deep inside the skull's inner table
AXIAL_BEAMS = 8  # coplanar beam directions, every 45 degrees in the axial plane
VERTEX_BEAMS = 4  # non-coplanar beams from 45 degrees above the axial plane
WITHIN_MM = 1.0
WITHIN_FRACTION = 0.03  # 3 % of the CT's range
METRIC_NAMES = ("proton_wepl_median_mm", "proton_wepl_p95_mm", "proton_wepl_worst_mm", "proton_within_1mm_pct", "proton_within_3pct_pct")


def hu_to_rsp(hu: np.ndarray, table: tuple[tuple[float, float], ...] = SCHNEIDER_1996_RSP) -> np.ndarray:
    """Relative stopping power (water = 1, float32) by linear interpolation in ``table``."""
    return interpolate_hu_table(hu, table)


def beam_directions(axis: int) -> np.ndarray:
    """Unit vectors (mm space, array axes) pointing from a target back to the beam's source:
    ``AXIAL_BEAMS`` in the axial plane and ``VERTEX_BEAMS`` tilted 45 degrees towards the vertex."""
    in_plane = [a for a in range(3) if a != axis]
    directions = []
    for count, elevation in ((AXIAL_BEAMS, 0.0), (VERTEX_BEAMS, np.pi / 4)):
        for angle in np.arange(count) * 2 * np.pi / count:
            vector = np.zeros(3)
            vector[in_plane[0]] = np.cos(angle) * np.cos(elevation)
            vector[in_plane[1]] = np.sin(angle) * np.cos(elevation)
            vector[axis] = np.sin(elevation)
            directions.append(vector)
    return np.asarray(directions)


def wepl_mm(rsp: np.ndarray, spacing: Sequence[float], targets: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """WEPL in mm from outside the volume to each target along each direction, shape (targets, directions).

    RSP is sampled by trilinear interpolation from the target back along the direction until the ray
    leaves the volume (outside counts as vacuum), at most half a voxel apart along every axis (half a
    voxel exactly along the axis the ray runs most along), and integrated with the trapezoid rule,
    which makes a water slab of whole voxels crossed along an axis give its exact thickness.
    """
    spacing = np.asarray(spacing, np.float64)
    length = np.linalg.norm(np.asarray(rsp.shape) * spacing)
    out = np.empty((len(targets), len(directions)))
    for d, direction in enumerate(directions):
        step = float((spacing / np.maximum(np.abs(direction), 1e-12)).min()) / 2
        steps = int(np.ceil(length / step)) + 1
        weights = np.full(steps, step)
        weights[0] = weights[-1] = step / 2
        offsets = (np.arange(steps) * step)[:, None] * (direction / spacing)[None, :]  # voxels travelled along the ray
        points = targets[:, None, :] + offsets[None, :, :]
        samples = ndimage.map_coordinates(rsp, points.reshape(-1, 3).T, order=1, mode="constant", cval=0.0)
        out[:, d] = samples.reshape(len(targets), steps) @ weights
    return out


@dataclass(frozen=True)
class ProtonResult:
    """Per-beam WEPL on the CT and the sCT (mm), and the case's summary figures."""

    wepl_ct: np.ndarray
    wepl_sct: np.ndarray

    @property
    def difference(self) -> np.ndarray:
        return self.wepl_sct - self.wepl_ct

    def metrics(self) -> dict[str, float]:
        """Median signed difference, 95th percentile and worst absolute difference (mm), and the
        share (%) of beams within 1 mm and within 3 % of the CT's WEPL."""
        diff = self.difference.ravel()
        size = np.abs(diff)
        values = (np.median(diff), np.percentile(size, 95), size.max(), 100 * np.mean(size <= WITHIN_MM),
                  100 * np.mean(size <= WITHIN_FRACTION * self.wepl_ct.ravel()))
        return {name: float(value) for name, value in zip(METRIC_NAMES, values)}


def proton_ranges(ct: np.ndarray, sct: np.ndarray, spacing: Sequence[float], cavity: np.ndarray, axis: int,
                  table: tuple[tuple[float, float], ...] = SCHNEIDER_1996_RSP) -> ProtonResult:
    """WEPL of every beam (``beam_directions``) to ``TARGETS`` seeded targets in the cavity, on CT and sCT."""
    targets = geometry.brain_targets(cavity, spacing, TARGETS, TARGET_MARGIN_MM)
    directions = beam_directions(axis)
    return ProtonResult(*(wepl_mm(hu_to_rsp(v, table), spacing, targets, directions) for v in (ct, sct)))
