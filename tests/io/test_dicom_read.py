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


def _read_back(folder):
    import pydicom

    return [pydicom.dcmread(path) for path in sorted(folder.iterdir())]


def test_enhanced_multiframe_mr_reads_like_its_classic_slices(tmp_path, oblique_mr):
    from highdicom.legacy import LegacyConvertedEnhancedMRImage
    from pydicom.uid import generate_uid

    write_mr_series(oblique_mr, tmp_path / "classic")
    enhanced = LegacyConvertedEnhancedMRImage(_read_back(tmp_path / "classic"), generate_uid(), 5, generate_uid(), 1)
    (tmp_path / "enhanced").mkdir()
    enhanced.save_as(tmp_path / "enhanced" / "mr.dcm")
    volume = read_volume(tmp_path / "enhanced" / "mr.dcm")
    assert volume.same_grid(oblique_mr, atol_mm=1e-4)
    np.testing.assert_allclose(volume.array, oblique_mr.array, atol=1e-4)


def test_a_series_with_two_volumes_needs_volume_k(tmp_path, oblique_mr):
    uid = write_mr_series(oblique_mr, tmp_path / "s", prefix="A")
    doubled = oblique_mr.with_array(oblique_mr.array + 10)
    write_mr_series(doubled, tmp_path / "s", series_uid=uid, prefix="B", edit=lambda ds, k: setattr(ds, "InstanceNumber", 100 + k))
    with pytest.raises(InputError, match=r"4D image with 2 volumes.*--volume"):
        read_volume(tmp_path / "s")
    np.testing.assert_allclose(read_volume(tmp_path / "s", 1).array, doubled.array, atol=1e-4)


def test_one_uid_with_two_series_numbers_is_split(tmp_path, oblique_mr):
    uid = write_mr_series(oblique_mr, tmp_path / "s", prefix="A")
    rerun = oblique_mr.with_array(oblique_mr.array + 10)
    write_mr_series(rerun, tmp_path / "s", series_uid=uid, prefix="B", edit=lambda ds, k: setattr(ds, "SeriesNumber", 2))
    with pytest.raises(InputError, match=rf"2 series found .*{uid}#1.*{uid}#2"):
        read_volume(tmp_path / "s")
    np.testing.assert_allclose(read_volume(tmp_path / "s", series_uid=f"{uid}#2").array, rerun.array, atol=1e-4)


def test_mosaic_is_refused_by_name(tmp_path, oblique_mr):
    write_mr_series(oblique_mr, tmp_path / "s", edit=lambda ds, k: setattr(ds, "ImageType", ["ORIGINAL", "PRIMARY", "M", "MOSAIC"]))
    with pytest.raises(InputError, match="mosaic"):
        read_volume(tmp_path / "s")


def test_philips_mr_gives_floating_point_values(tmp_path, oblique_mr):
    scale = 0.02

    def philips(ds, k):
        ds.Manufacturer = "Philips Medical Systems"
        ds.private_block(0x2005, "Philips MR Imaging DD 001", create=True).add_new(0x0E, "FL", scale)

    write_mr_series(oblique_mr, tmp_path / "s", edit=philips)
    volume = read_volume(tmp_path / "s")
    np.testing.assert_allclose(volume.array, oblique_mr.array / (0.5 * scale), rtol=1e-5)  # display / (RS * SS)


def test_compressed_series_are_decoded(tmp_path, oblique_mr):
    from pydicom.uid import JPEGLSLossless, RLELossless

    write_mr_series(oblique_mr, tmp_path / "s")
    for k, (path, dataset) in enumerate(zip(sorted((tmp_path / "s").iterdir()), _read_back(tmp_path / "s"))):
        dataset.compress((RLELossless, JPEGLSLossless)[k % 2])
        dataset.save_as(path)
    np.testing.assert_allclose(read_volume(tmp_path / "s").array, oblique_mr.array, atol=1e-4)


