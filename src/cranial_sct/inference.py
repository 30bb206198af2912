"""Sliding-window prediction of one MR case: sCT, skull mask, bone probability and uncertainty.

What happens to an input, and why:

- Every given contrast is put on the grid of the *first* given contrast. Contrasts on another grid
  are resampled onto it (linear, SimpleITK) in world coordinates, which assumes they are already
  co-registered (same scanner session); contrasts on the same grid are used as they are.
- The grid is reoriented to RAS (an exact index permutation/flip, no interpolation) because the
  network was trained on RAS arrays and is not invariant to axis flips; outputs are mapped back
  exactly, so they sit voxel-for-voxel on the input grid.
- Work is cropped to the head's bounding box: outside the head the sCT is air, set to -1000 HU
  (bone probability, skull and uncertainty 0). Unless a head mask is given, it is computed from the
  first contrast's MR with :func:`cranial_sct.preprocess.masks.mr_head_mask` (Otsu on log intensities).
- MR channels are normalised inside the head mask exactly as in training; contrasts the checkpoint
  expects but the user lacks are zero channels with their condition flag off.
- MONAI's Gaussian-weighted sliding window stitches the windows (nnU-Net style). Windows run on
  ``device``; on CUDA the stitching buffers move to the CPU when the volume is large, the window
  batch is sized by probing one window's memory, and an out-of-memory error restarts the case on
  the CPU.
- Test-time mirroring (``tta``) and an ensemble of checkpoints both give several predictions; the
  sCT and class probabilities are their mean, the uncertainty their voxel-wise HU standard deviation.
- Inputs unlike the training data (field strength, contrast, normalised intensity percentiles) give
  out-of-distribution warnings: logged, and returned for the output sidecar.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from monai.inferers import sliding_window_inference
from torch import nn

from cranial_sct.errors import InputError
from cranial_sct.io.sidecar import format_field
from cranial_sct.io.volume import Volume
from cranial_sct.models.conditioning import CONTRASTS, encode_condition
from cranial_sct.preprocess.geometry import Step, crop, crop_box, grid_of, invert_step, reorient, resample
from cranial_sct.preprocess.masks import mr_head_mask
from cranial_sct.preprocess.normalise import normalise_mr
from cranial_sct.training.checkpoint import CheckpointInfo, load_for_inference
from cranial_sct.training.dataset import BONE

log = logging.getLogger(__name__)

HU_AIR = -1000.0
BONE_THRESHOLD_HU = 300.0  # skull of a model without a segmentation head (``direct``): sCT above this
NETWORK_ORIENTATION = "RAS"  # the orientation of the training arrays (phantom and preprocess write RAS)
# Every subset of the three axes mirrored (nnU-Net's 3D mirroring); the identity pass comes first.
MIRROR_FLIPS: tuple[tuple[int, ...], ...] = tuple(
    dims for n in range(4) for dims in itertools.combinations((0, 1, 2), n)
)
# Percentile shift (p1, p50, p99 of normalised head intensities), as a fraction of the training
# p1..p99 range, beyond which an input counts as unlike the training data.
OOD_INTENSITY_TOLERANCE = 0.25
GPU_STITCH_FRACTION = 0.25  # stitch on the GPU only while the output buffers take under this share of free memory
MAX_WINDOW_BATCH = 8


@dataclass
class Prediction:
    """Outputs on the input MR's grid. ``bone_prob`` is None for models without a segmentation head;
    ``uncertainty`` (HU standard deviation) is None when only one pass was made."""

    sct: Volume
    skull: Volume
    bone_prob: Volume | None
    uncertainty: Volume | None
    warnings: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # passes, device, resampled contrasts


def load_models(paths: Sequence[str], device: str | torch.device = "cpu") -> tuple[list[nn.Module], CheckpointInfo]:
    """Load one checkpoint or an ensemble; members must agree on what they eat and what they are."""
    if not paths:
        raise InputError("--checkpoint: give at least one checkpoint")
    loaded = [load_for_inference(path, device) for path in paths]
    first = loaded[0][1]
    for path, (_, info) in zip(paths[1:], loaded[1:]):
        mine = (info.contrasts, info.normalisation, info.config.model.kind)
        theirs = (first.contrasts, first.normalisation, first.config.model.kind)
        if mine != theirs:
            raise InputError(
                f"--checkpoint {path}: (contrasts, normalisation, kind) {mine} differ from {paths[0]}'s {theirs}; "
                "an ensemble needs checkpoints of one kind trained on the same inputs"
            )
    return [model for model, _ in loaded], first


def check_contrasts(given: Sequence[str], info: CheckpointInfo) -> None:
    """Refuse contrasts the checkpoint has no channel for (or an input with none it has)."""
    unknown = [c for c in given if c not in CONTRASTS]
    if unknown:
        raise InputError(f"MR contrast {unknown[0]!r}: unknown; use one of {', '.join(CONTRASTS)}")
    extra = [c for c in given if c not in info.contrasts]
    if extra or not given:
        raise InputError(
            f"checkpoint expects MR contrasts {'+'.join(info.contrasts)} but got {'+'.join(given) or 'none'}; "
            f"give {' or '.join('--' + ('mr' if c == 't1w' else c) for c in info.contrasts)} only, or use a checkpoint trained on "
            f"{'+'.join(extra or given)}"
        )


def _on_reference_grid(mr: Mapping[str, Volume]) -> tuple[dict[str, Volume], list[str]]:
    """Every contrast on the first one's grid; returns the volumes and the names that were resampled."""
    names = list(mr)
    reference = mr[names[0]]
    aligned, resampled = {names[0]: reference}, []
    for name in names[1:]:
        volume = mr[name]
        if not volume.same_grid(reference):
            volume, _ = resample(volume, grid_of(reference), "linear")
            resampled.append(name)
            log.info("%s resampled onto the %s grid %s", name, names[0], reference.shape)
        aligned[name] = volume
    return aligned, resampled


