"""Decode the pixels of chosen DICOM frames into one float32 stack of real values.

pydicom decodes every transfer syntax it has a plugin for: uncompressed and RLE natively, JPEG
Lossless/baseline/extended and JPEG-LS through pylibjpeg-libjpeg, JPEG 2000 through
pylibjpeg-openjpeg (all declared dependencies). When a plugin is still missing, pydicom's whole
message, which names the package to install, is kept on one line.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
from pydicom.pixels import iter_pixels, pixel_array

from cranial_sct.errors import InputError, reason
from cranial_sct.io.dicom_frames import Frame
from cranial_sct.io.validate import check_voxel_count


def read_slices(frames: list[Frame], name: str) -> np.ndarray:
    """(slice, row, column) float32 real values of ``frames``; each file is opened once."""
    rows, columns = frames[0].shape
    check_voxel_count((len(frames), rows, columns), name)
    out = np.empty((len(frames), rows, columns), dtype=np.float32)
    slots: dict[Path, dict[int, int]] = defaultdict(dict)
    for k, frame in enumerate(frames):
        if frame.number is None:
            _store(out, k, frame, _decode(frame.path, None, name), name)
        else:
            slots[frame.path][frame.number] = k
    for path, wanted in slots.items():
        numbers = sorted(wanted)
        for number, pixels in zip(numbers, _decode(path, numbers, name), strict=True):
            _store(out, wanted[number], frames[wanted[number]], pixels, name)
    return out


def _store(out: np.ndarray, k: int, frame: Frame, pixels: np.ndarray, name: str) -> None:
    if pixels.shape != out.shape[1:]:
        raise InputError(f"{name}: {frame.path.name} holds {pixels.shape} pixels, not {out.shape[1:]}; this is not one volume")
    np.multiply(pixels, frame.slope, out=out[k], casting="unsafe")
    out[k] += frame.intercept


def _decode(path: Path, numbers: list[int] | None, name: str) -> np.ndarray | list[np.ndarray]:
    """One single-frame file's pixels, or the listed frames of a multi-frame file."""
    try:
        if numbers is None:
            return pixel_array(path)
        return list(iter_pixels(path, indices=numbers))
    except Exception as error:  # pydicom raises many types for undecodable or truncated pixel data
        raise InputError(f"{name}: cannot decode pixel data of {path} ({reason(error, 400)})") from error
