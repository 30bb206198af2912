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


def test_data_and_folder_are_synced_before_and_after_the_rename(tmp_path, monkeypatch):
    import os

    from cranial_sct.io import atomic

    events = []
    monkeypatch.setattr(atomic, "sync_path", lambda path: events.append(("sync", path.name)))
    real_replace = os.replace
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (events.append(("rename", b.name)), real_replace(a, b)))
    with atomic_path(tmp_path / "case") as tmp:
        tmp.mkdir()
        (tmp / "ct.nii.gz").write_bytes(b"data")
    kinds = [kind for kind, _ in events]
    assert ("sync", "ct.nii.gz") in events[: kinds.index("rename")]
    assert events[-1] == ("sync", tmp_path.name)
