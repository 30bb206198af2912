"""``bulk-density``: the classical sCT (head mask, MR-intensity tissue classes, one HU per class).

No network. Fitting accumulates, over the training cases' head voxels, a diagonal Gaussian of the
normalised MR intensities per class (air, soft, bone; classes from CT thresholds) and a histogram of
CT HU per class; prediction labels each head voxel with the most likely class and assigns that
class's median training HU. Voxels outside the head mask are air at -1000 HU. Dark cortical bone
and dark air cells look alike on MR, which is exactly the weakness the cascade addresses.

Same forward contract as the networks, plus the head mask it needs (``requires_head_mask``):
``model(mr, cond, head_mask) -> {"hu": (B,1,...), "seg_logits": (B,3,...)}``. Contrasts absent at
inference (zero channels, cleared in ``cond``) are left out of the likelihood.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from cranial_sct.errors import InputError
from cranial_sct.hounsfield import CLASSES, HU_AIR
from cranial_sct.models.conditioning import CONTRASTS

_HU_RANGE = (-1024, 3072)  # histogram range for the per-class median, 1 HU bins
_OUTSIDE_LOGIT = 1e4


class BulkDensityModel(nn.Module):
    requires_head_mask = True

    def __init__(self, contrasts: Sequence[str]) -> None:
        super().__init__()
        n_classes, n_channels = len(CLASSES), len(contrasts)
        self.register_buffer("channel_slots", torch.tensor([2 + CONTRASTS.index(c) for c in contrasts]))
        self.register_buffer("count", torch.zeros(n_classes, dtype=torch.float64))
        self.register_buffer("intensity_sum", torch.zeros(n_classes, n_channels, dtype=torch.float64))
        self.register_buffer("intensity_sq_sum", torch.zeros(n_classes, n_channels, dtype=torch.float64))
        self.register_buffer("hu_histogram", torch.zeros(n_classes, _HU_RANGE[1] - _HU_RANGE[0], dtype=torch.float64))

    def accumulate(self, mr: np.ndarray, classes: np.ndarray, ct: np.ndarray, head_mask: np.ndarray) -> None:
        """Add one training case: ``mr`` (C,D,H,W) normalised, ``classes`` / ``ct`` / ``head_mask`` (D,H,W)."""
        inside = head_mask > 0
        values = torch.from_numpy(mr[:, inside].T.astype(np.float64))
        labels = torch.from_numpy(classes[inside].astype(np.int64))
        hu = torch.from_numpy(np.clip(np.rint(ct[inside]), _HU_RANGE[0], _HU_RANGE[1] - 1).astype(np.int64))
        for k in range(len(CLASSES)):
            picked = labels == k
            self.count[k] += picked.sum()
            self.intensity_sum[k] += values[picked].sum(0)
            self.intensity_sq_sum[k] += (values[picked] ** 2).sum(0)
            self.hu_histogram[k] += torch.bincount(hu[picked] - _HU_RANGE[0], minlength=self.hu_histogram.shape[1])

    def class_hu(self) -> torch.Tensor:
        """Median training HU per class (-1000 for a class never seen)."""
        cumulative = self.hu_histogram.cumsum(1)
        median_bin = (cumulative < cumulative[:, -1:] / 2).sum(1)
        return torch.where(self.count > 0, median_bin.double() + _HU_RANGE[0], torch.full_like(self.count, HU_AIR))

    def forward(self, mr: torch.Tensor, cond: torch.Tensor, head_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        if not bool((self.count > 0).all()):
            raise InputError("bulk-density model is not fitted on cases containing air, soft tissue and bone")
        spatial = [1] * (mr.ndim - 2)
        mean = self.intensity_sum / self.count[:, None]
        var = (self.intensity_sq_sum / self.count[:, None] - mean**2).clamp_min(1e-6)
        # Gaussian log-likelihood per (batch, class, channel, voxel); absent contrasts weigh zero.
        log_likelihood = -0.5 * (
            (mr.double().unsqueeze(1) - mean.view(1, *mean.shape, *spatial)) ** 2 / var.view(1, *var.shape, *spatial)
            + var.log().view(1, *var.shape, *spatial)
        )
        present = cond[:, self.channel_slots].double().view(mr.shape[0], 1, -1, *spatial)
        log_prior = (self.count / self.count.sum()).log().view(1, -1, *spatial)
        logits = (log_likelihood * present).sum(2) + log_prior
        outside = head_mask <= 0
        air_only = torch.tensor([_OUTSIDE_LOGIT, 0.0, 0.0], dtype=logits.dtype, device=logits.device)
        logits = torch.where(outside, air_only.view(1, -1, *spatial), logits)
        hu = self.class_hu()[logits.argmax(1, keepdim=True)]
        hu = torch.where(outside, torch.full_like(hu, HU_AIR), hu)
        return {"hu": hu.float(), "seg_logits": logits.float()}
