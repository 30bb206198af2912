"""N4 bias-field correction (SimpleITK), estimated on a shrunken image for speed.

The field is smooth, so estimating it at a quarter of the resolution loses nothing; it is then
evaluated on the full grid and divided out, which is how N4 is usually run on whole heads.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from cranial_sct.io.sitk_bridge import to_sitk
from cranial_sct.io.volume import Volume


def n4_correct(
    volume: Volume, mask: np.ndarray, shrink: int = 4, iterations: tuple[int, ...] = (50, 50, 30)
) -> Volume:
    """``volume`` divided by its N4 bias field, estimated inside ``mask`` (positive voxels only)."""
    image = to_sitk(volume, volume.array.astype(np.float32))
    fit_mask = to_sitk(volume, (mask & (volume.array > 0)).astype(np.uint8))
    factors = [max(1, min(shrink, n // 8)) for n in image.GetSize()]  # keep at least ~8 voxels per axis
    corrector = sitk.N4BiasFieldCorrectionImageFilter()
    corrector.SetMaximumNumberOfIterations(list(iterations))
    corrector.Execute(sitk.Shrink(image, factors), sitk.Shrink(fit_mask, factors))
    bias = sitk.GetArrayFromImage(sitk.Exp(corrector.GetLogBiasFieldAsImage(image))).transpose(2, 1, 0)
    return volume.with_array((volume.array / bias).astype(np.float32))
