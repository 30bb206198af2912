"""Dataset layouts -> a list of cases, each a list of image entries (modality, contrast, field, path).

Three layouts, detected in this order unless ``layout`` is given:
- ``manifest``: a CSV manifest (``--data file.csv``, or ``DIR/manifest.csv`` as the phantom writes);
- ``bids``: ``sub-*/[ses-*/]anat/*_T1w|_T2w|_FLAIR.<ext>``, CT under ``ct/`` or named ``*_ct.<ext>``;
- ``folder`` (phantom / SynthRAD2023): ``<id>/mr*.<ext>``, ``ct.<ext>``, ``mask.<ext>``, ``labels.<ext>``,
  with ``mr_<field>T_<contrast>`` names parsed for field strength and contrast.
Field strength found in DICOM headers or sidecars later overrides what the layout says.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from cranial_sct.errors import InputError
from cranial_sct.io.manifest import MANIFEST_NAME, read_manifest
from cranial_sct.io.readers import image_suffix

LAYOUTS = ("auto", "folder", "bids", "manifest")
MR_NAME = re.compile(r"^mr(?:_(?P<field>[0-9.]+|unknown)T)?(?:_(?P<contrast>t1w|t2w|flair))?$", re.IGNORECASE)
BIDS_CONTRASTS = {"t1w": "t1w", "t2w": "t2w", "flair": "flair"}


@dataclass(frozen=True)
class ImageEntry:
    modality: str  # mr, ct, mask, labels
    path: Path
    contrast: str = ""
    field_T: str = "unknown"
    site: str = ""


@dataclass
class CaseEntry:
    subject: str
    images: list[ImageEntry] = field(default_factory=list)

    def of(self, modality: str) -> list[ImageEntry]:
        return [image for image in self.images if image.modality == modality]


def discover(data: Path, layout: str = "auto") -> list[CaseEntry]:
    """The cases under ``data`` in ``layout`` (or the detected one), sorted by subject."""
    if layout not in LAYOUTS:
        raise InputError(f"--layout {layout}: unknown; use one of {', '.join(LAYOUTS)}")
    if not data.exists():
        raise InputError(f"{data}: data folder not found")
    chosen = _detect(data) if layout == "auto" else layout
    cases = {"manifest": _from_manifest, "bids": _from_bids, "folder": _from_folders}[chosen](data)
    if not cases:
        raise InputError(f"{data}: no cases found in the {chosen} layout; see `cranial-sct preprocess --help`")
    return sorted(cases, key=lambda case: case.subject)


def _detect(data: Path) -> str:
    if data.is_file() or (data / MANIFEST_NAME).is_file():
        return "manifest"
    if any(data.glob("sub-*")):
        return "bids"
    return "folder"


def _stem(path: Path) -> str:
    suffix = image_suffix(path)
    return path.name[: -len(suffix)] if suffix else path.name


def _from_folders(data: Path) -> list[CaseEntry]:
    cases = []
    for folder in sorted(p for p in data.iterdir() if p.is_dir() and not p.name.startswith(".")):
        case = CaseEntry(folder.name)
        for path in sorted(folder.iterdir()):
            stem = _stem(path).lower()
            if image_suffix(path) is None and not path.is_dir():
                continue
            if stem in ("ct", "mask", "labels"):
                case.images.append(ImageEntry(stem, path))
            elif match := MR_NAME.match(stem):
                contrast = (match["contrast"] or "t1w").lower()  # SynthRAD2023 brain MR is T1w
                case.images.append(ImageEntry("mr", path, contrast, match["field"] or "unknown"))
        if case.images:
            cases.append(case)
    return cases


def _from_bids(data: Path) -> list[CaseEntry]:
    cases = []
    for folder in sorted(p for p in data.glob("sub-*") if p.is_dir()):
        case = CaseEntry(folder.name)
        for path in sorted(p for p in folder.rglob("*") if image_suffix(p)):
            suffix = _stem(path).rsplit("_", 1)[-1].lower()
            if suffix in BIDS_CONTRASTS and path.parent.name == "anat":
                case.images.append(ImageEntry("mr", path, BIDS_CONTRASTS[suffix]))
            elif suffix == "ct" or path.parent.name == "ct":
                case.images.append(ImageEntry("ct", path))
            elif suffix == "mask":
                case.images.append(ImageEntry("mask", path))
        if case.images:
            cases.append(case)
    return cases


def _from_manifest(data: Path) -> list[CaseEntry]:
    manifest = data if data.is_file() else data / MANIFEST_NAME
    rows = read_manifest(manifest)
    keys = Counter((r.subject, r.modality, r.contrast, r.field_T) for r in rows)
    duplicated = [k for k, n in keys.items() if n > 1]
    if duplicated:
        subject, modality, contrast, field_T = duplicated[0]
        raise InputError(
            f"{manifest}: duplicate rows for subject {subject} ({modality} {contrast} {field_T}); keep one per image"
        )
    cases: dict[str, CaseEntry] = {}
    for row in rows:
        if row.modality not in ("mr", "ct", "mask", "labels"):
            raise InputError(f"{manifest}: subject {row.subject}: unknown modality {row.modality!r}; use mr, ct, mask or labels")
        path = (manifest.parent / row.path).resolve()
        if not path.exists():
            raise InputError(f"{manifest}: subject {row.subject}: {row.path} not found; fix the path column")
        contrast = row.contrast.lower() or ("t1w" if row.modality == "mr" else "")
        entry = ImageEntry(row.modality, path, contrast, row.field_T or "unknown", row.site)
        cases.setdefault(row.subject, CaseEntry(row.subject)).images.append(entry)
    return list(cases.values())
