"""Write-then-rename, so an interrupted run never leaves a half-written file under its final name."""

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
        os.replace(tmp, final)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp)
        elif tmp.exists():
            tmp.unlink()
