"""Evaluate a folder of predicted sCTs against reference CTs: per-case rows, summaries, paired tests.

Prediction layout (what ``cranial-sct predict`` writes)::

    PRED/<method>/<subject>/sct_<field>T_<contrast>.nii.gz     sCT in HU, on the reference CT grid
    PRED/<method>/<subject>/skull_<field>T_<contrast>.nii.gz   skull mask (optional)
    PRED/<method>/<subject>/uncertainty_<field>T_<contrast>.nii.gz   HU standard deviation (optional)

or a single method without the ``<method>`` level (``PRED/<subject>/sct_...``; the method is then
PRED's folder name). ``<field>`` is the MR field strength as ``f"{tesla:g}"`` (``1.5``, ``0.064``,
``7``) or ``unknown``; ``<contrast>`` the MR input (``t1w``, ``flair``, ``t1w+flair``...). Without a
skull file, the skull is the sCT above the bone threshold (recorded in ``skull_source``). Like every
metric, the skull is compared inside the head mask only; skull Dice and head MAE are also given for the vault and
for the skull base with the face (``dice_vault``, ``dice_base``, ``mae_vault``, ``mae_base``; the split is
:mod:`cranial_sct.evaluation.regions`). With an uncertainty map, each case also gets
the Spearman rank correlation between the uncertainty and the absolute error (does the map point at
the errors?).

Reference layout (phantom or preprocessed data): ``REF/<subject>/ct.nii.gz`` and ``mask.nii.gz``,
located through ``REF/manifest.csv`` when present; ``labels.nii.gz`` (phantom tissue labels), when
there is one, gives the brain regions of the PET task.

With ``tasks`` (``cranial_sct.tasks``), each case's row also holds the clinical task figures: proton
range, PET attenuation correction and transcranial ultrasound focus, sCT against CT.
"""

from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from cranial_sct.errors import InputError
from cranial_sct.evaluation.metrics import PRESETS, CaseMetrics, reference_bone
from cranial_sct.evaluation.statistics import paired_tests
from cranial_sct.hounsfield import AIR_BELOW_HU, BONE_THRESHOLD_HU
from cranial_sct.io import read_volume
from cranial_sct.io.atomic import atomic_path
from cranial_sct.io.manifest import MANIFEST_NAME, read_manifest
from cranial_sct.io.names import parse_tagged, sibling
from cranial_sct.io.nifti import read_nifti
from cranial_sct.io.volume import Volume
from cranial_sct.tasks.measure import Anatomy, TaskSettings, measure_tasks, metric_names, reference_anatomy
from cranial_sct.tasks.ultrasound import require_solver

CASE_KEYS = ("method", "subject", "field_T", "contrast")
METRICS_CSV = "metrics.csv"
SUMMARY_JSON = "summary.json"
CASES_DIR = "cases"
VERSIONED_PACKAGES = ("cranial-sct", "numpy", "scipy", "scikit-image", "nibabel", "monai", "torch", "matplotlib")


@dataclass(frozen=True)
class PredictedCase:
    """One sCT file and what it is: which method made it, for which subject, from which MR."""

    method: str
    subject: str
    field_T: str
    contrast: str
    sct_path: Path
    skull_path: Path | None
    uncertainty_path: Path | None = None


def _cases_in(subject_dir: Path, method: str) -> list[PredictedCase]:
    cases = []
    for path in sorted(subject_dir.iterdir()):
        parsed = parse_tagged(path.name)
        if parsed and parsed[0] == "sct":
            skull, uncertainty = sibling(path, "skull"), sibling(path, "uncertainty")
            cases.append(PredictedCase(method, subject_dir.name, parsed[1], parsed[2], path, skull if skull.is_file() else None,
                                       uncertainty if uncertainty.is_file() else None))
    return cases


