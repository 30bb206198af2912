"""Training-time randomisation so a model trained at one field strength meets the others.

Two families, applied to a normalised MR patch:
- TorchIO MR artefacts: bias field (B1 inhomogeneity, worse at 7 T), noise (low SNR at 0.064 T),
  gamma (contrast), blur and anisotropic down-sampling (thick low-field slices), motion, ghosting.
- SynthSeg-style contrast re-mapping (Billot et al., Med Image Anal 2023): every tissue gets a random
  gain and offset per channel, so the network cannot rely on one protocol's tissue contrast.
Left-right mirroring (the one anatomically valid mirror) is drawn here and applied by the patch
sampler to every array of the patch together. Then channel dropout (any subset of contrasts must work at inference) and condition dropout (the
field strength may be unknown). All randomness comes from the caller's generator, so a patch's
augmentation is reproducible.
"""

from __future__ import annotations

import numpy as np
import torch
import torchio as tio

from cranial_sct.models.conditioning import CONTRASTS, hide_field
from cranial_sct.training.config import AugmentConfig

GAIN_RANGE = (0.75, 1.25)
OFFSET_RANGE = (-0.1, 0.1)


def artefacts(probability: float) -> tio.Compose:
    """The TorchIO MR artefact chain; ranges are on the normalised (roughly 0..1) intensity scale."""
    return tio.Compose(
        [
            tio.RandomBiasField(coefficients=0.5, p=probability),
            tio.RandomNoise(std=(0.0, 0.05), p=probability),
            tio.RandomGamma(log_gamma=(-0.3, 0.3), p=probability),
            tio.RandomBlur(std=(0.0, 1.0), p=probability),
            tio.RandomAnisotropy(downsampling=(1.5, 4.0), p=probability),
            tio.RandomMotion(num_transforms=1, p=probability),
            tio.RandomGhosting(intensity=(0.2, 0.6), p=probability),
        ]
    )


def remap_tissue_contrast(mr: np.ndarray, tissues: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Give every tissue label its own random gain and offset, per channel."""
    labels, inverse = np.unique(tissues, return_inverse=True)
    gain = rng.uniform(*GAIN_RANGE, size=(mr.shape[0], len(labels)))
    offset = rng.uniform(*OFFSET_RANGE, size=(mr.shape[0], len(labels)))
    inverse = inverse.reshape(tissues.shape)
    return (mr * gain[:, inverse] + offset[:, inverse]).astype(np.float32)


class Augmenter:
    def __init__(self, config: AugmentConfig, contrasts: list[str]) -> None:
        self.config = config
        self.slots = [2 + CONTRASTS.index(c) for c in contrasts]  # each channel's flag in the condition vector
        self.artefacts = artefacts(config.artefact_probability)

    def mirror_axes(self, rng: np.random.Generator) -> list[int]:
        """Spatial axes to mirror this patch along: each of ``flip_axes`` with ``flip_probability``
        (left-right by default, the one mirror a head allows; test-time augmentation uses only these)."""
        return [axis for axis in self.config.flip_axes if rng.random() < self.config.flip_probability]

    def __call__(
        self, mr: np.ndarray, tissues: np.ndarray, cond: torch.Tensor, rng: np.random.Generator
    ) -> tuple[np.ndarray, torch.Tensor]:
        present = [i for i, slot in enumerate(self.slots) if cond[slot] > 0]
        mr = mr.copy()
        if rng.random() < self.config.tissue_remap_probability:
            mr[present] = remap_tissue_contrast(mr[present], tissues, rng)
        with torch.random.fork_rng(devices=[]):  # TorchIO draws from torch's global generator
            torch.manual_seed(int(rng.integers(2**31)))
            mr[present] = self.artefacts(tio.ScalarImage(tensor=torch.from_numpy(mr[present]))).numpy()
        cond = cond.clone()
        dropped = [i for i in present if rng.random() < self.config.channel_dropout]
        for i in dropped[: len(present) - 1]:  # always keep at least one contrast
            mr[i] = 0.0
            cond[self.slots[i]] = 0.0
        if rng.random() < self.config.condition_dropout:
            cond = hide_field(cond)
        return mr, cond
