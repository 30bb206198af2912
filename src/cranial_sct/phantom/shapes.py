"""Signed distance functions (mm, negative inside) of the primitives the head is built from.

The approximations follow the usual closed forms (ellipsoid: bound by Quilez's k0*(k0-1)/k1); they
are exact on the surface, which is where thresholds are taken, and smooth away from it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Points = tuple[np.ndarray, np.ndarray, np.ndarray]


def ellipsoid(p: Points, centre: Sequence[float], semi: Sequence[float]) -> np.ndarray:
    q = [(p[k] - float(centre[k])) for k in range(3)]
    k0 = np.sqrt(sum((q[k] / semi[k]) ** 2 for k in range(3)))
    k1 = np.sqrt(sum((q[k] / semi[k] ** 2) ** 2 for k in range(3)))
    return (k0 * (k0 - 1.0) / np.maximum(k1, 1e-6)).astype(np.float32)


def round_cone(p: Points, a: Sequence[float], b: Sequence[float], ra: float, rb: float) -> np.ndarray:
    """A capsule from ``a`` (radius ``ra``) to ``b`` (radius ``rb``)."""
    ab = [float(b[k] - a[k]) for k in range(3)]
    q = [p[k] - float(a[k]) for k in range(3)]
    h = np.clip(sum(q[k] * ab[k] for k in range(3)) / sum(c * c for c in ab), 0.0, 1.0)
    dist = np.sqrt(sum((q[k] - h * ab[k]) ** 2 for k in range(3)))
    return (dist - (ra + h * (rb - ra))).astype(np.float32)


def mirrored(shape, p: Points, *args) -> np.ndarray:
    """A shape defined on the right (x > 0) together with its mirror image on the left."""
    return shape((np.abs(p[0]), p[1], p[2]), *args)


def mirrored_cone(p: Points, a, b, ra: float, rb: float) -> np.ndarray:
    return mirrored(round_cone, p, a, b, ra, rb)


def smooth_union(*sdfs: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum: joins shapes with a fillet of about ``k`` mm (no creases)."""
    out = sdfs[0]
    for d in sdfs[1:]:
        h = np.clip(0.5 + 0.5 * (d - out) / k, 0.0, 1.0)
        out = d + (out - d) * h - k * h * (1.0 - h)
    return out.astype(np.float32)


def sigmoid(x: np.ndarray, width: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x / width))
