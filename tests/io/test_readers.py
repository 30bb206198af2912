import gzip
import json

import nibabel as nib
import numpy as np
import pytest

from cranial_sct.errors import InputError
from cranial_sct.io.readers import read_volume
from cranial_sct.io.volume import Volume
from cranial_sct.io.writers import write_volume
from tests.heads import head_volumes
from tests.io.nifti_factory import write_raw_nifti


@pytest.fixture(scope="module")
def mr() -> Volume:
    return head_volumes(8.0, codes="LPS", angle_deg=11)[0]


def save_nifti(array: np.ndarray, affine: np.ndarray, path) -> str:
    """Save with the sform only, so even affines a qform cannot hold (singular, sheared) reach the file."""
    image = nib.Nifti1Image(array, None)
    image.set_sform(affine, code=1)
    nib.save(image, path)
    return str(path)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".mha", ".nrrd"])
def test_every_format_round_trips_grid_and_values(tmp_path, mr, suffix):
    back = read_volume(write_volume(mr, tmp_path / f"mr{suffix}"))
    assert back.same_grid(mr, atol_mm=1e-5)
    np.testing.assert_array_equal(back.array, mr.array)
    assert back.meta["modality"] == "mr"


def test_bids_sidecar_gives_field_strength_and_sequence(tmp_path, mr):
    write_volume(mr, tmp_path / "sub-01_FLAIR.nii.gz")
    (tmp_path / "sub-01_FLAIR.json").write_text(json.dumps({"MagneticFieldStrength": 7, "InversionTime": 2.5}))
    volume = read_volume(tmp_path / "sub-01_FLAIR.nii.gz")
    assert volume.meta["field_T"] == "7"
    assert volume.meta["sequence"] == {"InversionTime": 2.5}


def test_4d_image_needs_a_volume_index(tmp_path, mr):
    path = save_nifti(np.stack([mr.array, 2 * mr.array], axis=-1), mr.affine, tmp_path / "dwi.nii.gz")
    with pytest.raises(InputError, match=r"4D image with 2 volumes.*--volume"):
        read_volume(path)
    np.testing.assert_allclose(read_volume(path, 1).array, 2 * mr.array)
    with pytest.raises(InputError, match="out of range"):
        read_volume(path, 2)


def test_sidecar_that_is_not_json_is_named(tmp_path, mr):
    write_volume(mr, tmp_path / "t1.nii.gz")
    (tmp_path / "t1.json").write_text("{not json")
    with pytest.raises(InputError, match="t1.json: not valid JSON"):
        read_volume(tmp_path / "t1.nii.gz")


def singular(affine):
    out = affine.copy()
    out[:3, 2] = 0
    return out


def sheared(affine):
    out = affine.copy()
    out[:3, 1] += 0.3 * out[:3, 0]
    return out


def scaled(affine, factor):
    out = affine.copy()
    out[:3, :3] *= factor
    return out


BAD_ARRAYS = {
    "2d": (lambda a: a[:, :, :1], lambda f: f, "3D image is needed"),
    "nan": (lambda a: np.where(a > 500, np.nan, a), lambda f: f, "NaN/Inf voxels"),
    "inf": (lambda a: np.where(a > 500, np.inf, a), lambda f: f, "NaN/Inf voxels"),
    "constant": (lambda a: np.full_like(a, 7.0), lambda f: f, "constant image"),
    "singular": (lambda a: a, singular, "singular"),
    "sheared": (lambda a: a, sheared, "sheared"),
    "tiny_spacing": (lambda a: a, lambda f: scaled(f, 0.005), r"spacing .* outside"),
    "huge_spacing": (lambda a: a, lambda f: scaled(f, 3.0), r"spacing .* outside"),
}


