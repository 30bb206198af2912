"""The network-input plan: how a model's input was made, recorded once and applied everywhere.

A network is only right on inputs made the way its training inputs were. The plan records that way
(voxel spacing per axis, orientation, head-mask rule, N4 on or off, normalisation and its
percentiles, crop margin) plus the intensity statistics training saw; it is stored in every
checkpoint, and :func:`prepare` is the one function that applies it: training cases, trainer
validation, ``predict`` (one case or a cohort) and ``benchmark`` all go through it.

``prepare`` takes MR volumes on the user's grid and returns the case on the network grid, with the
recorded steps that lead back: reorient to the plan's orientation (exact), resample to the plan's
spacing per axis (linear; skipped when the grid already matches), head mask by the plan's rule from
the first MR (or a given mask), N4 inside that mask when the plan has it, crop to the mask's box
plus the margin, and normalisation inside the mask (once: nothing else normalises MR).
:meth:`PreparedCase.to_input_grid` maps a network-grid array back exactly onto the input grid.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import nibabel as nib
import numpy as np

from cranial_sct.errors import InputError
from cranial_sct.io.volume import Volume
from cranial_sct.preprocess.bias import n4_correct
from cranial_sct.preprocess.geometry import Step, crop, crop_box, grid_of, invert_step, on_grid, reorient, resample, spacing_grid
from cranial_sct.preprocess.masks import mr_head_mask
from cranial_sct.preprocess.normalise import normalise_mr

# Head-mask rules by name, so a checkpoint names the rule it was trained with.
HEAD_MASK_RULES: dict[str, Callable[[np.ndarray], np.ndarray]] = {"mr-log-otsu": mr_head_mask}
# An input whose voxels are this many times coarser than the plan's (on any axis) is out of distribution.
COARSE_INPUT_FACTOR = 2.0


@dataclass
class InputPlan:
    """How the network's input is made; ``intensity_stats`` is what training saw after normalisation."""

    spacing_mm: list[float]
    orientation: str = "RAS"
    head_mask: str = "mr-log-otsu"
    n4: bool = False
    normalisation: str = "percentile"
    percentiles: list[float] = field(default_factory=lambda: [0.5, 99.5])
    crop_margin_mm: float = 10.0
    intensity_stats: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "InputPlan":
        return cls(**{f.name: values[f.name] for f in dataclasses.fields(cls) if f.name in values})


@dataclass
class PreparedCase:
    """A case on the network grid (cropped) and the steps that lead back to the input grid."""

    reference: Volume  # the first MR as given: the output grid
    steps: list[Step]  # input grid -> network grid, in order
    mask: np.ndarray  # bool head mask on the network grid
    channels: dict[str, np.ndarray]  # normalised float32 MR per given contrast
    companions: dict[str, np.ndarray]  # other volumes carried along (CT, labels, reference mask)
    resampled: list[str]  # contrasts moved onto the first contrast's grid

    @property
    def network_affine(self) -> np.ndarray:
        return np.asarray(self.steps[-1]["to"]["affine"])

    @property
    def spacing(self) -> tuple[float, float, float]:
        return Volume(self.mask, self.network_affine).spacing

    def to_input_grid(self, array: np.ndarray, fill: float, interpolation: str = "linear") -> Volume:
        """``array`` (network grid) on the input grid: crop and reorientation undone exactly, resampling
        undone with ``interpolation``; outside the network grid ``fill``."""
        out = Volume(np.asarray(array), self.network_affine)
        for step in reversed(self.steps):
            out = invert_step(out, step, interpolation, fill)
        return self.reference.with_array(out.array)


def _on_first_grid(mr: Mapping[str, Volume]) -> tuple[dict[str, Volume], list[str]]:
    """Every contrast on the first one's grid (world coordinates; assumes they are co-registered)."""
    names = list(mr)
    first = mr[names[0]]
    aligned, resampled = {names[0]: first}, []
    for name in names[1:]:
        volume = mr[name]
        if not volume.same_grid(first):
            volume, _ = resample(volume, grid_of(first), "linear")
            resampled.append(name)
        aligned[name] = volume
    return aligned, resampled


def _to_network_grid(volume: Volume, plan: InputPlan, interpolation: str, fill: float) -> tuple[Volume, list[Step]]:
    oriented, step = reorient(volume, plan.orientation)
    grid = spacing_grid(oriented, plan.spacing_mm)
    if on_grid(oriented, grid):
        return oriented, [step]
    moved, resampled = resample(oriented, grid, interpolation, fill)
    return moved, [step, resampled]


