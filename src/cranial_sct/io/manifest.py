"""The dataset manifest: one CSV row per image file, the contract between every stage.

Columns: subject, modality (``mr``, ``ct``, ``labels``, ``mask``), contrast (``t1w``, ``t2w``,
``flair`` or empty), field_T (tesla, or ``unknown``), site, path (relative to the manifest's folder), and
anatomy (optional: what a simulated subject's anatomy was drawn from, ``procedural`` or a source head, so that
whole source heads can be held out; empty for real data).
The phantom simulator and ``preprocess`` both write it; training, prediction and evaluation read it.
"""

from __future__ import annotations

import csv
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from cranial_sct.errors import InputError
from cranial_sct.io.atomic import atomic_path

MANIFEST_NAME = "manifest.csv"


@dataclass(frozen=True)
class ManifestRow:
    subject: str
    modality: str
    contrast: str
    field_T: str
    site: str
    path: str
    anatomy: str = ""


COLUMNS = tuple(f.name for f in fields(ManifestRow))
OPTIONAL_COLUMNS = ("anatomy",)  # a manifest written before the column existed still reads


def write_manifest(rows: list[ManifestRow], path: str | os.PathLike[str]) -> Path:
    """Write rows to ``path`` atomically, header first."""
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(asdict(row) for row in rows)
    return path


def read_manifest(path: str | os.PathLike[str]) -> list[ManifestRow]:
    """Read a manifest, refusing unknown or missing columns with a message naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: manifest not found")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        header = tuple(reader.fieldnames or ())
        unknown = sorted(set(header) - set(COLUMNS))
        missing = sorted(set(COLUMNS) - set(header) - set(OPTIONAL_COLUMNS))
        if unknown or missing:
            raise InputError(
                f"{path}: manifest columns must be {', '.join(COLUMNS)}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
                + (f"; missing: {', '.join(missing)}" if missing else "")
            )
        return [ManifestRow(**{k: (v or "").strip() for k, v in row.items()}) for row in reader]
