"""Prediction of one MR case: sCT, skull mask, bone probability and uncertainty on the MR's own grid.

What happens to an input, and why:

- The checkpoint's network-input plan (:mod:`cranial_sct.preprocess.plan`) prepares the case exactly as
  training prepared its cases: other contrasts onto the first one's grid (assumed co-registered),
  reorientation, resampling to the plan's voxel size per axis, the plan's head mask (or the user's),
  N4 when the plan has it, the crop margin and the normalisation.
- The window engine (:mod:`cranial_sct.inference.engine`) runs the network over the prepared volume.
  Test-time augmentation (``tta``) mirrors only along the axes mirrored in training, since a network is
  not invariant to a flip it never saw; an ensemble of checkpoints gives several passes too. The sCT
  and class probabilities are their mean, the uncertainty their voxel-wise HU standard deviation.
- Every output goes back onto the input grid: crop and reorientation exactly, the resampling linearly
  (the sCT and each class probability); the skull is the arg-max of the resampled probabilities.
- Bone islands (:mod:`cranial_sct.inference.islands`): a connected piece of the predicted skull lying wholly
  deeper than ``ISLAND_DEPTH_MM`` under the head's surface is no bone of a head; it is removed from the skull (and its bone
  probability set to 0) and given the median HU of the head's other deep tissue, its ``RIM_MM`` rim lowered to
  that where brighter, unless ``keep_bone_islands``.
  The sidecar says how much was removed.
- Air pockets in the brain (:mod:`cranial_sct.inference.air_pockets`): a connected piece of predicted air lying
  wholly deeper than ``POCKET_DEPTH_MM`` with no predicted skull within ``LINING_MM`` (no sinus, mastoid cell or
  airway) is filled with the median HU of the head's other deep tissue, its rim raised to that where darker, unless
  ``keep_air_pockets``. The sidecar says how much was filled.
- Coupling, guaranteed: the sCT is clipped to [HU_MIN, HU_MAX] and, outside the predicted skull grown
  by one voxel, to at most the bone threshold. Within that one-voxel rim a voxel may exceed it: it holds
  part of the skull (partial volume). Outside the head the sCT is air, -1000 HU.
- Inputs unlike the training data (field strength, contrast, normalised intensity percentiles, voxels
  much coarser than the plan's) give out-of-distribution warnings: logged, and returned for the sidecar.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy import ndimage
from torch import nn

from cranial_sct.errors import InputError
from cranial_sct.hounsfield import AIR, BONE, BONE_THRESHOLD_HU, HU_AIR, HU_MAX, HU_MIN
from cranial_sct.inference.air_pockets import LINING_MM, POCKET_DEPTH_MM, brain_air_pockets
from cranial_sct.inference.engine import mirror_flips, run_windows
from cranial_sct.inference.islands import ISLAND_DEPTH_MM, deep_islands, fill_with_deep_tissue
from cranial_sct.io.sidecar import format_field
from cranial_sct.io.volume import Volume
from cranial_sct.models.conditioning import CONTRASTS, encode_condition
from cranial_sct.preprocess.plan import PreparedCase, coarse_input_warning, prepare
from cranial_sct.training.checkpoint import CheckpointInfo, load_for_inference

log = logging.getLogger(__name__)

# Percentile shift (p1, p50, p99 of normalised head intensities), as a fraction of the training
# p1..p99 range, beyond which an input counts as unlike the training data.
OOD_INTENSITY_TOLERANCE = 0.25


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
        mine = (info.contrasts, _plan_without_statistics(info), info.config.model.kind)
        theirs = (first.contrasts, _plan_without_statistics(first), first.config.model.kind)
        if mine != theirs:
            raise InputError(
                f"--checkpoint {path}: (contrasts, input plan, kind) differ from {paths[0]}'s; "
                "an ensemble needs checkpoints of one kind trained on inputs made the same way"
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


def ood_warnings(info: CheckpointInfo, field_T: float | None, normalised: Mapping[str, np.ndarray], input_grid: Volume) -> list[str]:
    """Ways this input lies outside the checkpoint's training data (``normalised``: head voxels per contrast)."""
    coarse = coarse_input_warning(info.plan, input_grid)
    warnings = [coarse] if coarse else []
    field_name = format_field(field_T)
    hides_field = info.config.augment.enabled and info.config.augment.condition_dropout > 0
    if field_name not in info.fields_seen and not (field_name == "unknown" and hides_field):
        warnings.append(f"field strength {field_name} T not seen in training (trained on {', '.join(info.fields_seen)} T)")
    for contrast, values in normalised.items():
        if contrast not in info.contrasts_seen:
            warnings.append(f"contrast {contrast} not seen in training (trained on {', '.join(info.contrasts_seen)})")
            continue
        seen = info.plan.intensity_stats.get(contrast)
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


