"""Which series a DICOM folder holds, found from the first few header elements of each file.

Picking one series out of thousands of files must not decode thousands of images: each file is
parsed only up to Columns (0028,0011), enough to say which series it belongs to; the rest of the
header and the pixels are read later, for the chosen series alone (``dicom_frames``).

A scanner may reuse one SeriesInstanceUID for what are really several series (a repeated run with
another SeriesNumber, echoes, magnitude and phase, another matrix or orientation). Files are
therefore grouped by UID and then split on those fields; a split series is named ``UID#k``.
"""

from __future__ import annotations

import multiprocessing
import os
import struct
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydicom.filereader import data_element_generator
from pydicom.tag import BaseTag
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ImplicitVRLittleEndian

from cranial_sct.errors import InputError
from cranial_sct.io.dicom_index_cache import cached_read

TRANSFER_SYNTAX, MODALITY, DESCRIPTION = 0x00020010, 0x00080060, 0x0008103E
IMAGE_TYPE, ECHO_NUMBERS, SERIES_UID, SERIES_NUMBER = 0x00080008, 0x00180086, 0x0020000E, 0x00200011
ORIENTATION, ROWS, COLUMNS = 0x00200037, 0x00280010, 0x00280011
LAST_INDEXED_TAG = COLUMNS  # every element the index needs comes before it
PARALLEL_FILES_PER_WORKER = 500  # below this a process's start-up costs more than it saves
MAX_WORKERS = 8
COMPLEX_COMPONENTS = {
    "M": "magnitude", "MAGNITUDE": "magnitude", "P": "phase", "PHASE": "phase",
    "R": "real", "REAL": "real", "I": "imaginary", "IMAGINARY": "imaginary",
}  # fmt: skip


@dataclass
class SeriesEntry:
    """One series: its name for ``--series``, what a user recognises it by, and its files."""

    key: str
    description: str
    modality: str
    number: str
    image_type: tuple[str, ...]
    files: list[Path] = field(default_factory=list)

    @property
    def is_mosaic(self) -> bool:
        """Siemens packs fMRI/DWI slices as tiles of one image (ImageType MOSAIC)."""
        return "MOSAIC" in self.image_type

    def label(self) -> str:
        return f"{self.key} '{self.description}' {self.modality or '?'} #{self.number or '?'} {len(self.files)} files"


def index_series(folder: Path) -> list[SeriesEntry]:
    """Every DICOM image series below ``folder`` (searched recursively); other files are skipped.

    Unchanged files' headers come from the folder's cache (``dicom_index_cache``); the rest are read,
    in parallel processes when there are many."""
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    files = _files_below(folder)
    groups: dict[str, dict[tuple[str, ...], SeriesEntry]] = defaultdict(dict)
    for path, summary in zip(files, cached_read(folder, files, _summaries), strict=True):
        if summary is None:
            continue
        uid, description, modality, number, echo, image_type, matrix, orientation = summary
        image_type = tuple(image_type.split("\\"))
        split_key = (number, echo, _component(image_type), matrix, orientation)
        entry = groups[uid].get(split_key)
        if entry is None:
            entry = groups[uid][split_key] = SeriesEntry(uid, description, modality, number, image_type)
        entry.files.append(path)
    return [entry for parts in groups.values() for entry in _named(parts)]


