"""Write real DICOM MR series with pydicom for reader tests, including awkward exports.

Independent of the package's own writer so the reader is tested against separately built files:
file names are shuffled, InstanceNumber runs backwards, SliceThickness can be zero or absent, pixel
values are stored with a rescale slope/intercept, slices can be dropped, ``edit`` changes any
slice's header (tilt, vendor tags, series numbers) and the transfer syntax can be any UID, even one
that does not match how the data set is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

from cranial_sct.io.volume import Volume

LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def write_mr_series(
    volume: Volume,
    folder: Path,
    field_T: float | None = 1.5,
    thickness: float | None = 0.0,
    slope: float = 0.5,
    intercept: float = -10.0,
    drop: tuple[int, ...] = (),
    series_uid: str | None = None,
    description: str = "T1 MPRAGE",
    edit: Callable[[Dataset, int], None] | None = None,
    prefix: str = "IM",
    transfer_syntax: str = ExplicitVRLittleEndian,
) -> str:
    """Write ``volume`` (values must be representable after slope/intercept) as one file per slice."""
    folder.mkdir(parents=True, exist_ok=True)
    lps = LPS @ volume.affine
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    series_uid = series_uid or generate_uid()
    study, frame = generate_uid(), generate_uid()
    stored = np.rint((volume.array - intercept) / slope).astype(np.uint16)
    count = volume.shape[2]
    order = np.random.default_rng(1).permutation(count)  # file names unrelated to position
    for k in range(count):
        if k in drop:
            continue
        ds = Dataset()
        ds.SOPClassUID, ds.SOPInstanceUID = MRImageStorage, generate_uid()
        ds.Modality, ds.SeriesDescription, ds.PatientID, ds.PatientName = "MR", description, "P1", "Test^Head"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series_uid, frame
        ds.InstanceNumber = count - k  # reversed, to prove sorting uses positions
        if field_T is not None:
            ds.MagneticFieldStrength = field_T
        ds.RepetitionTime, ds.EchoTime, ds.FlipAngle = 2300, 2.98, 9
        if thickness is not None:
            ds.SliceThickness = thickness
        ds.ImageOrientationPatient = [*(lps[:3, 0] / spacing[0]), *(lps[:3, 1] / spacing[1])]
        ds.ImagePositionPatient = list(lps[:3, :3] @ [0, 0, k] + lps[:3, 3])
        ds.PixelSpacing = [spacing[1], spacing[0]]
        ds.Rows, ds.Columns = volume.shape[1], volume.shape[0]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        ds.PixelData = np.ascontiguousarray(stored[:, :, k].T).tobytes()
        if edit is not None:
            edit(ds, k)
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID = MRImageStorage, ds.SOPInstanceUID
        ds.file_meta.TransferSyntaxUID = transfer_syntax
        ds.save_as(folder / f"{prefix}{order[k]:04d}", enforce_file_format=True)
    return series_uid