def _head_mask_on(reference: Volume, head_mask: Volume | np.ndarray | None) -> np.ndarray:
    if head_mask is None:
        # Otsu on log intensities: B1 drop-out at 7 T and dark FLAIR scalp leave parts of the head
        # far below a linear Otsu threshold (measured on the phantom: 15 % of the head kept at 7 T).
        mask = mr_head_mask(np.asarray(reference.array))
    elif isinstance(head_mask, Volume):
        if not head_mask.same_grid(reference):
            raise InputError(f"head mask grid {head_mask.shape} differs from the MR grid {reference.shape}; give a mask on the MR grid")
        mask = np.asarray(head_mask.array) > 0
    else:
        mask = np.asarray(head_mask) > 0
        if mask.shape != reference.shape:
            raise InputError(f"head mask shape {mask.shape} differs from the MR shape {reference.shape}")
    if not mask.any():
        raise InputError("head mask is empty: no head found in the MR (check the file is an MR of a head)")
    return mask


def ood_warnings(info: CheckpointInfo, field_T: float | None, normalised: Mapping[str, np.ndarray]) -> list[str]:
    """Ways this input lies outside the checkpoint's training data (``normalised``: head voxels per contrast)."""
    warnings = []
    field_name = format_field(field_T)
    hides_field = info.config.augment.enabled and info.config.augment.condition_dropout > 0
    if field_name not in info.fields_seen and not (field_name == "unknown" and hides_field):
        warnings.append(f"field strength {field_name} T not seen in training (trained on {', '.join(info.fields_seen)} T)")
    for contrast, values in normalised.items():
        if contrast not in info.contrasts_seen:
            warnings.append(f"contrast {contrast} not seen in training (trained on {', '.join(info.contrasts_seen)})")
            continue
        seen = info.intensity_stats.get(contrast)
        if not seen:
            continue
        tolerance = OOD_INTENSITY_TOLERANCE * (seen["p99"] - seen["p1"])
        mine = dict(zip(("p1", "p50", "p99"), np.percentile(values, [1, 50, 99])))
        off = [f"{k} {mine[k]:.2f} vs {seen[k]:.2f}" for k in mine if abs(mine[k] - seen[k]) > tolerance]
        if off:
            warnings.append(f"{contrast} normalised intensities unlike training ({'; '.join(off)})")
    for warning in warnings:
        log.warning("out of distribution: %s", warning)
    return warnings


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


class _Accumulator:
    """Running mean of the class probabilities and running mean/variance of HU (Welford), pass by pass."""

    def __init__(self) -> None:
        self.count = 0
        self.hu_mean = self.hu_m2 = self.probs = None

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
) -> _Accumulator:
    """Every model on every mirrored copy, each a Gaussian-blended sliding window, folded into one accumulator."""
    accumulator = _Accumulator()
    stitch_on = stitch_device(device, image.shape[2:], channels=4)
    for model in models:
        predict = window_predictor(model.to(device), cond.to(device), image.shape[1] - 1)
        batch = window_batch_size(predict, image[:, :, : roi[0], : roi[1], : roi[2]].to(device), device)
        for dims in flips:
            spatial = [d + 2 for d in dims]
            out = sliding_window_inference(
                torch.flip(image, spatial), roi, batch, predict, overlap=overlap, mode="gaussian", sw_device=device, device=stitch_on,
            )
            out = {key: torch.flip(value, spatial).cpu() for key, value in out.items()}
            accumulator.add(out["hu"][0, 0], out["probs"][0] if "probs" in out else None)
    return accumulator


def _run_with_fallback(
    models: Sequence[nn.Module], image: torch.Tensor, cond: torch.Tensor, roi: Sequence[int], flips: Sequence[tuple[int, ...]],
    overlap: float, device: torch.device,
) -> tuple[_Accumulator, torch.device]:
    """Run on ``device``; when a GPU runs out of memory, free it and run the whole case on the CPU."""
    try:
        return _run_passes(models, image, cond, roi, flips, overlap, device), device
    except torch.cuda.OutOfMemoryError:
        if device.type != "cuda":
            raise
        log.warning("CUDA out of memory on a %s volume: falling back to the CPU", tuple(image.shape[2:]))
        torch.cuda.empty_cache()
        cpu = torch.device("cpu")
        return _run_passes(models, image, cond, roi, flips, overlap, cpu), cpu


