import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from cranial_sct.errors import InputError
from cranial_sct.io.dicom_write import write_ct_series
from cranial_sct.io.readers import read_volume
from cranial_sct.io.volume import Volume
from tests.heads import head_volumes
from tests.io.dicom_factory import write_mr_series

DCM2NIIX = Path(sys.executable).with_name("dcm2niix")


@pytest.fixture(scope="module")
def sct():
    """An oblique, LPS-ordered synthetic CT with fractional HU (as a network would output)."""
    _, ct = head_volumes(5.0, codes="LPS", angle_deg=17)
    noise = np.random.default_rng(2).uniform(-0.4, 0.4, ct.shape)
    return ct.with_array(ct.array.astype(np.float32) + noise.astype(np.float32))


def test_round_trip_through_pydicom_keeps_grid_and_hu(tmp_path, sct):
    folder = write_ct_series(sct, tmp_path / "sct")
    back = read_volume(folder)
    assert back.same_grid(sct, atol_mm=0.01)
    assert np.abs(back.array - sct.array).max() <= 1.0
    first = pydicom.dcmread(sorted(folder.iterdir())[0])
    assert first.Modality == "CT" and list(first.ImageType)[:2] == ["DERIVED", "SECONDARY"]
    assert "Synthetic" in first.SeriesDescription
    assert (first.RescaleIntercept, first.RescaleSlope, first.PixelRepresentation) == (-1024, 1, 1)
    assert first.pixel_array.dtype == np.int16


def test_round_trip_through_dcm2niix(tmp_path, sct):
    folder = write_ct_series(sct, tmp_path / "sct")
    out = tmp_path / "nii"
    out.mkdir()
    subprocess.run([str(DCM2NIIX), "-z", "n", "-f", "sct", "-o", str(out), str(folder)], check=True, capture_output=True)
    converted = nib.as_closest_canonical(nib.load(out / "sct.nii"))
    original = nib.as_closest_canonical(nib.Nifti1Image(sct.array, sct.affine))
    np.testing.assert_allclose(converted.affine, original.affine, atol=0.01)
    assert np.abs(np.asarray(converted.dataobj) - original.get_fdata()).max() <= 1.0


def test_series_joins_the_mr_study_and_frame_of_reference(tmp_path, sct):
    write_mr_series(Volume(np.full(sct.shape, 20.0, np.float32), sct.affine), tmp_path / "mr")
    source = pydicom.dcmread(next((tmp_path / "mr").iterdir()), stop_before_pixels=True)
    folder = write_ct_series(sct, tmp_path / "sct", reference=source)
    written = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted(folder.iterdir())]
    assert {d.StudyInstanceUID for d in written} == {source.StudyInstanceUID}
    assert {d.FrameOfReferenceUID for d in written} == {source.FrameOfReferenceUID}
    assert len({d.SeriesInstanceUID for d in written}) == 1 and written[0].SeriesInstanceUID != source.SeriesInstanceUID
    assert len({d.SOPInstanceUID for d in written}) == len(written) == sct.shape[2]


def test_existing_output_refused_without_overwrite(tmp_path, sct):
    (tmp_path / "sct").mkdir()
    (tmp_path / "sct" / "keep.txt").write_text("user data")
    with pytest.raises(InputError, match="already exists.*--overwrite"):
        write_ct_series(sct, tmp_path / "sct")
    assert (tmp_path / "sct" / "keep.txt").exists()
    write_ct_series(sct, tmp_path / "sct", overwrite=True)
    assert len(list((tmp_path / "sct").iterdir())) == sct.shape[2]


def test_unwritable_folder_is_refused(unwritable_folder, sct):
    with pytest.raises(InputError, match="cannot write"):
        write_ct_series(sct, unwritable_folder / "sct")
    assert not (unwritable_folder / "sct").exists()


def test_mr_dicom_in_sct_dicom_out_on_the_same_grid_and_study(tmp_path):
    mr_in, ct = head_volumes(6.0, codes="LPS", angle_deg=12)
    write_mr_series(mr_in.with_array(np.rint(mr_in.array)), tmp_path / "mr", field_T=1.5)
    mr = read_volume(tmp_path / "mr")
    sct = mr.with_array(ct.array.astype(np.float32))  # stands in for a prediction on the MR grid
    back = read_volume(write_ct_series(sct, tmp_path / "sct", reference=mr.meta["dicom_reference"]))
    assert back.same_grid(mr, atol_mm=0.01)
    assert np.abs(back.array - ct.array).max() <= 0.5
    source = pydicom.dcmread(next((tmp_path / "mr").iterdir()), stop_before_pixels=True)
    written = pydicom.dcmread(next((tmp_path / "sct").iterdir()), stop_before_pixels=True)
    assert (written.StudyInstanceUID, written.FrameOfReferenceUID, written.PatientID) == (
        source.StudyInstanceUID, source.FrameOfReferenceUID, source.PatientID
    )  # fmt: skip
