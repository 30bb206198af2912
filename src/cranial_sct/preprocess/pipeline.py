"""One case from raw volumes to training-ready arrays, with a record that undoes the geometry.

Order: reorient the reference (the CT, or the first MR when there is no CT) to RAS and resample it
to the target spacing; N4-correct each MR on its own grid; register each MR rigidly to the CT (or
trust ``registered``; without a CT, further MRs are taken as aligned with the first) and resample
it onto the reference grid in one interpolation; head mask; MR normalisation inside the mask; CT
clipping; crop all to the mask plus a margin.

The record is plain JSON: per image, its input grid and the ordered geometric steps, so
``invert_to_input_grid`` can put a prediction back voxel-for-voxel on the grid the user gave.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import SimpleITK as sitk

from cranial_sct.errors import InputError
from cranial_sct.hounsfield import HU_MAX, HU_MIN
from cranial_sct.io.volume import Volume
from cranial_sct.preprocess.bias import n4_correct
from cranial_sct.preprocess.geometry import (
    crop, crop_box, grid_of, invert_step, on_grid, reorient, resample, spacing_grid,
)  # fmt: skip
from cranial_sct.preprocess.masks import head_mask, mr_head_mask
from cranial_sct.preprocess.normalise import NormMethod, normalise_mr
from cranial_sct.preprocess.registration import RegistrationOptions, register_rigid

MIN_OVERLAP = 0.5  # fraction of the head that must lie inside the registered MR's field of view


@dataclass(frozen=True)
class PreprocessOptions:
    spacing_mm: float | None = 1.0  # None keeps the reference's grid
    registered: bool = False  # True: MR and CT already aligned, skip registration
    n4: bool = True
    normalise: NormMethod | None = None  # a model's input plan normalises its MR itself
    ct_range: tuple[float, float] = (HU_MIN, HU_MAX)
    crop_margin_mm: float | None = 10.0  # None: no crop
    registration: RegistrationOptions = field(default_factory=RegistrationOptions)


@dataclass
class CaseImages:
    """Raw inputs of one subject. ``mr`` maps an output name (``mr_1.5T_t1w``) to its volume."""

    subject: str
    mr: dict[str, Volume]
    ct: Volume | None = None
    mask: Volume | None = None
    labels: Volume | None = None


@dataclass
class PreparedCase:
    """Everything on one grid: MR channels (normalised float32), CT (int16 HU), mask, labels."""

    subject: str
    mr: dict[str, Volume]
    ct: Volume | None
    mask: Volume
    labels: Volume | None
    record: dict[str, Any]


def preprocess_case(images: CaseImages, options: PreprocessOptions = PreprocessOptions()) -> PreparedCase:
    """Prepare one subject; raises ``InputError`` for empty masks or MR/CT that do not overlap."""
    if not images.mr:
        raise InputError(f"{images.subject}: no MR image")
    raw_mr = {k: n4_correct(v, mr_head_mask(v.array)) if options.n4 else v for k, v in images.mr.items()}
    first_mr = next(iter(raw_mr))
    has_ct = images.ct is not None
    reference_name = "ct" if has_ct else first_mr
    chains: dict[str, dict[str, Any]] = {}
    reference, chains[reference_name] = _to_reference_grid(
        images.ct if has_ct else raw_mr[first_mr], options, HU_MIN if has_ct else 0.0
    )
    target = grid_of(reference)
    ct = reference.with_array(np.rint(np.clip(reference.array, *options.ct_range)).astype(np.int16)) if has_ct else None
    mask = _reference_mask(images, target, reference, has_ct)
    mr = {} if has_ct else {first_mr: reference}
    for name, volume in raw_mr.items():
        if name not in mr:
            mr[name], chains[name] = _mr_to_reference(volume, ct, mask, target, options)
    if options.normalise:
        mr = {k: _normalised(v, mask, options.normalise, k) for k, v in mr.items()}
    labels = _onto(images.labels, target, "nearest") if images.labels is not None else None
    prepared = PreparedCase(images.subject, mr, ct, mask, labels, {})
    if options.crop_margin_mm is not None:
        chains = _crop_to_mask(prepared, options.crop_margin_mm, chains)
    prepared.record = {
        "subject": images.subject,
        "reference": first_mr,
        "grid": grid_of(prepared.mask),
        "options": asdict(options),
        "images": chains,
    }
    return prepared


def _normalised(mr: Volume, mask: Volume, method: NormMethod, name: str) -> Volume:
    try:
        return mr.with_array(normalise_mr(mr.array, mask.array, method))
    except ValueError as error:  # e.g. the MR is blank inside the head mask
        raise InputError(f"{mr.meta.get('path', name)}: cannot normalise ({error}); check the MR covers the head") from error


def _reoriented(volume: Volume) -> tuple[Volume, dict[str, Any]]:
    """``volume`` in RAS, and the start of its record: the input grid and the reorient step."""
    out, step = reorient(volume)
    return out, {"input": {"path": volume.meta.get("path"), "grid": grid_of(volume)}, "steps": [step]}


def _to_reference_grid(volume: Volume, options: PreprocessOptions, fill: float) -> tuple[Volume, dict[str, Any]]:
    """Reorient to RAS and resample to the target spacing (skipped when the grid would not change)."""
    out, chain = _reoriented(volume)
    if options.spacing_mm is not None:
        grid = spacing_grid(out, options.spacing_mm)
        if not on_grid(out, grid):
            out, step = resample(out, grid, "linear", fill)
            chain["steps"].append(step)
    return out, chain


def _reference_mask(images: CaseImages, target: dict[str, Any], reference: Volume, is_ct: bool) -> Volume:
    """The user's mask moved onto the target grid, else a head mask of the reference (CT or MR)."""
    affine = np.asarray(target["affine"])
    if images.mask is not None:
        mask = _onto(images.mask, target, "nearest").array > 0
        name = images.mask.meta.get("path", f"{images.subject} mask")
    else:
        mask = (head_mask if is_ct else mr_head_mask)(reference.array)
        name = f"{images.subject}: automatic head mask"
    if not mask.any():
        raise InputError(f"{name}: empty head mask; give a mask that covers the head")
    return Volume(mask.astype(np.uint8), affine, {})


