"""NIfTI read/write for ``Volume`` via nibabel, with atomic writes, and the grid a NIfTI header states."""

from __future__ import annotations

import gzip
import logging
import os
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np

from cranial_sct.errors import InputError, reason
from cranial_sct.io.atomic import atomic_path
from cranial_sct.io.validate import check_affine
from cranial_sct.io.volume import Volume

XFORM_CODES = range(6)  # unknown, scanner, aligned, Talairach, MNI, template
CHUNK_BYTES = 1 << 24


def write_nifti(volume: Volume, path: str | os.PathLike[str], dtype: np.dtype | type | None = None) -> Path:
    """Write ``volume`` to ``path`` (.nii or .nii.gz) atomically; qform and sform both set."""
    path = Path(path)
    array = volume.array if dtype is None else volume.array.astype(dtype)
    image = nib.Nifti1Image(array, volume.affine)
    image.set_qform(volume.affine, code=1)
    image.set_sform(volume.affine, code=1)
    image.header.set_xyzt_units("mm", "sec")
    with atomic_path(path) as tmp:
        nib.save(image, tmp)
    return path


def load_nifti(path: Path) -> nib.spatialimages.SpatialImage:
    """``nib.load`` without the log lines of its header repairs ("setting 0 dims to 1"): the geometry
    gate judges the header as stated (``stated_affine``) and says what is wrong in its own one line."""
    logger = nib.imageglobals.logger
    level = logger.level
    logger.setLevel(logging.CRITICAL + 1)
    try:
        return nib.load(path)
    finally:
        logger.setLevel(level)


def read_nifti(path: str | os.PathLike[str]) -> Volume:
    """Read a NIfTI file the package wrote (or its twin) into a ``Volume``, on the grid its header states.

    Only the grid is checked: a constant skull mask or uncertainty map is a valid output."""
    image = load_nifti(Path(path))
    affine = stated_affine(Path(path), image)
    check_affine(affine, str(path))
    return Volume(np.asanyarray(image.dataobj), affine, {"path": str(path)})


def stated_affine(path: Path, image: nib.spatialimages.SpatialImage) -> np.ndarray:
    """The voxel-to-world affine the header states, before nibabel's load-time repairs.

    As it loads, nibabel silently replaces a zero or NaN voxel size (pixdim) by 1 mm, so a header
    with no usable voxel size would reach the geometry gate looking like a fine grid. The header is
    read again unrepaired; only what the standard lets a reader normalise is: the sign of pixdim
    (orientation lives in the quaternion and qfac) and a qfac of 0, which means 1. A qform or sform
    code the standard does not define (nibabel drops that transform) is refused: which grid was meant?
    """
    if not isinstance(image.header, nib.Nifti1Header):  # Nifti2Header is a subclass
        return image.affine
    with nib.openers.ImageOpener(path) as handle:
        raw = type(image.header).from_fileobj(handle, check=False)
    for key in ("qform_code", "sform_code"):
        if int(raw[key]) not in XFORM_CODES:
            raise InputError(f"{path}: {key} {int(raw[key])} is not a NIfTI code (0-{max(XFORM_CODES)}); the header is damaged")
    pixdim = raw["pixdim"]
    pixdim[1:4] = np.abs(pixdim[1:4])
    if pixdim[0] not in (-1, 1):
        pixdim[0] = 1
    return raw.get_best_affine()


def gzip_length(path: Path) -> int:
    """The decompressed length of a ``.gz`` file, found by decompressing it to its end once.

    That also checks its CRC-32 and length: nibabel reads only the bytes it needs and never reaches
    the checksum at the end, so a flipped bit in the compressed data would otherwise give other voxel
    values without a word."""
    length = 0
    try:
        with gzip.open(path, "rb") as stream:
            while chunk := stream.read(CHUNK_BYTES):
                length += len(chunk)
    except (OSError, EOFError, zlib.error) as error:
        raise InputError(f"{path}: damaged gzip stream ({reason(error)}); the file is corrupt or truncated") from None
    return length


def check_data_length(path: Path, image: nib.spatialimages.SpatialImage, stored: int) -> None:
    """Refuse a file holding fewer bytes (``stored``) than its header's voxels need, before a buffer of
    the header's size is allocated: a 400-byte file may claim gigabytes of voxels."""
    header = image.header
    needed = int(header.get_data_offset()) + int(np.prod(image.shape, dtype=np.int64)) * header.get_data_dtype().itemsize
    if stored < needed:
        shape = " x ".join(str(n) for n in image.shape)
        raise InputError(f"{path}: the header describes {shape} voxels of {header.get_data_dtype()} ({needed:,} bytes with its offset) "
                         f"but the file holds {stored:,}; it is truncated or its header is damaged")
