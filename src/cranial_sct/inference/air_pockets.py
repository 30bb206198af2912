"""Air pockets inside the brain: predicted air that no air space of a head could be.

Every air space of a head either opens to the outside (nostrils, mouth, ear canals, or the airway where the field of
view cuts it) or is walled by bone (paranasal sinuses, mastoid cells, the middle ear). A connected piece of predicted
air (sCT below ``AIR_BELOW_HU``) that lies wholly deeper than ``POCKET_DEPTH_MM`` under the head's surface and has
no predicted skull within ``LINING_MM`` of it is neither: it is brain or CSF called air, as a network does with the
darkest CSF. ``predict`` fills such pockets with the HU of the head's other deep tissue, raising a rim around them
to it where darker (:func:`cranial_sct.inference.islands.fill_with_deep_tissue`). Pockets touching the skull are
kept, however deep: a sinus with its wall is right, and the rule judges the lining, not the place.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from cranial_sct.hounsfield import AIR_BELOW_HU
from cranial_sct.inference.islands import CONNECTIVITY

POCKET_DEPTH_MM = 15.0  # under the scalp (about 5 mm) and the vault (about 7 mm): no air space opens this deep without a bony wall
LINING_MM = 4.0  # a sinus or mastoid cell has its bony wall within this (two voxels of the 2-mm plan)


def brain_air_pockets(sct: np.ndarray, skull: np.ndarray, depth_mm: np.ndarray, spacing: Sequence[float],
                      min_depth_mm: float = POCKET_DEPTH_MM) -> np.ndarray:
    """The connected pieces of air inside the head (``depth_mm`` > 0: each voxel's distance to the outside) that lie
    wholly deeper than ``min_depth_mm`` and have no ``skull`` voxel within ``LINING_MM``."""
    air = (np.asarray(sct) < AIR_BELOW_HU) & (depth_mm > 0)
    labels, _ = ndimage.label(air, CONNECTIVITY)
    open_to_outside = np.unique(labels[air & (depth_mm <= min_depth_mm)])
    candidates = air & ~np.isin(labels, open_to_outside)
    pockets = np.zeros(air.shape, bool)
    radii = [max(round(LINING_MM / step), 1) for step in spacing]
    for index, box in enumerate(ndimage.find_objects(np.where(candidates, labels, 0)), start=1):
        if box is None:
            continue
        grown = tuple(slice(max(s.start - r, 0), s.stop + r) for s, r in zip(box, radii))
        piece = labels[grown] == index
        lining = ndimage.distance_transform_edt(~piece, sampling=spacing) <= LINING_MM
        if not (lining & skull[grown]).any():
            pockets[grown] |= piece
    return pockets