def find_predictions(pred_dir: str | os.PathLike[str]) -> list[PredictedCase]:
    """Every sCT under ``pred_dir`` in either layout (see the module docstring)."""
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise InputError(f"--pred {pred_dir}: not a folder")
    children = sorted(d for d in pred_dir.iterdir() if d.is_dir())
    flat = [case for d in children for case in _cases_in(d, pred_dir.resolve().name)]
    cases = flat or [case for m in children for d in sorted(m.iterdir()) if d.is_dir() for case in _cases_in(d, m.name)]
    if not cases:
        raise InputError(
            f"--pred {pred_dir}: no sct_<field>T_<contrast>.nii.gz files; expected "
            f"{pred_dir}/<method>/<subject>/sct_1.5T_t1w.nii.gz or {pred_dir}/<subject>/sct_1.5T_t1w.nii.gz"
        )
    return cases


@dataclass(frozen=True)
class ReferenceFiles:
    """Where a subject's reference images are: CT, head mask, MR inputs by (field, contrast), tissue labels."""

    ct: Path
    mask: Path
    mr: dict[tuple[str, str], Path]
    labels: Path | None = None


def find_reference(ref_dir: str | os.PathLike[str], subject: str) -> ReferenceFiles:
    """Locate a subject's reference files through ``manifest.csv``, or by the phantom's file names."""
    ref_dir = Path(ref_dir)
    if not ref_dir.is_dir():
        raise InputError(f"--ref {ref_dir}: not a folder")
    manifest = ref_dir / MANIFEST_NAME
    if manifest.is_file():
        rows = [row for row in read_manifest(manifest) if row.subject == subject]
        by_modality = {row.modality: ref_dir / row.path for row in rows if row.modality in ("ct", "mask", "labels")}
        mr = {(row.field_T, row.contrast): ref_dir / row.path for row in rows if row.modality == "mr"}
        ct, mask, labels = by_modality.get("ct"), by_modality.get("mask"), by_modality.get("labels")
    else:
        ct, mask, labels = ref_dir / subject / "ct.nii.gz", ref_dir / subject / "mask.nii.gz", ref_dir / subject / "labels.nii.gz"
        mr = {}
        for path in sorted((ref_dir / subject).glob("mr_*T_*.nii*")):
            _, field, contrast = parse_tagged(path.name) or ("", "", "")
            mr[(field, contrast)] = path
    for name, path in (("CT", ct), ("head mask", mask)):
        if path is None or not path.is_file():
            raise InputError(f"--ref {ref_dir}: no {name} for subject {subject!r} (predicted, but missing from the reference)")
    return ReferenceFiles(ct, mask, mr, labels if labels is not None and labels.is_file() else None)


def _require_same_grid(volume: Volume, reference: Volume, path: Path, reference_path: Path) -> None:
    if not volume.same_grid(reference):
        raise InputError(
            f"{path}: grid {volume.shape} at {np.round(volume.spacing, 3).tolist()} mm differs from the reference "
            f"{reference_path} ({reference.shape} at {np.round(reference.spacing, 3).tolist()} mm); "
            "predict on the reference grid (or resample) before evaluating"
        )


def _load_reference(files: ReferenceFiles, bone_threshold_hu: float) -> tuple[Volume, np.ndarray]:
    """Reference CT and binary head mask, refusing references that cannot be measured against."""
    ct, mask = read_volume(files.ct), read_volume(files.mask)
    _require_same_grid(mask, ct, files.mask, files.ct)
    inside = np.asarray(mask.array) > 0
    if not inside.any():
        raise InputError(f"{files.mask}: head mask is empty")
    if not reference_bone(ct.array, inside, bone_threshold_hu).any():
        raise InputError(
            f"{files.ct}: no voxels above {bone_threshold_hu:g} HU inside the head mask, so skull Dice/HD95 "
            "are undefined; check the CT is in HU or lower --bone-threshold"
        )
    return ct, inside


def package_versions() -> dict[str, str]:
    """Installed versions of the packages that shape the numbers (recorded with every result)."""
    versions = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _finite_or_none(value: Any) -> Any:
    """JSON has no NaN/inf: write them as null (the CSV keeps ``nan``/``inf``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_or_none(v) for v in value]
    return value


def write_outputs(rows: list[dict[str, Any]], summary: dict[str, Any], out_dir: Path) -> None:
    """``metrics.csv`` (one row per case) and ``summary.json``, each written atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / METRICS_CSV) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with atomic_path(out_dir / SUMMARY_JSON) as tmp:
        tmp.write_text(json.dumps(_finite_or_none(summary), indent=2) + "\n")


