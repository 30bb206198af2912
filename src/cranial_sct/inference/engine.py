"""The window engine: a network over a whole prepared volume, window by window, on any device.

MONAI's Gaussian-weighted sliding window stitches the windows (nnU-Net style). Windows run on
``device``; on CUDA the stitching buffers move to the CPU when the volume is large, the window batch
is sized by probing one window's memory, and an out-of-memory error restarts the case on the CPU.
Several passes (mirrored copies, ensemble members) fold into one running mean of HU and class
probabilities and a running HU variance (Welford), which gives the uncertainty. Trainer validation
and ``predict`` both run through here, so a model is validated exactly as it is used.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from monai.inferers import sliding_window_inference
from torch import nn

log = logging.getLogger(__name__)

GPU_STITCH_FRACTION = 0.25  # stitch on the GPU only while the output buffers take under this share of free memory
MAX_WINDOW_BATCH = 8


def mirror_flips(axes: Sequence[int]) -> list[tuple[int, ...]]:
    """Every subset of ``axes`` (the identity first): the mirrored passes of test-time augmentation."""
    return [dims for n in range(len(axes) + 1) for dims in itertools.combinations(sorted(axes), n)]


def window_batch_size(forward: Callable[[torch.Tensor], Any], sample: torch.Tensor, device: torch.device) -> int:
    """1 on the CPU (batching gains nothing there); on CUDA as many windows as half the free memory holds,
    measured by running one window."""
    if device.type != "cuda":
        return 1
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)
    before = torch.cuda.memory_allocated(device)
    forward(sample)
    per_window = max(torch.cuda.max_memory_allocated(device) - before, 1)
    free, _ = torch.cuda.mem_get_info(device)
    return int(np.clip(free // 2 // per_window, 1, MAX_WINDOW_BATCH))


def stitch_device(device: torch.device, shape: Sequence[int], channels: int) -> torch.device:
    """Where MONAI accumulates the stitched output: the GPU for small volumes, else the CPU."""
    if device.type != "cuda":
        return device
    buffer_bytes = 4 * (channels + 1) * int(np.prod(shape))  # outputs plus the weight map, float32
    free, _ = torch.cuda.mem_get_info(device)
    return device if buffer_bytes < GPU_STITCH_FRACTION * free else torch.device("cpu")


class Passes:
    """Running mean of the class probabilities and running mean/variance of HU (Welford), pass by pass."""

    def __init__(self) -> None:
        self.count = 0
        self.hu_mean: torch.Tensor | None = None
        self.hu_m2: torch.Tensor | None = None
        self.probs: torch.Tensor | None = None

    def add(self, hu: torch.Tensor, probs: torch.Tensor | None) -> None:
        self.count += 1
        if self.hu_mean is None:
            self.hu_mean, self.hu_m2, self.probs = hu.clone(), torch.zeros_like(hu), probs
            return
        delta = hu - self.hu_mean
        self.hu_mean += delta / self.count
        self.hu_m2 += delta * (hu - self.hu_mean)
        if probs is not None:
            self.probs += (probs - self.probs) / self.count

    def std(self) -> torch.Tensor | None:
        return (self.hu_m2 / (self.count - 1)).sqrt() if self.count > 1 else None


def window_predictor(model: nn.Module, cond: torch.Tensor, channels: int) -> Callable[[torch.Tensor], dict[str, torch.Tensor]]:
    """Windows hold the MR channels then the head mask; the result is ``hu`` and, with a segmentation, ``probs``."""
    needs_mask = getattr(model, "requires_head_mask", False)

    def predict(window: torch.Tensor) -> dict[str, torch.Tensor]:
        batch_cond = cond.expand(window.shape[0], -1)
        mr, mask = window[:, :channels], window[:, channels:]
        out = model(mr, batch_cond, mask) if needs_mask else model(mr, batch_cond)
        result = {"hu": out["hu"].float()}
        if "seg_logits" in out:
            result["probs"] = torch.softmax(out["seg_logits"].float(), dim=1)
        return result

    return predict


@torch.no_grad()
def _run_passes(
    models: Sequence[nn.Module], image: torch.Tensor, cond: torch.Tensor, roi: Sequence[int], flips: Sequence[tuple[int, ...]],
    overlap: float, device: torch.device,
) -> Passes:
    """Every model on every mirrored copy, folded into one accumulator. Models that need the whole
    volume (``whole_volume``: the bulk-density baseline's depth feature) see it in one piece."""
    passes = Passes()
    stitch_on = stitch_device(device, image.shape[2:], channels=4)
    for model in models:
        predict = window_predictor(model.to(device), cond.to(device), image.shape[1] - 1)
        whole = getattr(model, "whole_volume", False)
        probe = torch.zeros(1, image.shape[1], *roi, device=device)  # a whole window, even when the volume is smaller
        batch = 1 if whole else window_batch_size(predict, probe, device)
        for dims in flips:
            spatial = [d + 2 for d in dims]
            flipped = torch.flip(image, spatial)
            if whole:
                out = predict(flipped.to(device))
            else:
                out = sliding_window_inference(flipped, roi, batch, predict, overlap=overlap, mode="gaussian", sw_device=device,
                                               device=stitch_on)
            out = {key: torch.flip(value, spatial).cpu() for key, value in out.items()}
            passes.add(out["hu"][0, 0], out["probs"][0] if "probs" in out else None)
    return passes


def run_windows(
    models: Sequence[nn.Module], image: torch.Tensor, cond: torch.Tensor, roi: Sequence[int], flips: Sequence[tuple[int, ...]] = ((),),
    overlap: float = 0.25, device: torch.device = torch.device("cpu"),
) -> tuple[Passes, torch.device]:
    """Run on ``device``; when a GPU runs out of memory, free it and run the whole case on the CPU.

    ``image`` is (1, C+1, ...): MR channels then the head mask; ``cond`` is (1, COND_DIM)."""
    try:
        return _run_passes(models, image, cond, roi, flips, overlap, device), device
    except torch.cuda.OutOfMemoryError:
        if device.type != "cuda":
            raise
        log.warning("CUDA out of memory on a %s volume: falling back to the CPU", tuple(image.shape[2:]))
        torch.cuda.empty_cache()
        cpu = torch.device("cpu")
        return _run_passes(models, image, cond, roi, flips, overlap, cpu), cpu