def _plan_without_statistics(info: CheckpointInfo) -> dict[str, Any]:
    return {key: value for key, value in info.plan.to_dict().items() if key != "intensity_stats"}


def _network_input(info: CheckpointInfo, case: PreparedCase, field_T: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, C+1, ...) MR channels in the checkpoint's order (absent ones zero) plus the head mask; the condition."""
    stack = [case.channels.get(c, np.zeros(case.mask.shape, np.float32)) for c in info.contrasts]
    image = torch.from_numpy(np.stack([*stack, case.mask.astype(np.float32)]))[None]
    return image, encode_condition(field_T, [c for c in info.contrasts if c in case.channels])[None]


def couple_to_skull(sct: np.ndarray, skull: np.ndarray) -> np.ndarray:
    """Clip to [HU_MIN, HU_MAX] and, outside the skull grown by one voxel, to at most the bone threshold."""
    rim = ndimage.binary_dilation(skull, structure=np.ones((3, 3, 3), bool))
    clipped = np.clip(sct, HU_MIN, HU_MAX)
    return np.where(rim, clipped, np.minimum(clipped, BONE_THRESHOLD_HU)).astype(np.float32)


def _skull_and_probability(case: PreparedCase, probs: torch.Tensor | None, sct: Volume) -> tuple[np.ndarray, Volume | None]:
    """The skull on the input grid: arg-max of the class probabilities resampled there (or, without a
    segmentation head, the sCT above the bone threshold); and the bone probability on that grid."""
    if probs is None:
        return np.asarray(sct.array) > BONE_THRESHOLD_HU, None
    inside = torch.from_numpy(case.mask)
    on_input = [
        case.to_input_grid(torch.where(inside, probs[k], torch.tensor(float(k == AIR))).numpy(), float(k == AIR)).array
        for k in range(probs.shape[0])
    ]
    skull = np.argmax(np.stack(on_input), axis=0) == BONE
    return skull, sct.with_array(np.clip(on_input[BONE], 0.0, 1.0).astype(np.float32))


def _depth_under_skin(case: PreparedCase) -> np.ndarray:
    """Each input voxel's depth under the head's surface in mm, measured on the network grid's head mask and carried
    to the input grid like every output. The grid's border counts as outside the head: where the field of view cuts
    the head (or a given mask fills it) a piece near the cut is near the surface, never the whole skull deep."""
    outside_border = np.pad(case.mask, 1)
    depth_network = ndimage.distance_transform_edt(outside_border, sampling=case.spacing)[1:-1, 1:-1, 1:-1]
    return np.asarray(case.to_input_grid(depth_network, 0.0).array)


def _remove_deep_islands(depth: np.ndarray, skull: np.ndarray, sct: Volume, bone_prob: Volume | None) -> tuple[np.ndarray, Volume, Volume | None, float]:
    """Skull, sCT and bone probability without the skull's deep islands (module docstring); their volume in mL."""
    islands = deep_islands(skull, depth)
    if not islands.any():
        return skull, sct, bone_prob, 0.0
    skull = skull & ~islands
    sct = sct.with_array(fill_with_deep_tissue(np.asarray(sct.array), islands, skull, depth > ISLAND_DEPTH_MM, sct.spacing))
    if bone_prob is not None:
        bone_prob = bone_prob.with_array(np.where(islands, np.float32(0.0), bone_prob.array))
    return skull, sct, bone_prob, float(islands.sum() * np.prod(sct.spacing)) / 1000.0