def test_a_missing_decoder_is_named_in_full(tmp_path, oblique_mr, monkeypatch):
    from pydicom.uid import JPEGLSLossless

    write_mr_series(oblique_mr, tmp_path / "s")
    for path, dataset in zip(sorted((tmp_path / "s").iterdir()), _read_back(tmp_path / "s")):
        dataset.compress(JPEGLSLossless)
        dataset.save_as(path)
    from pydicom.pixels.decoders import JPEGLSLosslessDecoder

    monkeypatch.setattr(JPEGLSLosslessDecoder, "_available", {})
    monkeypatch.setattr(JPEGLSLosslessDecoder, "_unavailable", {"pyjpegls": ("requires numpy and pyjpegls",)})
    with pytest.raises(InputError, match="cannot decode pixel data.*pyjpegls") as caught:
        read_volume(tmp_path / "s")
    assert "\n" not in str(caught.value)


def test_volumes_above_the_voxel_limit_are_refused_before_reading(tmp_path, oblique_mr, monkeypatch):
    from cranial_sct.io import validate

    write_mr_series(oblique_mr, tmp_path / "s")
    monkeypatch.setattr(validate, "MAX_VOXELS", 100)
    with pytest.raises(InputError, match=r"s: .* voxels is above the 100-voxel limit"):
        read_volume(tmp_path / "s")


def test_gantry_tilted_ct_is_resampled_onto_a_rectilinear_grid(tmp_path):
    from cranial_sct.io.volume import Volume

    tilt = np.radians(15)
    sheared = np.array([[2.0, 0, 0, -40], [0, 2 * np.cos(tilt), 0, -40], [0, 2 * np.sin(tilt), 2.5, -10], [0, 0, 0, 1]])
    grid = np.indices((40, 40, 12)).reshape(3, -1)
    world = (sheared @ np.vstack([grid, np.ones(grid.shape[1])]))[:3]
    ramp = lambda points: 2 * points[0] + 3 * points[1] + points[2] + 500  # noqa: E731  linear: interpolated exactly
    stored = np.rint(ramp(world).reshape(40, 40, 12) * 2) / 2
    write_mr_series(Volume(stored, sheared), tmp_path / "ct")
    volume = read_volume(tmp_path / "ct")
    assert "gantry tilt of 15.00 deg" in volume.meta["resampled"][0]
    axes = volume.affine[:3, :3] / np.linalg.norm(volume.affine[:3, :3], axis=0)
    np.testing.assert_allclose(axes.T @ axes, np.eye(3), atol=1e-6)
    assert volume.spacing == pytest.approx((2.0, 2.0, 2.5 * np.cos(tilt)), abs=1e-4)
    index = np.indices(volume.shape).reshape(3, -1)
    expected = ramp((volume.affine @ np.vstack([index, np.ones(index.shape[1])]))[:3]).reshape(volume.shape)
    from scipy.ndimage import binary_erosion

    # two rows in from each slice's shifted edge, where the edge pixel is repeated (dcm2niix's rule)
    inside = binary_erosion(volume.array > volume.array.min(), np.ones((1, 5, 1), bool))
    assert inside.mean() > 0.7
    np.testing.assert_allclose(volume.array[inside], expected[inside], atol=0.3)


def test_scaled_orientation_cosines_are_refused_not_read_as_a_stretched_grid(tmp_path, oblique_mr):
    """Cosines of length 1.1 were read as voxels 10 % wider and slices 42 % further apart, without a word."""
    write_mr_series(oblique_mr, tmp_path / "s", edit=lambda ds, k: setattr(ds, "ImageOrientationPatient", [1.1, 0, 0, 0, 1.1, 0]))
    with pytest.raises(InputError, match=r"has ImageOrientationPatient 1.1\\0\\0\\0\\1.1\\0, not two orthogonal unit vectors"):
        read_volume(tmp_path / "s")
