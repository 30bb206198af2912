"""Bone islands deep inside the head: predicted skull that no bone of the head could be.

Every bone of the head and neck (vault, skull base, face, mandible, hyoid, the vertebrae's arches) comes within
``ISLAND_DEPTH_MM`` of the skin or is joined to one that does. A connected piece of predicted skull lying wholly
deeper is a network calling dark CSF bone (real ventricles and cisterns, which phantom-trained models do: the
lateral ventricles' bodies are a dark band between bright layers, as a vault is). ``predict`` removes such
pieces and gives their voxels the HU of the head's other deep tissue. On the real scans of docs/notes/builtin.md this takes
the built-in model's bone inside the brain from 3.48 / 0.59 mL to 0.28 / 0.12 mL and leaves skull Dice unchanged.
Pieces joined to the skull, however deep (the skull base), are kept: the rule judges connectivity, not depth.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import ndimage

ISLAND_DEPTH_MM = 25.0  # deeper than any head-and-neck bone that is not joined to another
RIM_MM = 4.0  # around an island (a box), tinted by the bone the network saw there (two voxels of the 2-mm plan)
CONNECTIVITY = np.ones((3, 3, 3), bool)  # 26-neighbourhood: a diagonal touch joins two pieces


def deep_islands(skull: np.ndarray, depth_mm: np.ndarray, min_depth_mm: float = ISLAND_DEPTH_MM) -> np.ndarray:
    """The connected pieces of ``skull`` whose every voxel lies more than ``min_depth_mm`` under the head's
    surface (``depth_mm``: each voxel's distance to the outside of the head)."""
    labels, _ = ndimage.label(skull, CONNECTIVITY)
    reaching_up = np.unique(labels[skull & (depth_mm <= min_depth_mm)])  # pieces with a voxel near the skin
    return skull & ~np.isin(labels, reaching_up)


def fill_with_deep_tissue(sct: np.ndarray, islands: np.ndarray, keep: np.ndarray, deep: np.ndarray, spacing: Sequence[float],
                          rim_limit: Callable[[np.ndarray, Any], np.ndarray] = np.minimum) -> np.ndarray:
    """``sct`` with the islands set to the median HU of the rest of the head's ``deep`` tissue (brain, mostly), and
    their ``RIM_MM`` rims lowered to it where brighter (``rim_limit`` ``np.minimum``; ``np.maximum`` raises them where
    darker, for false air); ``keep`` (the skull that stays) is left as it is. One value for all: the network's soft
    tissue next to a false bone is tinted by it (up to 190 HU on mne_sample), the deep tissue is not; lowering only
    keeps air and fat in a rim as they are, raising keeps bone."""
    filled = np.array(sct, copy=True)
    if not islands.any():
        return filled
    radii = [max(round(RIM_MM / step), 1) for step in spacing]  # per axis: slices may be thicker than pixels
    box = tuple(slice(max(s.start - r, 0), s.stop + r) for s, r in zip(ndimage.find_objects(islands.astype(np.uint8))[0], radii))
    rim = np.zeros(islands.shape, bool)
    rim[box] = ndimage.maximum_filter(islands[box], size=[2 * r + 1 for r in radii]) & ~keep[box] & ~islands[box]
    reference = deep & ~keep & ~islands & ~rim
    if reference.any():
        value = np.median(sct[reference])
        filled[islands] = value
        filled[rim] = rim_limit(sct[rim], value)
    return filled
