"""Preprocess a whole dataset: discover cases, prepare each (in parallel), write them, resume.

Output: ``<out>/<subject>/ct.nii.gz`` (int16 HU), ``mask.nii.gz``, ``labels.nii.gz`` (if given),
``mr_<field>T_<contrast>.nii.gz`` (float32; normalised only when asked, since a model's input plan
normalises for itself; field ``unknown`` when no source says it:
``mr_unknownT_t1w.nii.gz``), ``case.json`` (the invertible record) and ``<out>/manifest.csv`` --
the phantom's layout, so training reads real and simulated data the same way.

Each case folder is built under a temporary name and renamed when complete, ``case.json`` written
last; a rerun skips cases whose ``case.json`` exists (resume), provided the options are unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from tqdm import tqdm

from cranial_sct.errors import InputError
from cranial_sct.io.atomic import atomic_path
from cranial_sct.io.layouts import CaseEntry, discover
from cranial_sct.io.manifest import MANIFEST_NAME, ManifestRow, write_manifest
from cranial_sct.io.names import mr_stem
from cranial_sct.io.readers import read_volume
from cranial_sct.io.validate import check_ct_in_hu, check_pair_order
from cranial_sct.io.volume import Volume
from cranial_sct.io.writers import write_volume
from cranial_sct.preprocess.pipeline import CaseImages, PreparedCase, PreprocessOptions, preprocess_case

CASE_RECORD = "case.json"
RUN_RECORD = "preprocess.json"


@dataclass(frozen=True)
class ReadOptions:
    volume_index: int | None = None  # which volume of 4D inputs
    allow_gaps: bool = False  # interpolate DICOM series with missing slices


@dataclass
class DatasetResult:
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # finished by an earlier run
    failed: dict[str, str] = field(default_factory=dict)


def preprocess_dataset(
    data: Path,
    out: Path,
    layout: str = "auto",
    options: PreprocessOptions = PreprocessOptions(),
    read: ReadOptions = ReadOptions(),
    workers: int = 1,
    overwrite: bool = False,
) -> DatasetResult:
    """Prepare every case of ``data`` into ``out``; raises ``InputError`` if any case failed."""
    cases = discover(Path(data), layout)
    out = Path(out)
    _claim_output(out, options, overwrite)
    result = DatasetResult()
    pending = [c for c in cases if overwrite or not (out / c.subject / CASE_RECORD).is_file()]
    result.skipped = [c.subject for c in cases if c not in pending]
    with tqdm(total=len(pending), desc="preprocess", unit="case", disable=not pending) as bar:
        for subject, error in _run_all(pending, out, options, read, workers):
            if error:
                result.failed[subject] = error
            else:
                result.done.append(subject)
            bar.update()
    finished = [c.subject for c in cases if (out / c.subject / CASE_RECORD).is_file()]
    write_manifest([row for s in finished for row in _case_rows(out / s)], out / MANIFEST_NAME)
    if result.failed:
        error = next(iter(result.failed.values()))
        raise InputError(f"{len(result.failed)} of {len(cases)} cases failed (finished ones are kept; rerun to resume); first: {error}")
    return result


def _claim_output(out: Path, options: PreprocessOptions, overwrite: bool) -> None:
    """Create ``out`` or check it may be reused: refuse foreign content or other options without --overwrite."""
    settings = json.loads(json.dumps(asdict(options)))
    if out.exists():
        marker = out / RUN_RECORD
        previous = json.loads(marker.read_text()) if marker.is_file() else None
        if not out.is_dir():
            raise InputError(f"{out}: exists and is not a folder; choose another --out")
        if any(out.iterdir()) and previous != settings and not overwrite:
            reason = "was made with other options" if previous else "is not empty"
            raise InputError(f"{out}: output folder {reason}; pass --overwrite to replace it or choose another --out")
    elif not out.parent.is_dir():
        raise InputError(f"{out.parent}: folder does not exist; create it or choose another --out")
    try:
        out.mkdir(exist_ok=True)
        with atomic_path(out / RUN_RECORD) as tmp:
            tmp.write_text(json.dumps(settings, indent=1))
    except OSError as error:
        raise InputError(f"{out}: cannot write the output folder ({error.strerror}); choose another --out") from error


def _run_all(cases: list[CaseEntry], out: Path, options: PreprocessOptions, read: ReadOptions, workers: int):
    """Yield (subject, error message or "") as cases finish, in a process pool when ``workers`` > 1."""
    if workers <= 1:
        for case in cases:
            yield case.subject, _run_case(case, out, options, read)
        return
    with ProcessPoolExecutor(workers, initializer=_limit_threads, initargs=(workers,)) as pool:
        futures = {pool.submit(_run_case, case, out, options, read): case.subject for case in cases}
        for future in as_completed(futures):
            yield futures[future], future.result()


def _limit_threads(workers: int) -> None:
    """Share the cores between worker processes instead of letting each ITK filter take all of them."""
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(max(1, (os.cpu_count() or 1) // workers))


def _run_case(case: CaseEntry, out: Path, options: PreprocessOptions, read: ReadOptions) -> str:
    """Read, prepare and write one case; returns "" or the user-facing error message."""
    try:
        images, sites = load_case(case, read)
        _write_case(preprocess_case(images, options), out / case.subject, sites)
    except InputError as error:
        return f"{case.subject}: {error}"
    except RuntimeError as error:  # SimpleITK's errors (e.g. registration lost the image) span many lines
        return f"{case.subject}: processing failed ({str(error).strip().splitlines()[-1]})"
    return ""


def load_case(case: CaseEntry, read: ReadOptions = ReadOptions()) -> tuple[CaseImages, dict[str, str]]:
    """Read a case's images and name its MR channels; checks CT units and MR/CT order.

    Also returns each output name's site (``mr_1.5T_t1w`` -> ``siteA``, ``ct`` -> ...) for the manifest.
    """
    def load(path: Path) -> Volume:
        return read_volume(path, read.volume_index, allow_gaps=read.allow_gaps)

    mr: dict[str, Volume] = {}
    sites = {m: e.site for m in ("ct", "mask", "labels") for e in case.of(m)}
    for entry in case.of("mr"):
        volume = load(entry.path)
        name = mr_stem(volume.meta.get("field_T") or entry.field_T, entry.contrast)
        if name in mr:
            raise InputError(f"{entry.path}: a second {name} image for subject {case.subject}; keep one per field and contrast")
        mr[name], sites[name] = volume, entry.site
    singles = {m: [load(e.path) for e in case.of(m)] for m in ("ct", "mask", "labels")}
    for modality, volumes in singles.items():
        if len(volumes) > 1:
            raise InputError(f"{case.subject}: {len(volumes)} {modality} images; keep one")
    ct = (singles["ct"] or [None])[0]
    if ct is not None and mr:
        first = next(iter(mr.values()))
        check_pair_order(first, first.meta["path"], ct, ct.meta["path"])
        check_ct_in_hu(ct, ct.meta["path"])
    images = CaseImages(case.subject, mr, ct, (singles["mask"] or [None])[0], (singles["labels"] or [None])[0])
    return images, sites


def _write_case(case: PreparedCase, folder: Path, sites: dict[str, str]) -> None:
    """Write the case folder atomically; ``case.json`` (with its manifest rows) goes in last."""
    files: dict[str, tuple[Volume, type]] = {f"{k}.nii.gz": (v, np.float32) for k, v in case.mr.items()}
    files["mask.nii.gz"] = (case.mask, np.uint8)
    if case.ct is not None:
        files["ct.nii.gz"] = (case.ct, np.int16)
    if case.labels is not None:
        files["labels.nii.gz"] = (case.labels, np.uint8)
    rows = [_row(case.subject, name, sites.get(name.removesuffix(".nii.gz"), "")) for name in files]
    with atomic_path(folder) as tmp:
        tmp.mkdir()
        for name, (volume, dtype) in files.items():
            write_volume(volume, tmp / name, dtype)
        (tmp / CASE_RECORD).write_text(json.dumps({**case.record, "manifest": [asdict(r) for r in rows]}, indent=1))
        if folder.exists():
            shutil.rmtree(folder)


def _row(subject: str, filename: str, site: str) -> ManifestRow:
    stem = filename.removesuffix(".nii.gz")
    if stem.startswith("mr_"):
        field_T, contrast = stem[3:].split("T_", 1)
        return ManifestRow(subject, "mr", contrast, field_T, site, f"{subject}/{filename}")
    return ManifestRow(subject, stem, "", "", site, f"{subject}/{filename}")


def _case_rows(folder: Path) -> list[ManifestRow]:
    return [ManifestRow(**row) for row in json.loads((folder / CASE_RECORD).read_text())["manifest"]]
