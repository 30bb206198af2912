"""Bone islands deep inside the head: predicted skull that no bone of the head could be.

Every bone of the head and neck (vault, skull base, face, mandible, hyoid, the vertebrae's arches) comes within
``ISLAND_DEPTH_MM`` of the skin or is joined to one that does. A connected piece of predicted skull lying wholly
deeper is a network calling dark CSF bone (real ventricles and cisterns, which phantom-trained models do: the
lateral ventricles' bodies are a dark band between bright layers, as a vault is). ``predict`` removes such
pieces and gives their voxels the HU of the head's other deep tissue. On the real scans of docs/builtin.md this takes
the shipped model's bone inside the brain from 5.0 / 2.1 mL to 0.2 / 0.2 mL and leaves skull Dice unchanged.
Pieces joined to the skull, however deep (the skull base), are kept: the rule judges connectivity, not depth.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

ISLAND_DEPTH_MM = 25.0  # deeper than any head-and-neck bone that is not joined to another
RIM_MM = 4.0  # around an island, tinted by the bone the network saw there (two voxels of the 2-mm plan): replaced too
CONNECTIVITY = np.ones((3, 3, 3), bool)  # 26-neighbourhood: a diagonal touch joins two pieces


def deep_islands(skull: np.ndarray, depth_mm: np.ndarray, min_depth_mm: float = ISLAND_DEPTH_MM) -> np.ndarray:
    """The connected pieces of ``skull`` whose every voxel lies more than ``min_depth_mm`` under the head's
    surface (``depth_mm``: each voxel's distance to the outside of the head)."""
    labels, count = ndimage.label(skull, CONNECTIVITY)
    if count == 0:
        return np.zeros(skull.shape, bool)
    shallowest = ndimage.minimum(depth_mm, labels, np.arange(1, count + 1))
    return np.isin(labels, 1 + np.flatnonzero(np.asarray(shallowest) > min_depth_mm))


def fill_with_deep_tissue(sct: np.ndarray, islands: np.ndarray, keep: np.ndarray, deep: np.ndarray, spacing: Sequence[float]) -> np.ndarray:
    """``sct`` with the islands and their ``RIM_MM`` rims set to the median HU of the rest of the head's ``deep`` tissue
    (brain, mostly), leaving ``keep`` (the skull that stays) as it is. One value for all: the network's soft
    tissue next to a false bone is tinted by it (measured up to 190 HU on mne_sample), the deep tissue is not."""
    replaced = ndimage.binary_dilation(islands, CONNECTIVITY, iterations=max(round(RIM_MM / min(spacing)), 1)) & ~keep
    reference = deep & ~keep & ~replaced
    filled = np.array(sct, copy=True)
    if reference.any():
        filled[replaced] = np.median(sct[reference])
    return filled
