"""``bulk-density``: the classical sCT (head mask, tissue classes from MR intensity and depth, one HU per class).

No network. Fitting accumulates, over the training cases' head voxels, a histogram per class of
(depth below the head surface, normalised MR intensity) for each contrast, and a histogram of CT HU
per class; prediction labels each head voxel with the class of highest posterior (naive Bayes over
the contrasts given the depth) and assigns that class's median training HU. Voxels outside the head
mask are air at -1000 HU.

Why depth: cortical bone and air are both dark on every conventional MR sequence, and with T1w alone
an intensity-only classifier never calls a voxel bone (measured on the 2-mm phantom: skull Dice 0.000).
Classical bulk-density methods resolve this with anatomy: the skull lies a few millimetres under the
scalp, sinuses and the brain's CSF deeper. Depth is counted in voxels of the network grid, which the
input plan fixes for fitting and prediction alike, so it needs the whole head at once
(``whole_volume``): the window engine gives it the volume in one piece.

Same forward contract as the networks, plus the head mask it needs (``requires_head_mask``):
``model(mr, cond, head_mask) -> {"hu": (B,1,...), "seg_logits": (B,3,...)}``. Contrasts absent at
inference (zero channels, cleared in ``cond``) are left out of the likelihood.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from cranial_sct.errors import InputError
from cranial_sct.hounsfield import CLASSES, HU_AIR, HU_MAX, HU_MIN
from cranial_sct.models.conditioning import CONTRASTS

_HU_RANGE = (int(HU_MIN), int(HU_MAX) + 1)  # histogram range for the per-class median, 1 HU bins
_DEPTH_BINS = 24  # depth below the head surface in voxels, the last bin holding everything deeper
_INTENSITY_RANGE = (-0.5, 1.5)  # normalised MR (percentile 0.5..99.5 -> 0..1), outliers clipped into the end bins
_INTENSITY_BINS = 40
_BLUR_BINS = 1.0  # Gaussian kernel density along intensity: neighbouring bins share their counts
_SMOOTHING = 1e-3  # then added to every bin, so an unseen bin is unlikely, not impossible
_OUTSIDE_LOGIT = 1e4


def depth_in_voxels(head_mask: np.ndarray) -> np.ndarray:
    """Distance of each head voxel to the nearest voxel outside the head, in voxels (0 outside)."""
    padded = np.pad(head_mask > 0, 1)  # the array border counts as outside
    return ndimage.distance_transform_edt(padded)[1:-1, 1:-1, 1:-1]


def _bins(mr: np.ndarray, depth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Depth bin per voxel and intensity bin per (channel, voxel)."""
    depth_bin = np.minimum(np.floor(depth), _DEPTH_BINS).astype(np.int64) - 1  # depth >= 1 inside the head
    scaled = (mr - _INTENSITY_RANGE[0]) / (_INTENSITY_RANGE[1] - _INTENSITY_RANGE[0]) * _INTENSITY_BINS
    return np.clip(depth_bin, 0, _DEPTH_BINS - 1), np.clip(np.floor(scaled), 0, _INTENSITY_BINS - 1).astype(np.int64)


