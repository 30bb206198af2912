"""``read_volume``: any supported input (NIfTI, MHA/MHD, NRRD, DICOM series) -> a checked ``Volume``.

The format is picked from the path: a folder (or a single ``.dcm`` file) is a DICOM series, else the
extension decides. Every volume leaves here 3D, finite, non-constant, on a sane orthogonal grid, and
with ``meta`` holding ``path``, ``format``, ``modality`` (from DICOM or guessed from intensities),
``field_T`` (DICOM, then BIDS sidecar, else absent) and ``sequence`` parameters when known.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from cranial_sct.errors import InputError, reason
from cranial_sct.io.dicom_read import read_dicom_series
from cranial_sct.io.metaimage import check_metaimage_header
from cranial_sct.io.nifti import check_data_length, gzip_length, load_nifti, stated_affine
from cranial_sct.io.sidecar import read_sidecar
from cranial_sct.io.sitk_bridge import from_sitk
from cranial_sct.io.validate import check_volume, check_volume_index, check_voxel_count, guess_modality
from cranial_sct.io.volume import Volume

NIFTI_SUFFIXES = (".nii.gz", ".nii")
ITK_SUFFIXES = (".mha", ".mhd", ".nrrd", ".nhdr")
SUPPORTED = "NIfTI (.nii, .nii.gz), MHA/MHD, NRRD or a DICOM series folder"


def image_suffix(path: Path) -> str | None:
    """The recognised image extension of ``path`` (lower case), or None."""
    name = path.name.lower()
    return next((s for s in NIFTI_SUFFIXES + ITK_SUFFIXES if name.endswith(s)), None)


def read_volume(
    path: str | os.PathLike[str],
    volume_index: int | None = None,
    *,
    series_uid: str | None = None,
    allow_gaps: bool = False,
) -> Volume:
    """Read and check one 3D volume; ``volume_index`` picks a volume of a 4D file."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found; check the path")
    suffix = image_suffix(path)
    if path.is_dir():
        volume = read_dicom_series(path, series_uid, allow_gaps, volume_index)
    elif suffix in NIFTI_SUFFIXES:
        volume = _read_nifti(path, volume_index)
    elif suffix in ITK_SUFFIXES:
        volume = _read_itk(path, volume_index)
    elif _is_dicom_file(path):
        volume = read_dicom_series(path.parent, series_uid, allow_gaps, volume_index, member=path)
    else:
        raise InputError(f"{path}: unsupported file type; give {SUPPORTED}")
    if volume.meta.get("format") != "dicom":
        volume.meta.update(read_sidecar(path))
    check_volume(volume, str(path))
    volume.meta["modality_guess"] = guess_modality(volume.array)
    volume.meta.setdefault("modality", volume.meta["modality_guess"])
    return volume


def _is_dicom_file(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(132)[128:] == b"DICM"


def _read_nifti(path: Path, volume_index: int | None) -> Volume:
    """One volume of a NIfTI file: only that volume is loaded, and scaled data comes as float32."""
    try:
        stored = gzip_length(path) if path.name.lower().endswith(".gz") else path.stat().st_size
        image = load_nifti(path)
        check_voxel_count(tuple(image.shape[:3]), path)
        check_data_length(path, image, stored)
        one = image.slicer[_volume_slicer(image.shape, volume_index, path)] if len(image.shape) > 3 else image
        scaled = getattr(one.dataobj, "slope", 1) != 1 or getattr(one.dataobj, "inter", 0) != 0
        array = one.get_fdata(dtype=np.float32) if scaled else np.asanyarray(one.dataobj)
        affine = stated_affine(path, image)
    except InputError:
        raise
    except Exception as error:  # nibabel/gzip raise many types for damaged files
        raise InputError(f"{path}: cannot read as NIfTI ({reason(error)}); the file is damaged or not NIfTI") from error
    return Volume(array.reshape(array.shape[:3]), affine, _base_meta(path, "nifti"))


def _read_itk(path: Path, volume_index: int | None) -> Volume:
    if path.suffix.lower() in (".mha", ".mhd"):
        check_metaimage_header(path)
    try:
        with native_stderr_silenced():
            reader = sitk.ImageFileReader()
            reader.SetFileName(str(path))
            reader.ReadImageInformation()
            check_voxel_count(reader.GetSize()[:3], path)
            image = reader.Execute()
    except RuntimeError as error:
        last_line = (str(error).strip().splitlines() or [type(error).__name__])[-1]  # ITK's reason; the rest is its source location
        raise InputError(f"{path}: cannot read the image ({last_line})") from error
    if image.GetNumberOfComponentsPerPixel() > 1:
        index = check_volume_index(volume_index, image.GetNumberOfComponentsPerPixel(), path)
        image = sitk.VectorIndexSelectionCast(image, index)
    if image.GetDimension() == 4:
        size = list(image.GetSize())
        index = check_volume_index(volume_index, size[3], path)
        image = sitk.Extract(image, size[:3] + [0], [0, 0, 0, index])
    if image.GetDimension() != 3:
        raise InputError(f"{path}: a 3D image is needed, got a {image.GetDimension()}D image")
    return from_sitk(image, _base_meta(path, path.suffix.lower().lstrip(".")))


@contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Hide what ITK's readers print straight to the process's error stream (file descriptor 2): the
    ``RuntimeError`` it raises carries the reason, and the user gets that as one line."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _volume_slicer(shape: tuple[int, ...], volume_index: int | None, path: Path) -> tuple[slice, ...]:
    """The slicer of one (x, y, z) volume of a 4D+ image (trailing singleton axes are ignored)."""
    kept = list(shape)
    while len(kept) > 3 and kept[-1] == 1:
        kept.pop()
    if len(kept) > 4:
        raise InputError(f"{path}: a 3D image is needed, got shape {tuple(shape)}")
    index = [slice(None)] * len(shape)
    if len(kept) == 4:
        k = check_volume_index(volume_index, kept[3], path)
        index[3] = slice(k, k + 1)
    return tuple(index)


def _base_meta(path: Path, fmt: str) -> dict[str, Any]:
    return {"path": str(path), "format": fmt}
