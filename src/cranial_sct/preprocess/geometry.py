"""Grid changes that are recorded, so every one can be undone: reorient, resample, crop.

Each function returns the new volume and a JSON-serialisable step ``{"op", "from", "to", ...}``
where ``from``/``to`` are grids (shape + RAS affine). ``invert_step`` maps a volume on the ``to``
grid back onto the ``from`` grid: exactly for reorient and crop (index permutations and padding),
by resampling for resample steps (through the inverse of a recorded rigid transform, if any).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import nibabel as nib
import numpy as np
import SimpleITK as sitk

from cranial_sct.io.sitk_bridge import affine_of, grid_image, to_sitk
from cranial_sct.io.volume import Volume

Step = dict[str, Any]
INTERPOLATORS = {"linear": sitk.sitkLinear, "nearest": sitk.sitkNearestNeighbor}


def grid_of(volume: Volume) -> dict[str, Any]:
    return {"shape": [int(n) for n in volume.shape[:3]], "affine": volume.affine.tolist()}


def on_grid(volume: Volume, grid: dict[str, Any]) -> bool:
    """True when ``volume`` already sits on ``grid`` (shape and affine)."""
    return volume.same_grid(Volume(np.broadcast_to(np.uint8(0), grid["shape"]), np.asarray(grid["affine"])))


def _check_on_grid(volume: Volume, grid: dict[str, Any]) -> None:
    if not on_grid(volume, grid):
        raise ValueError(f"volume grid {volume.shape} does not match the recorded grid {grid['shape']}")


def reorient(volume: Volume, codes: str = "RAS") -> tuple[Volume, Step]:
    """Permute/flip array axes so they run along ``codes`` (closest axes; oblique grids stay oblique)."""
    transform = nib.orientations.ornt_transform(
        nib.io_orientation(volume.affine), nib.orientations.axcodes2ornt(tuple(codes))
    )
    array = nib.orientations.apply_orientation(volume.array, transform)
    affine = volume.affine @ nib.orientations.inv_ornt_aff(transform, volume.shape[:3])
    out = Volume(np.ascontiguousarray(array), affine, dict(volume.meta))
    return out, {"op": "reorient", "from": grid_of(volume), "to": grid_of(out)}


def spacing_grid(volume: Volume, spacing_mm: float | Sequence[float]) -> dict[str, Any]:
    """A grid with ``spacing_mm`` (one value, or one per array axis), the same axes and (to within a
    voxel) the same field of view."""
    old = np.asarray(volume.spacing)
    new = np.broadcast_to(np.asarray(spacing_mm, dtype=np.float64), (3,))
    directions = volume.affine[:3, :3] / old
    shape = np.maximum(1, np.ceil(np.asarray(volume.shape[:3]) * old / new - 1e-6)).astype(int)
    corner = volume.affine[:3, :3] @ np.full(3, -0.5) + volume.affine[:3, 3]
    affine = np.eye(4)
    affine[:3, :3] = directions * new
    affine[:3, 3] = corner + affine[:3, :3] @ np.full(3, 0.5)
    return {"shape": shape.tolist(), "affine": affine.tolist()}


def resample(
    volume: Volume,
    grid: dict[str, Any],
    interpolation: str = "linear",
    fill: float = 0.0,
    transform: sitk.Transform | None = None,
) -> tuple[Volume, Step]:
    """Resample onto ``grid``; ``transform`` maps grid points to ``volume``'s world (ITK convention)."""
    image = to_sitk(volume, volume.array.astype(np.float32) if interpolation == "linear" else None)
    reference = grid_image(grid["shape"], np.asarray(grid["affine"]))
    moved = sitk.Resample(image, reference, transform or sitk.Transform(), INTERPOLATORS[interpolation], fill)
    array = sitk.GetArrayFromImage(moved).transpose(2, 1, 0)
    out = Volume(array, affine_of(moved), dict(volume.meta))
    step: Step = {"op": "resample", "from": grid_of(volume), "to": grid_of(out)}
    if transform is not None:
        step["transform"] = transform_to_dict(transform)
    return out, step


def crop_box(mask: np.ndarray, margin_voxels: np.ndarray) -> tuple[list[int], list[int]]:
    """Bounding box of ``mask`` grown by ``margin_voxels`` per axis, clipped to the array."""
    where = np.argwhere(mask)
    start = np.maximum(where.min(axis=0) - margin_voxels, 0)
    stop = np.minimum(where.max(axis=0) + 1 + margin_voxels, mask.shape)
    return start.astype(int).tolist(), stop.astype(int).tolist()


def crop(volume: Volume, start: list[int], stop: list[int]) -> tuple[Volume, Step]:
    """Keep ``array[start:stop]``; the affine moves its origin to ``start`` so world positions stay."""
    index = tuple(slice(a, b) for a, b in zip(start, stop))
    affine = volume.affine.copy()
    affine[:3, 3] = volume.affine[:3, :3] @ np.asarray(start) + volume.affine[:3, 3]
    out = Volume(volume.array[index].copy(), affine, dict(volume.meta))
    return out, {"op": "crop", "from": grid_of(volume), "to": grid_of(out), "start": start, "stop": stop}


def invert_step(volume: Volume, step: Step, interpolation: str = "linear", fill: float = 0.0) -> Volume:
    """Map ``volume`` (on ``step['to']``) back onto ``step['from']``."""
    _check_on_grid(volume, step["to"])
    source = step["from"]
    if step["op"] == "crop":
        array = np.full(source["shape"], fill, dtype=volume.array.dtype)
        array[tuple(slice(a, b) for a, b in zip(step["start"], step["stop"]))] = volume.array
        return Volume(array, np.asarray(source["affine"]), dict(volume.meta))
    if step["op"] == "reorient":
        back, _ = reorient(volume, "".join(nib.aff2axcodes(np.asarray(source["affine"]))))
        return Volume(back.array, np.asarray(source["affine"]), dict(volume.meta))
    if step["op"] == "resample":
        transform = transform_from_dict(step["transform"]).GetInverse() if "transform" in step else None
        back, _ = resample(volume, source, interpolation, fill, transform)
        return back
    raise ValueError(f"unknown preprocessing step {step['op']!r}")


def transform_to_dict(transform: sitk.Transform) -> dict[str, Any]:
    return {
        "type": transform.GetName(),
        "parameters": list(transform.GetParameters()),
        "fixed_parameters": list(transform.GetFixedParameters()),
    }


def transform_from_dict(data: dict[str, Any]) -> sitk.Transform:
    if data["type"] != "Euler3DTransform":
        raise ValueError(f"unsupported transform {data['type']!r}")
    transform = sitk.Euler3DTransform()
    transform.SetFixedParameters(data["fixed_parameters"])
    transform.SetParameters(data["parameters"])
    return transform
