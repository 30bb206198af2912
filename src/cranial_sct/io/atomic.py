"""Write-then-rename, so an interrupted run never leaves a half-written file under its final name.

The data is flushed to disk (fsync) before the rename and the folder entry after it: without that,
a power cut soon after the rename can leave the final name pointing at an empty or partial file.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a hidden temporary path beside ``final``; rename it to ``final`` only on success.

    The temporary name keeps ``final``'s suffixes (``.nii.gz``, ``.csv``...) so writers that pick a
    format from the extension still work. On any exception the partial file is removed. A caller may
    also create a folder at the temporary path (a DICOM series, a preprocessed case); it is renamed
    the same way, provided ``final`` does not exist, and removed with its contents on failure.
    """
    final = Path(final)
    tmp = final.with_name(f".partial-{uuid.uuid4().hex[:8]}-{final.name}")
    try:
        yield tmp
        sync_tree(tmp)
        os.replace(tmp, final)
        sync_path(final.parent)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp)
        elif tmp.exists():
            tmp.unlink()


def sync_tree(path: Path) -> None:
    """fsync a file, or every file and folder below a folder (the folder itself last)."""
    if path.is_dir():
        for child in path.rglob("*"):
            sync_path(child)
    sync_path(path)


def sync_path(path: Path) -> None:
    """fsync one file or folder entry (folders are opened read-only, as POSIX allows)."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