def _onto(volume: Volume, target: dict[str, Any], interpolation: str) -> Volume:
    """A volume already aligned with the reference, resampled onto its grid (world coordinates)."""
    out, _ = resample(volume, target, interpolation, 0.0)
    return out


def _mr_to_reference(
    volume: Volume, ct: Volume | None, mask: Volume, target: dict[str, Any], options: PreprocessOptions
) -> tuple[Volume, dict[str, Any]]:
    """Register to the CT (unless there is none or ``registered``) and resample onto the reference grid."""
    native, chain = _reoriented(volume)
    transform: sitk.Transform | None = None
    if ct is not None and not options.registered:
        result = register_rigid(ct, native, mask.array > 0, mr_head_mask(native.array), options.registration)
        transform = result.transform
        chain["registration"] = {"metric": result.metric, "stop": result.stop_condition}
    moved, step = resample(native, target, "linear", 0.0, transform)
    chain["steps"].append(step)
    _check_overlap(native, target, transform, mask)
    return moved, chain


def _check_overlap(native: Volume, target: dict[str, Any], transform: sitk.Transform | None, mask: Volume) -> None:
    """Refuse an MR whose field of view covers too little of the head once moved onto the CT."""
    footprint, _ = resample(native.with_array(np.ones(native.shape, np.uint8)), target, "nearest", 0, transform)
    covered = float((footprint.array > 0)[mask.array > 0].mean())
    if covered < MIN_OVERLAP:
        raise InputError(
            f"{native.meta.get('path', 'MR')}: MR and CT do not overlap after registration (only {covered:.0%} "
            "of the head is inside the MR); check they are the same subject and drop --registered if set"
        )


def _crop_to_mask(case: PreparedCase, margin_mm: float, chains: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Crop every image of ``case`` in place to the mask's box plus margin; returns the extended chains."""
    margin = np.ceil(margin_mm / np.asarray(case.mask.spacing)).astype(int)
    start, stop = crop_box(case.mask.array > 0, margin)
    case.mask, step = crop(case.mask, start, stop)
    case.mr = {k: crop(v, start, stop)[0] for k, v in case.mr.items()}
    case.ct = crop(case.ct, start, stop)[0] if case.ct is not None else None
    case.labels = crop(case.labels, start, stop)[0] if case.labels is not None else None
    return {k: {**chain, "steps": [*chain["steps"], step]} for k, chain in chains.items()}


def invert_to_input_grid(
    volume: Volume, record: dict[str, Any], image: str | None = None, interpolation: str = "linear", fill: float = 0.0
) -> Volume:
    """Map ``volume`` (on the prepared grid) back onto the input grid of ``image`` (default: the first MR).

    ``record`` is a ``PreparedCase.record`` or one image's chain from it.
    """
    chain = record["images"][image or record["reference"]] if "images" in record else record
    out = volume
    for step in reversed(chain["steps"]):
        out = invert_step(out, step, interpolation, fill)
    return out
