import pytest

from cranial_sct.errors import InputError
from cranial_sct.io.manifest import ManifestRow, read_manifest, write_manifest


def test_manifest_round_trip(tmp_path):
    rows = [ManifestRow("s1", "mr", "t1w", "1.5", "siteA", "s1/mr_1.5T_t1w.nii.gz")]
    path = write_manifest(rows, tmp_path / "manifest.csv")
    assert read_manifest(path) == rows


def test_manifest_with_unknown_column_names_file_and_column(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("subject,modality,contrast,field_T,site,path,colour\n")
    with pytest.raises(InputError, match=r"m\.csv.*unknown: colour"):
        read_manifest(path)
