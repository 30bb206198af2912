"""Hypothesis damages the elements of a DICOM series; each must read on the grid its headers state, or be refused in one line.

Elements are deleted or given missing, contradictory or absurd values in one slice or all of them:
position, orientation, spacing, rows/columns, bits, photometric interpretation, rescale, pixel data
and the transfer syntax. The grid of anything read is checked against the headers, read back with
pydicom: in-plane spacing from PixelSpacing, slice spacing from the positions along the normal.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian, JPEGBaseline8Bit,
    JPEGLSLossless, RLELossless,
)  # fmt: skip

from cranial_sct.io.volume import Volume
from tests.io.dicom_factory import write_mr_series
from tests.io.outcomes import read_or_refuse

pytestmark = pytest.mark.fuzz
SHAPE = (8, 9, 6)
VOLUME = Volume((np.arange(np.prod(SHAPE)).reshape(SHAPE) % 113 * 4.0).astype(np.float32),
                np.array([[-1.5, 0, 0, 20], [0, 1.2, 0.3, -30], [0, -0.3, 1.2, 40], [0, 0, 0, 1]]) @ np.diag([1, 1, 2.5, 1]))
_folders = (f"series{k}" for k in itertools.count())
DELETE = object()
ELEMENTS: dict[str, list[Any]] = {
    "ImagePositionPatient": [DELETE, [0, 0, 0], ["nan", "0", "0"], [1, 2], [1e12, 0, 0], ["x", "y", "z"]],
    "ImageOrientationPatient": [DELETE, [0] * 6, [2, 0, 0, 0, 2, 0], [1, 0, 0, 1, 0, 0], [1, 0, 0, 0.5, 0.5, 0], [1, 0, 0, 0, 1],
                                ["nan", 0, 0, 0, 1, 0], [0.9, 0, 0, 0, 1, 0]],
    "PixelSpacing": [DELETE, [0, 0], [-1, 1], [1], [1e6, 1e6], ["nan", "1"], [0.01, 0.01], [0.7, 0.7]],
    "Rows": [DELETE, 0, SHAPE[1] + 1, 65535],
    "Columns": [DELETE, 0, SHAPE[0] - 1],
    "BitsAllocated": [DELETE, 8, 12, 32, 0, 1],
    "BitsStored": [0, 20, 8],
    "HighBit": [0, 31],
    "PixelRepresentation": [1, 2, DELETE],
    "PhotometricInterpretation": [DELETE, "RGB", "PALETTE COLOR", "YBR_FULL", "MONOCHROME1", "garbage"],
    "SamplesPerPixel": [3, 0, DELETE],
    "RescaleSlope": [0, "nan", "inf", 1e30, -1, DELETE],
    "RescaleIntercept": ["nan", 1e38, DELETE],
    "PixelData": [DELETE, b"", b"\0" * 10],
    "SeriesInstanceUID": [DELETE, "1.2.3"],
    "NumberOfFrames": [2, 0],
    "SliceThickness": [-1, "nan"],
    "Modality": ["CT", DELETE],
    "InstanceNumber": [DELETE, "abc"],
}
SYNTAXES = [ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian,
            JPEGBaseline8Bit, JPEGLSLossless, RLELossless, "1.2.3.4"]
damage = st.tuples(st.sampled_from(sorted(ELEMENTS)), st.integers(0, 99), st.integers(-1, SHAPE[2] - 1)).map(
    lambda t: (t[0], ELEMENTS[t[0]][t[1] % len(ELEMENTS[t[0]])], t[2])  # slice -1: every slice
)


def damaged(changes: list[tuple[str, Any, int]]):
    def edit(ds: pydicom.Dataset, k: int) -> None:
        for keyword, value, where in changes:
            if where in (-1, k):
                if value is DELETE:
                    delattr(ds, keyword) if keyword in ds else None
                else:
                    setattr(ds, keyword, value)
    return edit


def grid_from_headers(folder: Path) -> tuple[np.ndarray, float] | None:
    """(in-plane spacing along array axes 0 and 1, slice spacing) as the headers give them, read by pydicom."""
    headers = [pydicom.dcmread(path, stop_before_pixels=True) for path in sorted(folder.iterdir())]
    row_spacing, column_spacing = (float(v) for v in headers[0].PixelSpacing)
    orientation = np.asarray(headers[0].ImageOrientationPatient, dtype=float)
    normal = np.cross(orientation[:3], orientation[3:])
    offsets = sorted({round(float(np.dot(normal / np.linalg.norm(normal), [float(v) for v in h.ImagePositionPatient])), 4) for h in headers})
    return np.array([column_spacing, row_spacing]), float(np.median(np.diff(offsets)))


@given(changes=st.lists(damage, min_size=1, max_size=3), syntax=st.sampled_from(SYNTAXES) | st.just(ExplicitVRLittleEndian))
def test_a_damaged_series_reads_on_the_stated_grid_or_is_refused(tmp_path: Path, changes: list, syntax: str) -> None:
    folder = tmp_path / next(_folders)
    try:
        write_mr_series(VOLUME, folder, edit=damaged(changes), transfer_syntax=syntax)
    except Exception:  # noqa: BLE001  pydicom refuses to write some combinations: nothing to read then
        event("pydicom cannot write it")
        return
    volume = read_or_refuse(folder)
    if volume is not None:
        in_plane, between_slices = grid_from_headers(folder)
        np.testing.assert_allclose(volume.spacing[:2], in_plane, rtol=1e-4)
        if "resampled" not in volume.meta:
            np.testing.assert_allclose(volume.spacing[2], between_slices, rtol=1e-3)