def _summaries(paths: list[Path]) -> list[list[str] | None]:
    """``_summary`` of every path; many files are shared among worker processes (pydicom's tokenizer
    is pure Python, so threads would queue on the interpreter lock)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    workers = min(cpus, MAX_WORKERS, len(paths) // PARALLEL_FILES_PER_WORKER)
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [_summary(path) for path in paths]
    # fork: a worker needs nothing but this module, already loaded; spawning would import the package again
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(_summary, paths, chunksize=max(1, len(paths) // (4 * workers))))


def _summary(path: Path) -> list[str] | None:
    """What the index needs of one file (series UID, description, modality, SeriesNumber, echo,
    ImageType, matrix, rounded orientation), or None for a file that is not a DICOM image."""
    header = _read_index_header(path)
    if header is None or ROWS not in header or SERIES_UID not in header:
        return None
    return [
        _decoded(header.get(SERIES_UID)), _decoded(header.get(DESCRIPTION)), _decoded(header.get(MODALITY)),
        _decoded(header.get(SERIES_NUMBER)), _decoded(header.get(ECHO_NUMBERS)), _decoded(header.get(IMAGE_TYPE)).upper(),
        _decoded(header.get(ROWS)) + "x" + _decoded(header.get(COLUMNS)), _rounded(_decoded(header.get(ORIENTATION))),
    ]  # fmt: skip


def pick_series(series: list[SeriesEntry], folder: Path, choice: str | None, member: Path | None = None) -> SeriesEntry:
    """The series named by ``choice`` (a key, or a UID that was not split), holding ``member``, or the only one."""
    if not series:
        raise InputError(f"{folder}: no DICOM image files found; point to the folder holding the series")
    if member is not None and choice is None:
        series = [entry for entry in series if member in entry.files] or series
    if choice is not None:
        matches = [entry for entry in series if choice in (entry.key, entry.key.split("#")[0])]
        if len(matches) != 1:
            problem = f"no series {choice}" if not matches else f"{choice} holds {len(matches)} series"
            raise InputError(f"{folder}: {problem}; found {describe(series)}; choose one with --series")
        return matches[0]
    if len(series) > 1:
        raise InputError(f"{folder}: {len(series)} series found ({describe(series)}); choose one with --series UID")
    return series[0]


def describe(series: list[SeriesEntry]) -> str:
    return "; ".join(entry.label() for entry in series)


def _read_index_header(path: Path) -> dict[int, Any] | None:
    """The elements up to Columns as {tag: stored value}, or None for a file that is not DICOM Part 10.

    pydicom's element tokenizer without its Dataset objects, whose construction is most of the cost
    of reading thousands of small headers (a 5,000-file folder: 2.7 s through ``read_partial``).
    """
    try:
        with open(path, "rb") as handle:
            if handle.read(132)[128:] != b"DICM":
                return None
            meta = {e.tag: e.value for e in data_element_generator(handle, False, True, stop_when=_past_meta)}
            syntax = _decoded(meta.get(TRANSFER_SYNTAX))
            if syntax == DeflatedExplicitVRLittleEndian:
                return None
            implicit, little = syntax == ImplicitVRLittleEndian, syntax != ExplicitVRBigEndian
            return {e.tag: e.value for e in data_element_generator(handle, implicit, little, stop_when=_past_index)}
    except (EOFError, OSError, ValueError, TypeError, struct.error):
        return None


def _past_meta(tag: BaseTag, vr: str | None, length: int) -> bool:
    return tag.group != 2


def _past_index(tag: BaseTag, vr: str | None, length: int) -> bool:
    return tag > LAST_INDEXED_TAG


def _decoded(value: Any) -> str:
    """A stored value as text (bytes as read, or an already converted value)."""
    if value is None:
        return ""
    raw = value if isinstance(value, bytes) else str(value).encode()
    return raw.decode("latin-1").strip("\x00 ")


def _component(image_type: tuple[str, ...]) -> str:
    """Magnitude, phase, real or imaginary, as ImageType says (other ImageType values do not split)."""
    found = [value for value in image_type if value in COMPLEX_COMPONENTS]
    return COMPLEX_COMPONENTS[found[0]] if found else ""


def _rounded(orientation: str) -> str:
    """ImageOrientationPatient to 3 decimals, so rounding noise does not split a series."""
    try:
        return ",".join(f"{float(v):.3f}" for v in orientation.split("\\"))
    except ValueError:
        return orientation


def _files_below(folder: Path) -> list[Path]:
    """Every file below ``folder``, sorted (os.walk: no stat per file, unlike Path.rglob + is_file)."""
    return sorted(Path(root) / name for root, _, names in os.walk(folder) for name in names)


def _named(parts: dict[tuple[str, ...], SeriesEntry]) -> list[SeriesEntry]:
    """The parts of one UID, named ``UID#1``, ``UID#2``... in SeriesNumber order when there are several."""
    entries = sorted(parts.values(), key=lambda e: (_as_int(e.number), e.image_type, str(e.files[0])))
    if len(entries) > 1:
        for k, entry in enumerate(entries, start=1):
            entry.key = f"{entry.key}#{k}"
    return entries


def _as_int(text: str) -> int:
    try:
        return int(float(text))
    except ValueError:
        return 0