def predicted_skull(case: PredictedCase, sct: Volume, threshold_hu: float, ct_path: Path) -> tuple[np.ndarray, str]:
    """The case's skull mask and where it came from: its skull file, else the sCT above threshold."""
    if case.skull_path is None:
        return np.asarray(sct.array) > threshold_hu, f"sct>{threshold_hu:g}HU"
    skull = read_nifti(case.skull_path)  # not read_volume: an empty (constant) skull is a valid, bad result
    _require_same_grid(skull, sct, case.skull_path, ct_path)
    return np.asarray(skull.array) > 0, "skull file"


def _load_anatomy(files: ReferenceFiles, ct: Volume, inside: np.ndarray, bone_threshold_hu: float) -> Anatomy:
    """Where the tasks aim, from the reference CT (and its tissue labels, when there are some)."""
    labels = None
    if files.labels is not None:
        volume = read_nifti(files.labels)
        _require_same_grid(volume, ct, files.labels, files.ct)
        labels = np.asarray(volume.array)
    try:
        return reference_anatomy(ct.array, inside, ct.affine, ct.spacing, bone_threshold_hu, labels)
    except InputError as error:
        raise InputError(f"{files.ct}: {error}") from error


def _measure(case: PredictedCase, ct: Volume, inside: np.ndarray, metrics: CaseMetrics, ref: ReferenceFiles,
             tasks: TaskSettings, anatomy: Anatomy | None) -> None:
    sct = read_volume(case.sct_path)
    _require_same_grid(sct, ct, case.sct_path, ref.ct)
    skull, source = predicted_skull(case, sct, metrics.bone_threshold_hu, ref.ct)
    keys = {key: getattr(case, key) for key in CASE_KEYS}
    uncertainty = None
    if case.uncertainty_path is not None:
        spread = read_nifti(case.uncertainty_path)  # not read_volume: a constant map (one pass) is valid
        _require_same_grid(spread, sct, case.uncertainty_path, ref.ct)
        uncertainty = np.asarray(spread.array)
    row = metrics(ct.array, np.asarray(sct.array, np.float64), inside, skull & inside, ct.affine, uncertainty, **keys, skull_source=source)
    if anatomy is not None:
        row.update(measure_tasks(tasks, np.asarray(ct.array, np.float64), np.asarray(sct.array, np.float64), ct.spacing, anatomy))


def _case_record(out_dir: str | os.PathLike[str], case: PredictedCase) -> Path:
    """Where one case's finished row is kept, so an interrupted evaluation resumes case by case."""
    return Path(out_dir) / CASES_DIR / case.method / case.subject / (case.sct_path.name.split(".nii")[0] + ".json")


def _fingerprint(case: PredictedCase, reference: ReferenceFiles) -> list[float]:
    """The prediction and reference files as measured: a row is reused only while they are unchanged."""
    paths = [p for p in (case.sct_path, case.skull_path, case.uncertainty_path, reference.ct, reference.mask, reference.labels) if p is not None]
    return [value for path in paths for value in (path.stat().st_mtime, float(path.stat().st_size))]


def _finished_row(record: Path, case: PredictedCase, reference: ReferenceFiles, settings: dict[str, Any]) -> dict[str, Any] | None:
    if not record.is_file():
        return None
    saved = json.loads(record.read_text())
    if saved.get("settings") != settings or saved.get("files") != _fingerprint(case, reference):
        return None
    return {k: (float("nan") if v is None else v) for k, v in saved["row"].items()}


def _save_row(record: Path, case: PredictedCase, reference: ReferenceFiles, settings: dict[str, Any], row: dict[str, Any]) -> None:
    record.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(record) as tmp:
        tmp.write_text(json.dumps(_finite_or_none({"settings": settings, "files": _fingerprint(case, reference), "row": row})))