@pytest.mark.parametrize("kind", BAD_ARRAYS)
def test_bad_volumes_are_refused_with_the_file_named(tmp_path, mr, kind):
    change_array, change_affine, message = BAD_ARRAYS[kind]
    path = save_nifti(change_array(mr.array), change_affine(mr.affine), tmp_path / f"{kind}.nii.gz")
    with pytest.raises(InputError, match=message) as caught:
        read_volume(path)
    assert str(caught.value).startswith(path) and "\n" not in str(caught.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        read_volume(tmp_path / "nope.nii.gz")


def test_not_an_image(tmp_path):
    (tmp_path / "notes.nii").write_text("this is a shopping list")
    with pytest.raises(InputError, match="cannot read as NIfTI"):
        read_volume(tmp_path / "notes.nii")
    (tmp_path / "notes.nii.gz").write_text("this is a shopping list")
    with pytest.raises(InputError, match="damaged gzip stream .*Not a gzipped file"):
        read_volume(tmp_path / "notes.nii.gz")


def test_truncated_gzip(tmp_path, mr):
    path = write_volume(mr, tmp_path / "mr.nii.gz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="damaged gzip stream .*corrupt or truncated"):
        read_volume(path)
    assert gzip.decompress(data)  # the intact file was a valid gzip


def test_unsupported_extension(tmp_path):
    (tmp_path / "scan.jpg").write_bytes(b"\xff\xd8\xff")
    with pytest.raises(InputError, match="unsupported file type"):
        read_volume(tmp_path / "scan.jpg")


def test_a_zero_voxel_size_with_no_transform_is_refused_not_repaired(tmp_path, mr):
    """nibabel turns pixdim 0 into 1 mm as it loads; the gate must see the 0 the header states."""
    path = write_raw_nifti(tmp_path / "pix0.nii", mr.array, mr.affine, qform_code=0, sform_code=0, pixdim=[1, 8, 0, 8, 1, 0, 0, 0])
    with pytest.raises(InputError, match=r"pix0.nii: singular voxel-to-world affine, voxel size 8 x 0 x 8 mm \(zero along axis 1\)"):
        read_volume(path)
    path = write_raw_nifti(tmp_path / "qform.nii", mr.array, mr.affine, sform_code=0, pixdim=[1, 8, 8, np.nan, 1, 0, 0, 0])
    with pytest.raises(InputError, match="qform.nii: non-finite numbers in the voxel-to-world affine"):
        read_volume(path)


@pytest.mark.parametrize(("dtype", "message"), [(np.complex64, "complex-valued image; give the magnitude"),
                                                ([("R", "u1"), ("G", "u1"), ("B", "u1")], "is not one real number per voxel")])
def test_complex_and_rgb_pixels_are_refused(tmp_path, mr, dtype, message):
    array = np.zeros(mr.shape, dtype=dtype)
    if array.dtype.kind == "c":
        array.real = mr.array
    path = tmp_path / "odd.nii"
    nib.save(nib.Nifti1Image(array, mr.affine), path)
    with pytest.raises(InputError, match=message):
        read_volume(path)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
def test_a_header_claiming_more_voxels_than_the_file_holds_is_refused_before_allocating(tmp_path, mr, suffix):
    """A few hundred bytes claiming 800 x 800 x 800 float64 voxels: refused from the file's length, not after a 4-GB buffer."""
    path = write_raw_nifti(tmp_path / "liar.nii", mr.array, mr.affine, dim=[3, 800, 800, 800, 1, 1, 1, 1], datatype=64, bitpix=64)
    if suffix == ".nii.gz":
        path = path.rename(tmp_path / "liar.nii.gz")
        path.write_bytes(gzip.compress(path.read_bytes()))
    with pytest.raises(InputError, match=r"liar.nii(.gz)?: the header describes 800 x 800 x 800 voxels of float64 .* but the file holds"):
        read_volume(path)


def test_a_metaimage_claiming_more_pixels_than_it_holds_or_negative_dimensions_is_refused(tmp_path):
    """NDims = -1 crashed SimpleITK (segfault); a short file made it allocate the header's size first."""
    header = "ObjectType = Image\nNDims = {}\nDimSize = {}\nElementType = MET_DOUBLE\nElementDataFile = LOCAL\n"
    (tmp_path / "minus.mha").write_bytes(header.format(-1, "8 8 8").encode() + bytes(8 * 8 * 8 * 8))
    with pytest.raises(InputError, match="minus.mha: MetaImage NDims = -1; a 3D"):
        read_volume(tmp_path / "minus.mha")
    (tmp_path / "liar.mha").write_bytes(header.format(3, "800 800 800").encode() + bytes(1000))
    with pytest.raises(InputError, match="liar.mha: the header describes 4,096,000,000 bytes of pixels but the file holds 1,000"):
        read_volume(tmp_path / "liar.mha")