class BulkDensityModel(nn.Module):
    requires_head_mask = True
    whole_volume = True

    def __init__(self, contrasts: Sequence[str]) -> None:
        super().__init__()
        n_classes, n_channels = len(CLASSES), len(contrasts)
        self.register_buffer("channel_slots", torch.tensor([2 + CONTRASTS.index(c) for c in contrasts]))
        self.register_buffer("count", torch.zeros(n_classes, dtype=torch.float64))
        self.register_buffer("depth_histogram", torch.zeros(n_classes, _DEPTH_BINS, dtype=torch.float64))
        self.register_buffer("joint_histogram", torch.zeros(n_classes, n_channels, _DEPTH_BINS, _INTENSITY_BINS, dtype=torch.float64))
        self.register_buffer("hu_histogram", torch.zeros(n_classes, _HU_RANGE[1] - _HU_RANGE[0], dtype=torch.float64))

    def accumulate(self, mr: np.ndarray, classes: np.ndarray, ct: np.ndarray, head_mask: np.ndarray, present: Sequence[bool] = ()) -> None:
        """Add one training case: ``mr`` (C,D,H,W) normalised, ``classes`` / ``ct`` / ``head_mask`` (D,H,W);
        ``present`` flags the channels the case has (default all): absent ones add nothing."""
        inside = head_mask > 0
        depth_bin, intensity_bin = _bins(mr[:, inside], depth_in_voxels(head_mask)[inside])
        labels = classes[inside].astype(np.int64)
        hu = np.clip(np.rint(ct[inside]), _HU_RANGE[0], _HU_RANGE[1] - 1).astype(np.int64) - _HU_RANGE[0]
        for k in range(len(CLASSES)):
            picked = labels == k
            self.count[k] += float(picked.sum())
            self.depth_histogram[k] += torch.from_numpy(np.bincount(depth_bin[picked], minlength=_DEPTH_BINS).astype(np.float64))
            for c in (c for c in range(mr.shape[0]) if not present or present[c]):
                flat = depth_bin[picked] * _INTENSITY_BINS + intensity_bin[c, picked]
                joint = np.bincount(flat, minlength=_DEPTH_BINS * _INTENSITY_BINS).reshape(_DEPTH_BINS, _INTENSITY_BINS)
                self.joint_histogram[k, c] += torch.from_numpy(joint.astype(np.float64))
            self.hu_histogram[k] += torch.from_numpy(np.bincount(hu[picked], minlength=self.hu_histogram.shape[1]).astype(np.float64))

    def class_hu(self) -> torch.Tensor:
        """Median training HU per class (-1000 for a class never seen)."""
        cumulative = self.hu_histogram.cumsum(1)
        median_bin = (cumulative < cumulative[:, -1:] / 2).sum(1)
        return torch.where(self.count > 0, median_bin.double() + _HU_RANGE[0], torch.full_like(self.count, HU_AIR))

    def _log_posterior(self, mr: np.ndarray, head_mask: np.ndarray, present: np.ndarray) -> np.ndarray:
        """(classes, D, H, W): log P(class) + log P(depth | class) + sum over present contrasts of
        log P(intensity | depth, class)."""
        depth_bin, intensity_bin = _bins(mr, depth_in_voxels(head_mask))
        joint = ndimage.gaussian_filter1d(self.joint_histogram.numpy(), _BLUR_BINS, axis=-1, mode="nearest") + _SMOOTHING
        joint = joint / joint.sum(-1, keepdims=True)  # P(intensity | depth, class) per channel
        depth = self.depth_histogram.numpy() + _SMOOTHING
        prior = (self.count / self.count.sum()).numpy()
        logits = np.log(prior)[:, None, None, None] + np.log(depth / depth.sum(1, keepdims=True))[:, depth_bin]
        for c in np.flatnonzero(present):
            logits = logits + np.log(joint[:, c, depth_bin, intensity_bin[c]])
        return logits

    def forward(self, mr: torch.Tensor, cond: torch.Tensor, head_mask: torch.Tensor) -> dict[str, torch.Tensor]:
        if not bool((self.count > 0).all()):
            raise InputError("bulk-density model is not fitted on cases containing air, soft tissue and bone")
        present = (cond[:, self.channel_slots] > 0).cpu().numpy()
        masks = head_mask[:, 0].cpu().numpy() > 0
        logits = np.stack([self._log_posterior(m, h, p) for m, h, p in zip(mr.detach().cpu().numpy(), masks, present)])
        logits = np.where(masks[:, None], logits, np.array([_OUTSIDE_LOGIT, 0.0, 0.0])[None, :, None, None, None])
        logits_t = torch.from_numpy(logits).to(mr.device)
        hu = self.class_hu().to(mr.device)[logits_t.argmax(1, keepdim=True)]
        hu = torch.where(head_mask > 0, hu, torch.full_like(hu, HU_AIR))
        return {"hu": hu.float(), "seg_logits": logits_t.float()}
