"""Checks on an output path before any work starts, so a bad ``--out`` costs one line, not a run.

A folder that is a file, cannot be created, is read-only, or lies inside a folder the command reads
as input is refused up front. Nothing is created here: a run refused later for a bad input leaves no
empty output folder behind. Writes themselves go through ``atomic`` (whole files or nothing) and
their failures (a full disk) are reported by the writers.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

from cranial_sct.errors import InputError


def check_output_folder(out: Path, inputs: Iterable[Path] = (), option: str = "--out") -> None:
    """Refuse ``out`` as an output folder: a file, not creatable or writable, or inside an input folder.

    An input folder (a DICOM series, a cohort) is read recursively, so outputs written inside it would
    be read back as input by the next run (an sCT series found as a second MR series)."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{option} {out}: is a file, not a folder; give a folder (it is created if missing)")
    target = out.resolve()
    for source in inputs:
        folder = source.resolve()
        if source.is_dir() and (target == folder or folder in target.parents):
            raise InputError(f"{option} {out}: lies inside the input folder {source}, which is read as input; choose a folder outside it")
    check_writable(_nearest_existing(out), option, out)


def check_output_file(out: Path, option: str = "--out") -> None:
    """Refuse ``out`` as an output file: a folder, or in a folder that cannot be created or written."""
    if out.is_dir():
        raise InputError(f"{option} {out}: is a folder; give a file name")
    check_writable(_nearest_existing(out.parent), option, out)


def check_writable(folder: Path, option: str, out: Path) -> None:
    """Refuse when a file cannot be created in ``folder`` (tried for real: permission bits lie to root
    and say nothing of read-only mounts)."""
    if not folder.is_dir():
        raise InputError(f"{option} {out}: {folder} is a file, not a folder; choose another {option}")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise InputError(f"{option} {out}: cannot write in {folder} ({error.strerror or type(error).__name__}); choose another {option}") from None


def _nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists (what a ``mkdir -p`` would create in)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
