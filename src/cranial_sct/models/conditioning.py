"""Metadata conditioning: field strength and contrast as a vector, and FiLM layers that use it.

MR appearance changes with field strength (T1 lengthens, SNR grows, B1 gets worse) and with the
protocol, so the network is told what it is looking at. Either may be unknown at inference (an
anonymised DICOM, a new scanner): the vector has explicit "unknown" flags, and training randomly
hides the metadata so the network learns to work without it.

Vector layout (``COND_DIM`` = 6): [log10(field_T) scaled, field unknown, t1w, t2w, flair present,
contrast unknown].
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from cranial_sct.errors import InputError

CONTRASTS: tuple[str, ...] = ("t1w", "t2w", "flair")
COND_DIM = 2 + len(CONTRASTS) + 1
# log10 of 0.064..7 T spans about -1.2..0.85; dividing by 1.5 keeps the scaled value within [-1, 1].
_LOG_FIELD_SCALE = 1.5


def encode_condition(field_T: float | None, contrasts: Sequence[str]) -> torch.Tensor:
    """Return the float32 condition vector of shape ``[COND_DIM]`` (stack to ``[B, COND_DIM]``).

    ``field_T=None`` means unknown field strength; an empty ``contrasts`` means unknown contrast.
    """
    vector = torch.zeros(COND_DIM, dtype=torch.float32)
    if field_T is None:
        vector[1] = 1.0
    elif not (field_T > 0 and math.isfinite(field_T)):
        raise InputError(f"field strength must be a positive number of tesla, got {field_T!r}")
    else:
        vector[0] = math.log10(field_T) / _LOG_FIELD_SCALE
    for name in contrasts:
        if name not in CONTRASTS:
            raise InputError(f"unknown MR contrast {name!r}; use one of {', '.join(CONTRASTS)}")
        vector[2 + CONTRASTS.index(name)] = 1.0
    if not contrasts:
        vector[-1] = 1.0
    return vector


def hide_field(cond: torch.Tensor) -> torch.Tensor:
    """Return ``cond`` with the field strength marked unknown (for conditioning dropout)."""
    hidden = cond.clone()
    hidden[..., 0] = 0.0
    hidden[..., 1] = 1.0
    return hidden


class FiLM(nn.Module):
    """Feature-wise linear modulation (Perez et al., AAAI 2018): x * (1 + gamma(c)) + beta(c).

    Initialised to the identity so an untrained condition path cannot disturb the features.
    """

    def __init__(self, cond_dim: int, channels: int) -> None:
        super().__init__()
        self.proj = nn.Linear(cond_dim, 2 * channels)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.proj(cond).chunk(2, dim=1)
        shape = (*gamma.shape, *([1] * (x.ndim - 2)))
        return x * (1 + gamma.view(shape)) + beta.view(shape)
