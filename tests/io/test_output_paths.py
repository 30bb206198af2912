from pathlib import Path

import pytest

from cranial_sct.errors import InputError
from cranial_sct.io.output_paths import check_output_file, check_output_folder


def test_a_new_or_existing_folder_passes_and_nothing_is_created(tmp_path: Path) -> None:
    check_output_folder(tmp_path / "a" / "b")
    check_output_folder(tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: (root / "f.txt").write_text("x") and root / "f.txt", "--out .*f.txt: is a file, not a folder"),
        (lambda root: (root / "f.txt").write_text("x") and root / "f.txt" / "sub", r"f.txt is a file, not a folder"),
        (lambda root: root / "dicom" / "out", "lies inside the input folder .*dicom, which is read as input"),
        (lambda root: root / "dicom", "lies inside the input folder"),
    ],
)
def test_bad_output_folders_are_one_line(tmp_path: Path, make, message: str) -> None:
    (tmp_path / "dicom").mkdir()
    with pytest.raises(InputError, match=message) as refused:
        check_output_folder(make(tmp_path), [tmp_path / "dicom", tmp_path / "mr.nii.gz"])
    assert "\n" not in str(refused.value)


def test_an_unwritable_folder_is_found_by_trying(unwritable_folder: Path) -> None:
    with pytest.raises(InputError, match="cannot write in"):
        check_output_folder(unwritable_folder / "out")
    with pytest.raises(InputError, match="cannot write in"):
        check_output_file(unwritable_folder / "model.pt")


def test_an_output_file_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    check_output_file(tmp_path / "new" / "model.pt")
    with pytest.raises(InputError, match="is a folder; give a file name"):
        check_output_file(tmp_path)
