"""``resunet``: the residual 3D U-Net with FiLM, no token mixer; the fast CPU default."""

from __future__ import annotations

from collections.abc import Sequence

from cranial_sct.models.blocks import ResidualUNet3D


def build_resunet(in_channels: int, features: Sequence[int], cond_dim: int, half_resolution_stem: bool) -> ResidualUNet3D:
    return ResidualUNet3D(in_channels, features, cond_dim, half_resolution_stem=half_resolution_stem)