def _replay(volume: Volume, steps: Sequence[Step], interpolation: str, fill: float) -> Volume:
    """Apply recorded reorient/resample/crop steps to another volume on the same input grid."""
    out = volume
    for step in steps:
        if step["op"] == "reorient":
            out, _ = reorient(out, "".join(nib.aff2axcodes(np.asarray(step["to"]["affine"]))))
        elif step["op"] == "resample":
            out, _ = resample(out, step["to"], interpolation, fill)
        else:
            out, _ = crop(out, step["start"], step["stop"])
    return out


def _head_mask(plan: InputPlan, first: Volume, given: Volume | None, steps: Sequence[Step]) -> np.ndarray:
    if given is None:
        mask = HEAD_MASK_RULES[plan.head_mask](np.asarray(first.array))
        source = "the MR"
    else:
        mask = _replay(given.with_array((np.asarray(given.array) > 0).astype(np.float32)), steps, "linear", 0.0).array >= 0.5
        source = str(given.meta.get("path", "the head mask"))
    if not mask.any():
        raise InputError(f"{source}: empty head mask; no head found (check the file is an MR of a head)")
    return mask


def _normalised(array: np.ndarray, mask: np.ndarray, plan: InputPlan, name: str, source: Volume) -> np.ndarray:
    try:
        return normalise_mr(array, mask, plan.normalisation, tuple(plan.percentiles))
    except ValueError as error:
        raise InputError(f"{source.meta.get('path', name)}: cannot normalise ({error}); check the MR covers the head") from None


def prepare(
    plan: InputPlan,
    mr: Mapping[str, Volume],
    head_mask: Volume | None = None,
    companions: Mapping[str, tuple[Volume, str, float]] = {},
) -> PreparedCase:
    """Put ``mr`` (contrast -> volume; the first is the output grid) on the network grid as the plan says.

    ``head_mask`` (on the first MR's grid) replaces the plan's rule; ``companions`` maps a name to
    (volume on the first MR's grid, interpolation, fill) for volumes that must follow the same steps.
    """
    if not mr:
        raise InputError("no MR given")
    aligned, resampled = _on_first_grid(mr)
    first_name = next(iter(aligned))
    reference = aligned[first_name]
    if head_mask is not None and not head_mask.same_grid(reference):
        raise InputError(f"{head_mask.meta.get('path', 'head mask')}: grid {head_mask.shape} differs from the MR grid {reference.shape}")
    first, steps = _to_network_grid(reference.with_array(np.asarray(reference.array, np.float32)), plan, "linear", 0.0)
    mask = _head_mask(plan, first, head_mask, steps)
    margin = np.ceil(plan.crop_margin_mm / np.asarray(first.spacing) - 1e-6).astype(int)
    start, stop = crop_box(mask, margin)
    cropped_mask, crop_step = crop(first.with_array(mask), start, stop)
    steps = [*steps, crop_step]
    channels = {}
    for name, volume in aligned.items():
        network = first if name == first_name else _replay(volume.with_array(np.asarray(volume.array, np.float32)), steps[:-1], "linear", 0.0)
        cropped = crop(network, start, stop)[0]
        if plan.n4:  # on the cropped grid: the same field inside the head, at a fraction of the cost
            cropped = n4_correct(cropped, cropped_mask.array)
        channels[name] = _normalised(cropped.array, cropped_mask.array, plan, name, mr[name])
    carried = {name: _replay(volume, steps, interpolation, fill).array for name, (volume, interpolation, fill) in companions.items()}
    return PreparedCase(reference, steps, cropped_mask.array, channels, carried, resampled)


def coarse_input_warning(plan: InputPlan, volume: Volume) -> str | None:
    """A warning when the input's voxels are much coarser than the plan's on some axis."""
    ratio = np.sort(volume.spacing) / np.sort(plan.spacing_mm)
    if ratio.max() < COARSE_INPUT_FACTOR:
        return None
    return (f"input voxels {'x'.join(f'{s:g}' for s in volume.spacing)} mm are up to {ratio.max():.1f} times coarser than the "
            f"model's {'x'.join(f'{s:g}' for s in plan.spacing_mm)} mm grid: fine detail such as the skull may be lost")