def evaluate(
    pred_dir: str | os.PathLike[str],
    ref_dir: str | os.PathLike[str],
    preset: str = "synthrad2023",
    out_dir: str | os.PathLike[str] | None = None,
    bone_threshold_hu: float = BONE_THRESHOLD_HU,
    mu_map: bool = False,
    kvp: int = 120,
    progress: bool = True,
    tasks: TaskSettings | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Measure every predicted sCT against its reference; return (per-case rows, summary).

    The summary holds the settings, package versions, statistics per method x field strength (and
    x contrast) and paired Wilcoxon tests between methods on shared cases. With ``out_dir``, both
    are also written there as ``metrics.csv`` and ``summary.json``, and each case's row as soon as it
    is measured (``cases/``): a rerun reuses the rows of unchanged predictions with the same settings.
    ``tasks`` adds the clinical task figures of ``cranial_sct.tasks`` to every row (``tasks.tasks`` empty: none).
    """
    if preset not in PRESETS:
        raise InputError(f"--preset {preset}: unknown; choose one of {', '.join(PRESETS)}")
    cases = sorted(find_predictions(pred_dir), key=lambda c: (c.subject, c.method, c.field_T, c.contrast))
    metrics = CaseMetrics(preset, bone_threshold_hu, mu_map, kvp)
    tasks = tasks or TaskSettings()
    if "ultrasound" in tasks.tasks:
        require_solver()  # before any case is measured: a missing solver is a set-up error
    settings = {"preset": preset, "bone_threshold_hu": bone_threshold_hu, "mu_map": mu_map, "kvp": kvp, "ref_dir": str(Path(ref_dir).resolve()),
                **({"tasks": tasks.record()} if tasks.tasks else {})}
    references: dict[str, ReferenceFiles] = {}  # each subject's files, looked up once (the manifest is read per lookup)
    loaded: dict[str, tuple[Volume, np.ndarray, Anatomy | None]] = {}
    for case in tqdm(cases, desc="evaluate", unit="case", disable=not progress):
        if case.subject not in references:
            references[case.subject] = find_reference(ref_dir, case.subject)
        files = references[case.subject]
        record = _case_record(out_dir, case) if out_dir is not None else None
        done = _finished_row(record, case, files, settings) if record is not None else None
        if done is not None:
            metrics.rows.append(done)
            continue
        if case.subject not in loaded:
            loaded.clear()  # cases are sorted by subject: keep one reference in memory
            ct, inside = _load_reference(files, bone_threshold_hu)
            loaded[case.subject] = (ct, inside, _load_anatomy(files, ct, inside, bone_threshold_hu) if tasks.tasks else None)
        ct, inside, anatomy = loaded[case.subject]
        _measure(case, ct, inside, metrics, files, tasks, anatomy)
        if record is not None:
            _save_row(record, case, files, settings, metrics.rows[-1])
    names = metrics.metric_names + metric_names(tasks.tasks)
    summary = {
        "preset": preset,
        "bone_threshold_hu": bone_threshold_hu,
        "air_max_hu": AIR_BELOW_HU,
        "mu_map": mu_map,
        "kvp": kvp,
        "tasks": tasks.record(),
        "pred_dir": str(Path(pred_dir).resolve()),
        "ref_dir": str(Path(ref_dir).resolve()),
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": package_versions(),
        "metrics": names,
        "n_cases": len(metrics.rows),
        "by_method_field": metrics.aggregate(["method", "field_T"], names),
        "by_method_field_contrast": metrics.aggregate(["method", "field_T", "contrast"], names),
        "paired_by_field": paired_tests(metrics.rows, names, ["field_T"], ["subject"], average_over=["contrast"]),
        "paired_by_field_contrast": paired_tests(metrics.rows, names, ["field_T", "contrast"], ["subject"]),
    }
    if out_dir is not None:
        write_outputs(metrics.rows, summary, Path(out_dir))
    return metrics.rows, summary