def _fill_air_pockets(depth: np.ndarray, skull: np.ndarray, sct: Volume) -> tuple[Volume, float]:
    """The sCT with the brain's air pockets filled (module docstring); their volume in mL."""
    pockets = brain_air_pockets(np.asarray(sct.array), skull, depth, sct.spacing)
    if not pockets.any():
        return sct, 0.0
    filled = fill_with_deep_tissue(np.asarray(sct.array), pockets, skull, depth > POCKET_DEPTH_MM, sct.spacing, rim_limit=np.maximum)
    return sct.with_array(filled), float(pockets.sum() * np.prod(sct.spacing)) / 1000.0


def predict_volume(
    models: nn.Module | Sequence[nn.Module],
    info: CheckpointInfo,
    mr: Mapping[str, Volume],
    field_T: float | None,
    *,
    tta: bool = False,
    device: str | torch.device = "cpu",
    head_mask: Volume | None = None,
    overlap: float = 0.25,
    roi_size: Sequence[int] | None = None,
    keep_bone_islands: bool = False,
    keep_air_pockets: bool = False,
) -> Prediction:
    """Predict the sCT for ``mr`` (contrast name -> Volume) at ``field_T`` tesla, on the grid of the first
    given contrast in the checkpoint's channel order (the one training made the head mask from).

    ``models`` is one model or an ensemble sharing ``info``'s inputs. ``field_T=None`` means unknown.
    ``roi_size`` defaults to the training patch size; ``tta`` mirrors along the axes seen in training;
    ``keep_bone_islands`` keeps the skull's deep islands, ``keep_air_pockets`` the brain's air pockets (see the module
    docstring).
    See the module docstring for the plan, the coupling and the out-of-distribution warnings.
    """
    models = [models] if isinstance(models, nn.Module) else list(models)
    check_contrasts(list(mr), info)
    mr = {c: mr[c] for c in info.contrasts if c in mr}  # channel order, as training made its cases (grid, mask)
    case = prepare(info.plan, mr, head_mask)
    warnings = ood_warnings(info, field_T, {name: array[case.mask] for name, array in case.channels.items()}, case.reference)
    image, cond = _network_input(info, case, field_T)
    roi = list(roi_size or info.patch_size)
    flips = mirror_flips(info.mirror_axes) if tta else [()]
    passes, used = run_windows(models, image, cond, roi, flips, overlap, torch.device(device))
    inside = torch.from_numpy(case.mask)
    sct = case.to_input_grid(torch.where(inside, passes.hu_mean, torch.tensor(HU_AIR)).numpy(), HU_AIR)
    skull, bone_prob = _skull_and_probability(case, passes.probs, sct)
    removed_ml = filled_ml = 0.0
    depth = _depth_under_skin(case) if not (keep_bone_islands and keep_air_pockets) else None
    if not keep_bone_islands:
        skull, sct, bone_prob, removed_ml = _remove_deep_islands(depth, skull, sct, bone_prob)
    if not keep_air_pockets:
        sct, filled_ml = _fill_air_pockets(depth, skull, sct)
    sct = sct.with_array(couple_to_skull(np.asarray(sct.array), skull))
    std = passes.std()
    uncertainty = None if std is None else case.to_input_grid(torch.where(inside, std, torch.tensor(0.0)).numpy(), 0.0)
    return Prediction(
        sct=sct,
        skull=sct.with_array(skull.astype(np.uint8)),
        bone_prob=bone_prob,
        uncertainty=uncertainty if uncertainty is None else uncertainty.with_array(np.asarray(uncertainty.array, np.float32)),
        warnings=warnings,
        details={"passes": passes.count, "mirrored_axes": sorted({a for f in flips for a in f}), "device": str(used),
                 "bone_islands": {"removed_ml": None if keep_bone_islands else round(removed_ml, 3), "depth_mm": ISLAND_DEPTH_MM},
                 "air_pockets": {"filled_ml": None if keep_air_pockets else round(filled_ml, 3), "depth_mm": POCKET_DEPTH_MM,
                                 "lining_mm": LINING_MM},
                 "resampled": case.resampled, "window": roi, "overlap": overlap,
                 "plan": info.plan.to_dict(), "network_grid": {"shape": list(case.mask.shape), "spacing_mm": list(case.spacing)}},
    )
