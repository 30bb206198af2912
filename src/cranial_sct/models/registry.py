"""Build any model from its config, by name: the one entry point for training and inference.

Forward contract of every model: ``model(mr, cond) -> dict[str, Tensor]`` with
``mr`` (B, C, D, H, W) normalised MR, channels in ``ModelConfig.contrasts`` order (an absent
contrast is a zero channel, and its flag in ``cond`` is 0); ``cond`` (B, COND_DIM) from
:func:`cranial_sct.models.conditioning.encode_condition`. Keys:

- ``hu`` (B, 1, D, H, W): the sCT in Hounsfield units (always present);
- ``seg_logits`` (B, 3, D, H, W): logits for (air, soft tissue, bone) (``cascade`` and ``bulk-density``);
- ``hu_soft``, ``hu_bone`` (B, 1, D, H, W): the cascade's per-region HU before composition.

``bulk-density`` also needs the head mask: ``model(mr, cond, head_mask)`` with head_mask
(B, 1, D, H, W); it advertises this with ``requires_head_mask = True``.
Patch sides must suit the backbone: see :func:`check_patch_size`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from torch import nn

from cranial_sct.errors import InputError
from cranial_sct.models.backbones import Backbone
from cranial_sct.models.backbones.mamba import build_mamba_unet
from cranial_sct.models.backbones.resunet import build_resunet
from cranial_sct.models.backbones.transformer import SwinUNETRBackbone
from cranial_sct.models.bulk_density import BulkDensityModel
from cranial_sct.models.cascade import CascadeModel
from cranial_sct.models.conditioning import COND_DIM, CONTRASTS
from cranial_sct.models.direct import DirectModel

ModelKind = Literal["cascade", "direct", "bulk-density"]
BackboneName = Literal["resunet", "mamba", "transformer"]


@dataclass
class ModelConfig:
    kind: ModelKind = "cascade"
    backbone: BackboneName = "resunet"
    contrasts: list[str] = field(default_factory=lambda: ["t1w"])  # input channel order
    features: list[int] = field(default_factory=lambda: [8, 16, 32, 64])  # channels per U-Net level (CPU-sized)
    half_resolution_stem: bool = True  # U-Net starts at stride 2 (about 5x faster on CPU); false on big GPUs
    mamba_levels: list[int] = field(default_factory=lambda: [1, 2, 3])  # encoder levels with a Mamba layer
    mamba_d_state: int = 16
    transformer_feature_size: int = 12  # SwinUNETR feature_size (a multiple of 12)


def validate(config: ModelConfig) -> None:
    """Refuse configs that cannot build, naming the option to fix."""
    unknown = [c for c in config.contrasts if c not in CONTRASTS]
    if unknown or not config.contrasts or len(set(config.contrasts)) != len(config.contrasts):
        raise InputError(f"model.contrasts must be distinct names from {', '.join(CONTRASTS)}, got {config.contrasts}")
    if not config.features or min(config.features) < 1:
        raise InputError(f"model.features must be positive channel counts, got {config.features}")
    if config.transformer_feature_size % 12:
        raise InputError(f"model.transformer_feature_size must be a multiple of 12, got {config.transformer_feature_size}")


def check_patch_size(config: ModelConfig, patch_size: Sequence[int]) -> None:
    """Refuse patch sizes the backbone cannot downsample (each level halves the grid) or normalise."""
    if config.backbone == "transformer":
        divisor = 32  # SwinUNETR halves the grid five times
    else:
        divisor = 2 ** (len(config.features) - 1 + config.half_resolution_stem)
    smallest = 2 * divisor  # instance norm needs more than one voxel at the deepest level
    if len(patch_size) != 3 or any(side % divisor or side < smallest for side in patch_size):
        raise InputError(
            f"patch size {list(patch_size)} does not suit backbone {config.backbone!r}: "
            f"use 3 sides, each a multiple of {divisor} and at least {smallest}"
        )


def build_backbone(config: ModelConfig, in_channels: int) -> Backbone:
    if config.backbone == "resunet":
        return build_resunet(in_channels, config.features, COND_DIM, config.half_resolution_stem)
    if config.backbone == "mamba":
        return build_mamba_unet(
            in_channels, config.features, COND_DIM, config.mamba_levels, config.mamba_d_state, config.half_resolution_stem
        )
    return SwinUNETRBackbone(in_channels, config.transformer_feature_size, COND_DIM)


def build_model(config: ModelConfig) -> nn.Module:
    """Build the model named by ``config.kind`` (see the module docstring for its forward contract)."""
    validate(config)
    in_channels = len(config.contrasts)
    if config.kind == "bulk-density":
        return BulkDensityModel(config.contrasts)
    make = CascadeModel if config.kind == "cascade" else DirectModel
    return make(in_channels, lambda channels: build_backbone(config, channels))
