import numpy as np
import pytest

from cranial_sct.errors import InputError
from cranial_sct.io.dicom_read import read_dicom_series
from cranial_sct.io.readers import read_volume
from tests.heads import head_volumes
from tests.io.dicom_factory import write_mr_series


@pytest.fixture(scope="module")
def oblique_mr():
    mr, _ = head_volumes(6.0, codes="LPS", angle_deg=20)
    return mr.with_array(np.rint(mr.array * 2) / 2)  # exactly representable with slope 0.5


def test_reads_oblique_series_sorted_by_position_with_rescale(tmp_path, oblique_mr):
    write_mr_series(oblique_mr, tmp_path / "s", field_T=3.0)
    volume = read_volume(tmp_path / "s")
    assert volume.same_grid(oblique_mr, atol_mm=1e-4)
    np.testing.assert_allclose(volume.array, oblique_mr.array, atol=1e-4)
    assert volume.meta["field_T"] == "3"
    assert volume.meta["modality"] == "mr"
    assert volume.meta["sequence"]["EchoTime"] == pytest.approx(2.98)


def test_single_file_path_reads_its_series(tmp_path, oblique_mr):
    write_mr_series(oblique_mr, tmp_path / "s")
    one_file = sorted((tmp_path / "s").iterdir())[0]
    assert read_volume(one_file).same_grid(oblique_mr, atol_mm=1e-4)


@pytest.mark.parametrize("thickness", [0.0, None])
def test_spacing_comes_from_positions_when_slice_thickness_is_zero_or_missing(tmp_path, oblique_mr, thickness):
    write_mr_series(oblique_mr, tmp_path / "s", thickness=thickness)
    assert read_dicom_series(tmp_path / "s").spacing == pytest.approx((6.0, 6.0, 6.0), abs=1e-4)


def test_several_series_need_a_choice(tmp_path, oblique_mr):
    first = write_mr_series(oblique_mr, tmp_path / "s", description="T1")
    write_mr_series(oblique_mr, tmp_path / "s" / "second", description="FLAIR")
    with pytest.raises(InputError, match=r"2 series found .*--series"):
        read_volume(tmp_path / "s")
    assert read_volume(tmp_path / "s", series_uid=first).same_grid(oblique_mr, atol_mm=1e-4)


def test_missing_slices_refused_unless_allowed(tmp_path, oblique_mr):
    write_mr_series(oblique_mr, tmp_path / "s", drop=(5,))
    with pytest.raises(InputError, match="missing slices.*--allow-gaps"):
        read_volume(tmp_path / "s")
    filled = read_volume(tmp_path / "s", allow_gaps=True)
    assert filled.same_grid(oblique_mr, atol_mm=1e-4)
    expected = (oblique_mr.array[:, :, 4] + oblique_mr.array[:, :, 6]) / 2
    np.testing.assert_allclose(filled.array[:, :, 5], expected, atol=1e-3)


def test_folder_without_dicom_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(InputError, match="no DICOM image files"):
        read_volume(tmp_path)


def test_undecodable_pixel_data_is_named(tmp_path, oblique_mr):
    import pydicom

    write_mr_series(oblique_mr, tmp_path / "s")
    path = sorted((tmp_path / "s").iterdir())[0]
    dataset = pydicom.dcmread(path)
    dataset.PixelData = dataset.PixelData[:100]  # truncated pixel data
    dataset.save_as(path)
    with pytest.raises(InputError, match=r"cannot decode pixel data of .*IM\d+ \(") as caught:
        read_volume(tmp_path / "s")
    assert "\n" not in str(caught.value)
