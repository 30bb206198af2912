"""The folder index cache: a second scan reads no file, a changed file is read again, a bad cache is harmless."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from cranial_sct.io import dicom_index
from cranial_sct.io.dicom_index_cache import cache_file
from cranial_sct.io.volume import Volume
from tests.io.dicom_factory import write_mr_series

VOLUME = Volume((np.arange(6 * 7 * 5).reshape(6, 7, 5) % 50 * 3.0).astype(np.float32), np.diag([1.0, 1.0, 2.0, 1.0]))


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CRANIAL_SCT_CACHE", str(tmp_path / "cache"))
    write_mr_series(VOLUME, tmp_path / "dicom" / "a", prefix="A")
    write_mr_series(VOLUME, tmp_path / "dicom" / "b", prefix="B")
    (tmp_path / "dicom" / "notes.txt").write_text("not DICOM")
    return tmp_path / "dicom"


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file whose header the index reads."""
    done: list[Path] = []
    real = dicom_index._read_index_header

    def counting(path: Path):  # noqa: ANN202
        done.append(path)
        return real(path)

    monkeypatch.setattr(dicom_index, "_read_index_header", counting)
    return done


def labels(folder: Path) -> list[str]:
    return sorted(entry.label() for entry in dicom_index.index_series(folder))


def test_a_second_scan_reads_no_file_and_a_changed_one_is_read_again(folder: Path, reads: list[Path]) -> None:
    first = labels(folder)
    assert len(first) == 2 and len(reads) == 11  # 10 slices and the notes
    assert labels(folder) == first and len(reads) == 11
    changed = sorted((folder / "a").iterdir())[0]
    os.utime(changed, ns=(0, changed.stat().st_mtime_ns + 1))
    (folder / "notes.txt").unlink()
    write_mr_series(VOLUME, folder / "c", prefix="C")
    assert len(labels(folder)) == 3 and sorted(reads[11:]) == sorted([changed, *(folder / "c").iterdir()])
    assert len(json.loads(cache_file(folder).read_text())["files"]) == 15


def test_the_input_folder_is_left_untouched_and_a_bad_cache_is_harmless(folder: Path, reads: list[Path], tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    before = sorted(folder.rglob("*"))
    first = labels(folder)
    assert sorted(folder.rglob("*")) == before and cache_file(folder).is_file()
    cache_file(folder).write_text("{damaged")
    assert labels(folder) == first and len(reads) == 22
    monkeypatch.setenv("CRANIAL_SCT_CACHE", "/proc/no-cache-here")
    assert labels(folder) == first
    monkeypatch.setenv("CRANIAL_SCT_CACHE", "off")
    assert cache_file(folder) is None and labels(folder) == first


def test_many_files_are_read_in_parallel_with_the_same_result(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRANIAL_SCT_CACHE", "off")
    serial = labels(folder)
    monkeypatch.setattr(dicom_index, "PARALLEL_FILES_PER_WORKER", 2)
    monkeypatch.setattr(dicom_index.os, "sched_getaffinity", lambda _: {0, 1, 2})
    assert labels(folder) == serial
