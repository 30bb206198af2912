"""Training-time randomisation so a model trained at one field strength meets the others.

Applied to a normalised MR patch:
- TorchIO MR artefacts: bias field (B1 inhomogeneity, worse at 7 T), noise (low SNR at 0.064 T),
  gamma (contrast), blur and anisotropic down-sampling (thick low-field slices), motion, ghosting.
- SynthSeg-style contrast re-mapping (Billot et al., Med Image Anal 2023): every tissue gets a random
  gain and offset per channel, so the network cannot rely on one protocol's tissue contrast.
- Marrow: the diploe's own signal gain per channel. The phantom's diploe is fatty marrow, bright on
  T1w between two dark tables; red (haematopoietic) marrow, common in younger heads, is nearly as dark
  as the tables, so many real vaults are one dark band that a model taught only the bright sandwich
  reads as CSF on its inner side.
- Scalp fat: the subcutaneous fat's own signal gain per channel. The phantom's scalp over the vault is a
  3.5-mm layer of pure fat, about twice white matter on T1w at 1.5 T; in the real T1w scans of
  ``realdev`` the vault's scalp reads 0.6-0.8 x white matter (fat mixed with fibrous septa and the galea).
  Alone it did not move the built-in model's vault band; with the marrow gain it lifted both real scans
  (docs/notes/builtin.md, G2), so the built-in model's second phase uses both.
- Spatial: a random rotation and per-axis scaling about the patch centre (SynthSeg's spatial
  randomisation without the elastic part), so a few phantom heads stand for many poses, head sizes and
  skull thicknesses; real scans are tilted by 10-20 degrees where the phantom's poses vary by 2.5.
- Field of view: the scan ends inside the patch (necks and tops of heads cut off, as many real scans
  are): beyond a random axial plane the patch is what ``predict`` sees past a volume's edge (zero MR,
  zero head mask, the window engine's padding) and the target is air.
Left-right mirroring (the one anatomically valid mirror), the spatial transform and the field-of-view
cut are drawn here and applied by the patch sampler to every array of the patch together. Then channel dropout (any subset of contrasts must work at inference) and condition dropout (the
field strength may be unknown). All randomness comes from the caller's generator, so a patch's
augmentation is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torchio as tio
from scipy import ndimage
from scipy.spatial.transform import Rotation

from cranial_sct.hounsfield import AIR, HU_AIR
from cranial_sct.models.conditioning import CONTRASTS, hide_field
from cranial_sct.phantom.tissues import Tissue
from cranial_sct.training.config import AugmentConfig

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


def remap_tissue_contrast(mr: np.ndarray, tissues: np.ndarray, rng: np.random.Generator, gain_range: Sequence[float]) -> np.ndarray:
    """Give every tissue label its own random gain (``augment.remap_gain_range``) and offset, per channel."""
    labels, inverse = np.unique(tissues, return_inverse=True)
    gain = rng.uniform(*gain_range, size=(mr.shape[0], len(labels)))
    offset = rng.uniform(*OFFSET_RANGE, size=(mr.shape[0], len(labels)))
    inverse = inverse.reshape(tissues.shape)
    return (mr * gain[:, inverse] + offset[:, inverse]).astype(np.float32)


def scale_tissue(mr: np.ndarray, tissues: np.ndarray, tissue: Tissue, rng: np.random.Generator, gain_range: Sequence[float]) -> np.ndarray:
    """Scale one tissue's signal by one random gain per channel (the diploe: ``augment.marrow_gain_range``;
    the scalp's fat: ``augment.fat_gain_range``). Only phantom tissue labels name tissues; cases without
    labels (three-class maps) pass unchanged."""
    gain = rng.uniform(*gain_range, size=mr.shape[0]).astype(np.float32)
    where = tissues == tissue
    out = mr.copy()
    out[:, where] *= gain[:, None]
    return out


def spatial_matrix(rotation_deg: float, scale_range: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """Patch voxel -> case voxel directions: rotation up to ``rotation_deg`` about each axis, then a scale per
    axis from ``scale_range`` (> 1 shows a larger head, thicker skull, on the same patch)."""
    rotation = Rotation.from_euler("xyz", rng.uniform(-rotation_deg, rotation_deg, 3), degrees=True).as_matrix()
    return rotation @ np.diag(1.0 / rng.uniform(*scale_range, 3))


def resample_patch(array: np.ndarray, centre: np.ndarray, matrix: np.ndarray, shape: Sequence[int], order: int) -> np.ndarray:
    """The ``shape`` patch of ``array`` (leading channel axes kept) centred on ``centre`` and seen through
    ``matrix``; outside the case the edge value continues (the case is already cropped to the head plus margin).

    scipy's affine_transform samples only the patch's points from the whole case, so no padded window and no
    border artefact; TorchIO's RandomAffine would transform a whole image, or pad a patch's corners."""
    half = np.array(shape) // 2  # the plain crop's centre voxel, so the identity matrix gives exactly that crop
    offset = np.asarray(centre, float) - matrix @ half
    flat = array.reshape((-1, *array.shape[-3:]))
    out = [ndimage.affine_transform(a, matrix, offset, output_shape=tuple(shape), order=order, mode="nearest", prefilter=False)
           for a in flat]
    return np.stack(out).reshape((*array.shape[:-3], *shape))


FOV_AXIS = 2  # inferior-superior: spatial axis 2 of the plan's RAS arrays (a patch's channel axis comes first)


def cut_field_of_view(mr: np.ndarray, ct: np.ndarray, mask: np.ndarray, classes: np.ndarray, position: int,
                      keep_below: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Copies of a patch's (channel, x, y, z) arrays blanked beyond axial plane ``position``:
    MR and head mask 0 (the window engine's padding past a volume's edge), CT and classes air."""
    beyond = (Ellipsis, slice(position, None) if keep_below else slice(0, position))
    out = tuple(array.copy() for array in (mr, ct, mask, classes))
    for array, fill in zip(out, (0.0, HU_AIR, 0, AIR)):
        array[beyond] = fill
    return out


