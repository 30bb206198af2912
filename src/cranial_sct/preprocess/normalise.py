"""MR intensity normalisation inside the head mask.

MR intensities have no absolute scale and differ by scanner, field strength and protocol, so every
volume is put on a common scale using statistics from inside the head only (the air outside would
otherwise dominate). Training and inference must call the same function.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

NormMethod = Literal["percentile", "zscore"]


def normalise_mr(
    array: np.ndarray,
    mask: np.ndarray,
    method: NormMethod = "percentile",
    percentiles: tuple[float, float] = (0.5, 99.5),
) -> np.ndarray:
    """Return a float32 copy of ``array`` rescaled from statistics of the voxels where ``mask`` > 0.

    ``percentile`` maps the lower/upper percentile to 0/1 (robust to bright vessels and noise);
    ``zscore`` subtracts the mean and divides by the standard deviation. Outside the mask the result
    is left as computed (not zeroed), so the caller decides how to treat background.
    """
    inside = array[mask > 0].astype(np.float64)
    if inside.size == 0:
        raise ValueError("normalise_mr: empty head mask")
    if method == "percentile":
        low, high = np.percentile(inside, percentiles)
        scale = high - low
        offset = low
    elif method == "zscore":
        offset, scale = inside.mean(), inside.std()
    else:
        raise ValueError(f"unknown normalisation {method!r}; use 'percentile' or 'zscore'")
    if not np.isfinite(scale) or scale <= 0:
        raise ValueError("normalise_mr: constant intensities inside the head mask")
    return (np.asarray(array, np.float32) - np.float32(offset)) / np.float32(scale)  # float32: no whole-volume float64 copy
