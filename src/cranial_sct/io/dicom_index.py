"""Which series a DICOM folder holds, found from the first few header elements of each file.

Picking one series out of thousands of files must not decode thousands of images: each file is
parsed only up to Columns (0028,0011), enough to say which series it belongs to; the rest of the
header and the pixels are read later, for the chosen series alone (``dicom_frames``).

A scanner may reuse one SeriesInstanceUID for what are really several series (a repeated run with
another SeriesNumber, echoes, magnitude and phase, another matrix or orientation). Files are
therefore grouped by UID and then split on those fields; a split series is named ``UID#k``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_partial
from pydicom.tag import BaseTag

from cranial_sct.errors import InputError

LAST_INDEXED_TAG = 0x00280011  # Columns: every element the index needs comes before it
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
    """Every DICOM image series below ``folder`` (searched recursively); other files are skipped."""
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    groups: dict[str, dict[tuple[str, ...], SeriesEntry]] = defaultdict(dict)
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        header = _read_index_header(path)
        if header is None or "Rows" not in header or "SeriesInstanceUID" not in header:
            continue
        uid = str(header.SeriesInstanceUID)
        image_type = tuple(str(v).upper() for v in header.get("ImageType", []) or [])
        split_key = (
            str(header.get("SeriesNumber", "")), str(header.get("EchoNumbers", "")), _component(image_type),
            f"{header.Rows}x{header.get('Columns', '')}", _rounded(header.get("ImageOrientationPatient")),
        )  # fmt: skip
        entry = groups[uid].get(split_key)
        if entry is None:
            entry = groups[uid][split_key] = SeriesEntry(
                uid, str(header.get("SeriesDescription", "")), str(header.get("Modality", "")),
                split_key[0], image_type,
            )  # fmt: skip
        entry.files.append(path)
    return [entry for parts in groups.values() for entry in _named(parts)]


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


def _read_index_header(path: Path) -> pydicom.Dataset | None:
    """The header up to Columns, or None for a file that is not DICOM."""
    try:
        with open(path, "rb") as handle:
            return read_partial(handle, stop_when=_past_index)
    except (InvalidDicomError, EOFError, OSError, ValueError, TypeError):
        return None


def _past_index(tag: BaseTag, vr: str | None, length: int) -> bool:
    return tag > LAST_INDEXED_TAG


def _component(image_type: tuple[str, ...]) -> str:
    """Magnitude, phase, real or imaginary, as ImageType says (other ImageType values do not split)."""
    found = [value for value in image_type if value in COMPLEX_COMPONENTS]
    return COMPLEX_COMPONENTS[found[0]] if found else ""


def _rounded(orientation: object) -> str:
    """ImageOrientationPatient to 3 decimals, so rounding noise does not split a series."""
    if not orientation:
        return ""
    return ",".join(f"{float(v):.3f}" for v in orientation)  # type: ignore[union-attr]


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