class Augmenter:
    def __init__(self, config: AugmentConfig, contrasts: list[str]) -> None:
        self.config = config
        self.slots = [2 + CONTRASTS.index(c) for c in contrasts]  # each channel's flag in the condition vector
        self.artefacts = artefacts(config.artefact_probability)

    def mirror_axes(self, rng: np.random.Generator) -> list[int]:
        """Spatial axes to mirror this patch along: each of ``flip_axes`` with ``flip_probability``
        (left-right by default, the one mirror a head allows; test-time augmentation uses only these)."""
        return [axis for axis in self.config.flip_axes if rng.random() < self.config.flip_probability]

    def spatial(self, rng: np.random.Generator) -> np.ndarray | None:
        """This patch's spatial matrix (``spatial_probability``), or None for a plain crop."""
        if self.config.spatial_probability <= 0 or rng.random() >= self.config.spatial_probability:
            return None  # no draw when off, so configs without it keep their exact random stream
        return spatial_matrix(self.config.rotation_deg, self.config.scale_range, rng)

    def field_of_view(self, rng: np.random.Generator, length: int) -> tuple[int, bool] | None:
        """Where this patch's scan ends (plane index, whether the part below it is kept), or None (``fov_cut_probability``)."""
        if self.config.fov_cut_probability <= 0 or rng.random() >= self.config.fov_cut_probability:
            return None  # no draw when off, as for the spatial transform
        return int(rng.integers(length // 4, length)), bool(rng.random() < 0.5)

    def __call__(
        self, mr: np.ndarray, tissues: np.ndarray, cond: torch.Tensor, rng: np.random.Generator
    ) -> tuple[np.ndarray, torch.Tensor]:
        present = [i for i, slot in enumerate(self.slots) if cond[slot] > 0]
        mr = mr.copy()
        for tissue, probability, gain_range in ((Tissue.DIPLOE, self.config.marrow_probability, self.config.marrow_gain_range),
                                                (Tissue.FAT, self.config.fat_probability, self.config.fat_gain_range)):
            if probability > 0 and rng.random() < probability:  # no draw when off
                mr[present] = scale_tissue(mr[present], tissues, tissue, rng, gain_range)
        if rng.random() < self.config.tissue_remap_probability:
            mr[present] = remap_tissue_contrast(mr[present], tissues, rng, self.config.remap_gain_range)
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
