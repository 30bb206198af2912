"""A synthetic CT ``Volume`` -> a DICOM CT Image Storage series that planning and PET software accept.

Pixels are signed 16-bit with RescaleSlope 1 and RescaleIntercept -1024 (stored value = HU + 1024,
so air is 0). Each slice carries its own ImagePositionPatient (LPS), the shared orientation, pixel
spacing and slice thickness, fresh SOP/Series UIDs and ImageType DERIVED\\SECONDARY. Given the MR's
DICOM reference, the series joins the MR's patient, study and FrameOfReference (the sCT is on the MR
grid, so it shares its frame of reference).
"""

from __future__ import annotations

import copy
import datetime
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pydicom.valuerep import DS

from cranial_sct import __version__
from cranial_sct.errors import InputError
from cranial_sct.io.atomic import atomic_path
from cranial_sct.io.sitk_bridge import RAS_FROM_LPS
from cranial_sct.io.validate import check_affine
from cranial_sct.io.volume import Volume

RESCALE_INTERCEPT = -1024
PATIENT_STUDY_TAGS = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyDate",
    "StudyTime", "StudyID", "AccessionNumber", "ReferringPhysicianName", "StudyDescription",
    "FrameOfReferenceUID",
)  # fmt: skip


def write_ct_series(
    volume_hu: Volume,
    out_dir: str | os.PathLike[str],
    reference: Dataset | Mapping[str, Any] | None = None,
    description: str = "Synthetic CT (cranial-sct)",
    overwrite: bool = False,
) -> Path:
    """Write one file per slice into ``out_dir`` (created atomically); returns ``out_dir``.

    ``reference`` is the source MR's DICOM header (a pydicom Dataset, or the ``dicom_reference`` dict
    that ``read_volume`` puts in ``meta``); without it a new patient/study/frame of reference is made.
    """
    out_dir = Path(out_dir)
    check_affine(volume_hu.affine, f"{out_dir}: sCT grid")
    if out_dir.exists() and not overwrite:
        raise InputError(f"{out_dir}: already exists; pass --overwrite to replace it")
    if not out_dir.parent.is_dir():
        raise InputError(f"{out_dir.parent}: output folder does not exist; create it or choose another")
    base = _series_dataset(dict(reference or {}) if not isinstance(reference, Dataset) else reference, description)
    lps = RAS_FROM_LPS @ volume_hu.affine
    stored = np.clip(np.rint(volume_hu.array) - RESCALE_INTERCEPT, -32768, 32767).astype(np.int16)
    try:
        with atomic_path(out_dir) as tmp:
            tmp.mkdir()
            for k in range(stored.shape[2]):
                _slice_dataset(base, lps, stored[:, :, k], k).save_as(tmp / f"CT{k + 1:05d}.dcm", enforce_file_format=True)
            if out_dir.is_dir():
                shutil.rmtree(out_dir)
    except OSError as error:
        raise InputError(f"{out_dir}: cannot write ({error.strerror}); choose a writable output folder") from error
    return out_dir


def _series_dataset(reference: Dataset | dict[str, Any], description: str) -> Dataset:
    """Everything the slices share: patient, study, series, frame of reference, equipment, pixel format."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    for tag in PATIENT_STUDY_TAGS:
        value = reference.get(tag)
        setattr(ds, tag, "" if value is None else value)
    ds.PatientName = ds.PatientName or "Anonymous"
    ds.PatientID = ds.PatientID or "cranial-sct"
    ds.StudyInstanceUID = ds.StudyInstanceUID or generate_uid()
    ds.FrameOfReferenceUID = ds.FrameOfReferenceUID or generate_uid()
    now = datetime.datetime.now()
    ds.StudyDate = ds.StudyDate or now.strftime("%Y%m%d")
    ds.StudyTime = ds.StudyTime or now.strftime("%H%M%S")
    ds.ContentDate, ds.ContentTime = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.SOPClassUID = CTImageStorage
    ds.Modality = "CT"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = int(reference.get("SeriesNumber") or 0) + 1000
    ds.SeriesDescription = description
    ds.ImageType = ["DERIVED", "SECONDARY", "AXIAL"]
    ds.DerivationDescription = f"Synthetic CT computed from MR series {reference.get('SeriesInstanceUID', '(not DICOM)')}"
    ds.Manufacturer = "cranial-sct"
    ds.SoftwareVersions = __version__
    ds.PositionReferenceIndicator = ""
    ds.KVP = ""
    ds.AcquisitionNumber = 1
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = RESCALE_INTERCEPT, 1, "HU"
    ds.WindowCenter, ds.WindowWidth = 40, 400
    return ds


def _slice_dataset(base: Dataset, lps: np.ndarray, pixels: np.ndarray, k: int) -> Dataset:
    """Slice ``k``: its UID, position and pixels; array axis 0 runs along the rows, axis 1 down the columns."""
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    row_dir, col_dir = lps[:3, 0] / spacing[0], lps[:3, 1] / spacing[1]
    position = lps[:3, :3] @ [0, 0, k] + lps[:3, 3]
    ds = copy.deepcopy(base)
    ds.SOPInstanceUID = generate_uid()
    ds.InstanceNumber = k + 1
    ds.ImageOrientationPatient = [_ds(v) for v in (*row_dir, *col_dir)]
    ds.ImagePositionPatient = [_ds(v) for v in position]
    ds.SliceLocation = _ds(float(position @ np.cross(row_dir, col_dir)))
    ds.PixelSpacing = [_ds(spacing[1]), _ds(spacing[0])]
    ds.SliceThickness = _ds(spacing[2])
    ds.SpacingBetweenSlices = _ds(spacing[2])
    ds.Rows, ds.Columns = int(pixels.shape[1]), int(pixels.shape[0])
    ds.PixelData = np.ascontiguousarray(pixels.T).tobytes()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def _ds(value: float) -> DS:
    """A decimal string holding as many digits as DICOM's 16 characters allow."""
    return DS(float(value), auto_format=True)
