import pytest

from cranial_sct.io.atomic import atomic_path


def test_a_folder_appears_only_when_complete(tmp_path):
    final = tmp_path / "series"
    with atomic_path(final) as tmp:
        tmp.mkdir()
        (tmp / "slice1.dcm").write_bytes(b"1")
        assert not final.exists()
    assert [p.name for p in final.iterdir()] == ["slice1.dcm"]


def test_a_failed_folder_is_removed_with_its_contents(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "case") as tmp:
            tmp.mkdir()
            (tmp / "ct.nii.gz").write_bytes(b"half")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []
