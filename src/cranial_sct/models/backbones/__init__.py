"""Feature extractors: ``forward(x, cond) -> features`` with ``out_channels`` and ``encoder_modules()``."""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn


class Backbone(Protocol):
    out_channels: int

    def __call__(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor: ...

    def encoder_modules(self) -> list[nn.Module]: ...
