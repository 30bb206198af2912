"""The head split into the vault and the skull base with the face, so that every skull score can say where it fails.

Rule: the vault is the part of the head above a horizontal plane set at ``VAULT_SHARE`` (45 %) of the reference
skull's height below its top; everything under the plane (skull base, orbits, face, mandible, upper spine) is
"base". Height is the world's superior axis (RAS z of each voxel centre, through the affine), and the skull's
height runs from its lowest to its highest voxel (the reference bone: CT above the bone threshold in the head).
Why by height: it needs nothing but the reference skull, so it applies to the phantom, to a CT-derived head and to
a real scan alike, and it is the split of issue 21's figures (docs/notes/anatomy-vs-ct.md gives the share of the
bone it puts in the vault on real and phantom CTs). Two caveats: the plane moves with the field of view (a scan cut at the jaw puts it lower than one
reaching C3), and it does not follow a tilted head; the orbitomeatal plane would, but needs landmarks that no
reference here has.
"""

from __future__ import annotations

import numpy as np

VAULT_SHARE = 0.45  # the vault: the upper 45 % of the skull's height
REGIONS = {"vault": "vault", "base": "skull base + face"}  # "base": skull base, face, mandible and upper spine, all under the vault


def world_height(shape: tuple[int, ...], affine: np.ndarray) -> np.ndarray:
    """Each voxel centre's height in mm: its world (RAS) superior coordinate."""
    index = np.ogrid[tuple(slice(n) for n in shape)]
    return affine[2, 3] + sum(affine[2, k] * index[k] for k in range(len(shape)))


def vault_floor_mm(skull: np.ndarray, affine: np.ndarray) -> float:
    """The height of the plane between vault and base: ``VAULT_SHARE`` of ``skull``'s height below its top."""
    height = world_height(skull.shape, affine)[np.asarray(skull, bool)]
    top, bottom = float(height.max()), float(height.min())
    return top - VAULT_SHARE * (top - bottom)


def head_regions(skull: np.ndarray, affine: np.ndarray) -> dict[str, np.ndarray]:
    """``{"vault": voxels above the plane, "base": voxels under it}`` for the grid of ``skull`` (the reference
    skull, not empty), as whole half-spaces: intersect them with any mask to split it."""
    above = world_height(skull.shape, affine) > vault_floor_mm(skull, affine)
    return {"vault": above, "base": ~above}