@dataclass
class _NetworkCase:
    """The case as the network sees it (RAS, cropped to the head, normalised channels) and the way back."""

    reference: Volume  # the first contrast: the output grid
    to_network: Step  # reorientation to RAS
    to_crop: Step  # crop to the head's bounding box
    inside: np.ndarray  # head mask on the cropped RAS grid
    channels: dict[str, np.ndarray]  # normalised MR per given contrast, cropped RAS grid
    resampled: list[str]

    def on_input_grid(self, array: np.ndarray, fill: float, dtype: type) -> Volume:
        """Undo the crop (filling with ``fill``) and the reorientation: exact index operations only."""
        cropped = Volume(np.asarray(array, dtype), np.asarray(self.to_crop["to"]["affine"]))
        uncropped = invert_step(cropped, self.to_crop, interpolation="nearest", fill=fill)
        return self.reference.with_array(invert_step(uncropped, self.to_network, interpolation="nearest").array)


def _prepare(info: CheckpointInfo, mr: Mapping[str, Volume], head_mask: Volume | np.ndarray | None) -> _NetworkCase:
    """Align the contrasts, reorient, mask, crop and normalise like training did."""
    check_contrasts(list(mr), info)
    aligned, resampled = _on_reference_grid(mr)
    reference = next(iter(aligned.values()))
    mask = _head_mask_on(reference, head_mask)
    mask_volume, to_network = reorient(reference.with_array(mask.astype(np.uint8)), NETWORK_ORIENTATION)
    start, stop = crop_box(mask_volume.array > 0, np.zeros(3, dtype=int))
    cropped_mask, to_crop = crop(mask_volume, start, stop)
    channels = {}
    for name, volume in aligned.items():
        oriented, _ = reorient(reference.with_array(np.asarray(volume.array, np.float32)), NETWORK_ORIENTATION)
        channels[name] = normalise_mr(crop(oriented, start, stop)[0].array, cropped_mask.array, info.normalisation)
    return _NetworkCase(reference, to_network, to_crop, cropped_mask.array > 0, channels, resampled)


def _network_input(info: CheckpointInfo, case: _NetworkCase, field_T: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, C+1, ...) MR channels in the checkpoint's order (absent ones zero) plus the head mask; the condition."""
    stack = [case.channels.get(c, np.zeros(case.inside.shape, np.float32)) for c in info.contrasts]
    image = torch.from_numpy(np.stack([*stack, case.inside.astype(np.float32)]))[None]
    return image, encode_condition(field_T, [c for c in info.contrasts if c in case.channels])[None]


def predict_volume(
    models: nn.Module | Sequence[nn.Module],
    info: CheckpointInfo,
    mr: Mapping[str, Volume],
    field_T: float | None,
    *,
    tta: bool = False,
    device: str | torch.device = "cpu",
    head_mask: Volume | np.ndarray | None = None,
    overlap: float = 0.25,
    roi_size: Sequence[int] | None = None,
    flips: Sequence[tuple[int, ...]] = MIRROR_FLIPS,
) -> Prediction:
    """Predict the sCT for ``mr`` (contrast name -> Volume, first one = output grid) at ``field_T`` tesla.

    ``models`` is one model or an ensemble sharing ``info``'s inputs. ``field_T=None`` means unknown.
    ``roi_size`` defaults to the training patch size; ``tta`` mirrors over ``flips``. See the module
    docstring for alignment, masking (HU -1000 outside the head) and out-of-distribution warnings.
    """
    models = [models] if isinstance(models, nn.Module) else list(models)
    case = _prepare(info, mr, head_mask)
    warnings = ood_warnings(info, field_T, {name: array[case.inside] for name, array in case.channels.items()})
    image, cond = _network_input(info, case, field_T)
    roi = list(roi_size or info.patch_size)
    passes, used = _run_with_fallback(models, image, cond, roi, flips if tta else [()], overlap, torch.device(device))
    inside = torch.from_numpy(case.inside)
    hu = torch.where(inside, passes.hu_mean, torch.tensor(HU_AIR)).numpy()
    if passes.probs is not None:
        bone_prob = case.on_input_grid(torch.where(inside, passes.probs[BONE], torch.tensor(0.0)).numpy(), 0.0, np.float32)
        skull = ((passes.probs.argmax(0) == BONE) & inside).numpy()
    else:
        bone_prob, skull = None, hu > BONE_THRESHOLD_HU
    std = passes.std()
    return Prediction(
        sct=case.on_input_grid(hu, HU_AIR, np.float32),
        skull=case.on_input_grid(skull, 0, np.uint8),
        bone_prob=bone_prob,
        uncertainty=None if std is None else case.on_input_grid(torch.where(inside, std, torch.tensor(0.0)).numpy(), 0.0, np.float32),
        warnings=warnings,
        details={"passes": passes.count, "device": str(used), "resampled": case.resampled, "window": roi, "overlap": overlap},
    )
