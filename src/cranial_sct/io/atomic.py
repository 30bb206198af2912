"""Write-then-rename, so an interrupted run never leaves a half-written file under its final name."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(final: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a hidden temporary path beside ``final``; rename it to ``final`` only on success.

    The temporary name keeps ``final``'s suffixes (``.nii.gz``, ``.csv``...) so writers that pick a
    format from the extension still work. On any exception the partial file is removed.
    """
    final = Path(final)
    tmp = final.with_name(f".partial-{uuid.uuid4().hex[:8]}-{final.name}")
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()
