"""The ``predict`` command's API: MR files in, a set of output files out, for one case or a cohort.

Outputs of one case (``TAG`` is empty for a single case, ``<field>T_<contrasts>`` in a cohort)::

    sct[_TAG].nii.gz          sCT in HU (int16), on the first MR's grid; -1000 outside the head
    skull[_TAG].nii.gz        skull mask (uint8)
    boneprob[_TAG].nii.gz     stage-1 bone probability (models with a segmentation head)
    uncertainty[_TAG].nii.gz  HU standard deviation over test-time flips / ensemble members
    mu[_TAG].nii.gz           511 keV linear attenuation in cm^-1 (--mu-map)
    density[_TAG].nii.gz      relative electron density (--density)
    rsp[_TAG].nii.gz          proton stopping power relative to water (--rsp)
    sound_speed[_TAG].nii.gz, acoustic_density[_TAG].nii.gz, attenuation[_TAG].nii.gz
                              transcranial ultrasound maps (m/s, kg/m^3, dB/cm; --acoustic), each with a
                              JSON sidecar giving its units, the frequency and the model
    dicom[_TAG]/              DICOM CT series of the sCT (--dicom)
    sct[_TAG].json            what was done: checkpoints, inputs, settings, out-of-distribution warnings

Every file is written atomically and the JSON sidecar last, so it marks a finished case: a cohort
run that is stopped and restarted skips finished cases and redoes the one it was in. A cohort
(``--data``) is read through its ``manifest.csv`` and written in the layout ``cranial-sct evaluate``
reads (``OUT/<method>/<subject>/sct_<field>T_<contrast>.nii.gz``). Under torchrun each process
takes every WORLD_SIZE-th case from RANK on.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from cranial_sct import __version__
from cranial_sct.conversion import DEFAULT_DENSITY_TABLE, hu_to_mu_511kev, hu_to_relative_electron_density
from cranial_sct.errors import InputError
from cranial_sct.inference import Prediction, check_contrasts, load_models, predict_volume
from cranial_sct.io import read_volume, write_volume
from cranial_sct.io.atomic import atomic_path
from cranial_sct.io.dicom_write import write_ct_series
from cranial_sct.io.manifest import MANIFEST_NAME, read_manifest
from cranial_sct.io.names import case_tag, tagged_filename
from cranial_sct.io.output_paths import check_output_folder
from cranial_sct.io.sidecar import format_field, sidecar_path
from cranial_sct.io.validate import check_extent
from cranial_sct.io.volume import Volume
from cranial_sct.tasks.proton import SCHNEIDER_1996_RSP, hu_to_rsp
from cranial_sct.tasks.ultrasound import DEFAULT_FREQUENCY_MHZ, UNITS as ACOUSTIC_UNITS, acoustic_sidecar, hu_to_acoustic
from cranial_sct.training.checkpoint import CheckpointInfo, resolve

log = logging.getLogger(__name__)


@dataclass
class PredictOptions:
    tta: bool = False
    device: str = "cpu"
    overlap: float = 0.25
    dicom: bool = False
    mu_map: bool = False
    kvp: int = 120
    density: bool = False
    density_table: tuple[tuple[float, float], ...] = DEFAULT_DENSITY_TABLE
    rsp: bool = False
    rsp_table: tuple[tuple[float, float], ...] = SCHNEIDER_1996_RSP
    acoustic: bool = False
    frequency_mhz: float = DEFAULT_FREQUENCY_MHZ
    overwrite: bool = False
    series: str | None = None  # DICOM SeriesInstanceUID, for a folder holding several series
    volume: int | None = None  # volume of a 4D input
    allow_gaps: bool = False  # interpolate missing DICOM slices instead of refusing
    keep_bone_islands: bool = False  # keep skull pieces lying wholly deep inside the head (inference.islands)


@dataclass(frozen=True)
class CohortCase:
    """One prediction of a cohort run: a subject's MR at one field strength, with one set of contrasts."""

    subject: str
    field_T: str  # "1.5", "0.064" or "unknown"
    mr: dict[str, Path]  # contrast -> file, in the checkpoint's channel order

    @property
    def tag(self) -> str:
        return case_tag(self.field_T, list(self.mr))


def parse_field(text: str | float | None) -> float | None:
    """``--field`` as tesla (None for ``unknown``/absent), refusing anything that is not a positive number."""
    if text is None or str(text).strip().lower() in ("", "unknown"):
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (np.isfinite(value) and 0 < value <= 20):
        raise InputError(f"--field {text}: must be the MR field strength in tesla (e.g. 0.064, 1.5, 3, 7) or 'unknown'")
    return value


def output_path(out_dir: Path, kind: str, tag: str, suffix: str = ".nii.gz") -> Path:
    return out_dir / tagged_filename(kind, tag, suffix)


def _sidecar(out_dir: Path, tag: str) -> Path:
    return sidecar_path(output_path(out_dir, "sct", tag))


def write_prediction(prediction: Prediction, out_dir: Path, tag: str, options: PredictOptions, record: dict[str, Any]) -> list[Path]:
    """Write the case's files (see the module docstring), the JSON sidecar last; return the paths.

    All or nothing: the old sidecar goes first (the folder no longer claims a finished case), and
    when a write fails (a full disk) the files this case already wrote are removed again."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"--out {out_dir}: cannot create the folder ({error.strerror or type(error).__name__})") from None
    _sidecar(out_dir, tag).unlink(missing_ok=True)
    written: list[Path] = []
    try:
        _write_case_files(prediction, out_dir, tag, options, record, written)
    except BaseException as error:
        for path in written:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise InputError(f"--out {out_dir}: cannot write ({error.strerror or type(error).__name__}); nothing of this case was kept") from None
        raise
    return written


def _write_case_files(
    prediction: Prediction, out_dir: Path, tag: str, options: PredictOptions, record: dict[str, Any], written: list[Path]
) -> None:
    """Write every file of the case into ``out_dir``, appending each to ``written`` as it lands."""
    sct = prediction.sct
    images: list[tuple[str, Volume | None, type]] = [
        ("sct", sct.with_array(np.rint(sct.array)), np.int16),
        ("skull", prediction.skull, np.uint8),
        ("boneprob", prediction.bone_prob, np.float32),
        ("uncertainty", prediction.uncertainty, np.float32),
    ]
    if options.mu_map:
        images.append(("mu", sct.with_array(hu_to_mu_511kev(sct.array, options.kvp)), np.float32))
    if options.density:
        images.append(("density", sct.with_array(hu_to_relative_electron_density(sct.array, options.density_table)), np.float32))
    if options.rsp:
        images.append(("rsp", sct.with_array(hu_to_rsp(sct.array, options.rsp_table)), np.float32))
    acoustic = hu_to_acoustic(sct.array, options.frequency_mhz) if options.acoustic else None
    if acoustic is not None:
        images += [(name, sct.with_array(array), np.float32) for name, array in acoustic.arrays().items()]
    for name, volume, dtype in images:
        if volume is not None:
            written.append(write_volume(volume, output_path(out_dir, name, tag), dtype))
    if acoustic is not None:
        for name in acoustic.arrays():
            with atomic_path(sidecar_path(output_path(out_dir, name, tag))) as tmp:
                tmp.write_text(json.dumps(acoustic_sidecar(name, options.frequency_mhz), indent=2) + "\n")
            written.append(sidecar_path(output_path(out_dir, name, tag)))
    if options.dicom:
        reference = sct.meta.get("dicom_reference")
        written.append(write_ct_series(sct, output_path(out_dir, "dicom", tag, ""), reference, overwrite=True))
    sidecar = {
        **record,
        "outputs": [path.name for path in written],
        "units": {"sct": "HU", "uncertainty": "HU (standard deviation)", "mu": "cm^-1 at 511 keV", "density": "relative to water",
                  "rsp": "relative to water", **ACOUSTIC_UNITS},
        "ood_warnings": prediction.warnings,
        **prediction.details,
        "tta": options.tta,
        "kvp": options.kvp if options.mu_map else None,
        "density_table": [list(row) for row in options.density_table] if options.density else None,
        "rsp_table": [list(row) for row in options.rsp_table] if options.rsp else None,
        "frequency_mhz": options.frequency_mhz if options.acoustic else None,
        "version": __version__,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    path = _sidecar(out_dir, tag)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(sidecar, indent=2) + "\n")
    written.append(path)


def _metadata_field(volume: Volume) -> float | None:
    """The field strength the DICOM header or BIDS sidecar gives, else None (unknown)."""
    return parse_field(volume.meta.get("field_T"))


def _read_mr(path: Path, contrast: str, options: PredictOptions) -> Volume:
    """Read one MR input; a file too small to hold a head, or whose intensities look like CT (HU air near -1000), is refused."""
    volume = read_volume(path, options.volume, series_uid=options.series, allow_gaps=options.allow_gaps)
    check_extent(volume, str(path))
    if volume.meta.get("modality") == "ct" or volume.meta.get("modality_guess") == "ct":
        raise InputError(f"--{'mr' if contrast == 't1w' else contrast} {path}: looks like a CT (DICOM modality or HU air near -1000), "
                         "not an MR; give the MR image")
    return volume


def _predict_and_write(
    models: Sequence[torch.nn.Module], info: CheckpointInfo, checkpoints: Sequence[str], mr_paths: Mapping[str, Path],
    field_T: float | None, mask_path: Path | None, out_dir: Path, tag: str, options: PredictOptions,
) -> list[Path]:
    """Read, predict and write one case; an unknown ``field_T`` is taken from the first MR's metadata when it has one."""
    check_contrasts(list(mr_paths), info)
    mr = {contrast: _read_mr(path, contrast, options) for contrast, path in mr_paths.items()}
    field_T = field_T if field_T is not None else _metadata_field(next(iter(mr.values())))
    mask = read_volume(mask_path) if mask_path is not None else None
    prediction = predict_volume(models, info, mr, field_T, tta=options.tta, device=options.device, head_mask=mask, overlap=options.overlap,
                                keep_bone_islands=options.keep_bone_islands)
    record = {
        "checkpoints": [str(resolve(c).resolve()) for c in checkpoints],
        "inputs": {contrast: str(Path(path).resolve()) for contrast, path in mr_paths.items()},
        "head_mask": str(mask_path) if mask_path else f"computed from the MR ({info.plan.head_mask})",
        "field_T": format_field(field_T),
        "contrasts": list(mr_paths),
    }
    return write_prediction(prediction, out_dir, tag, options, record)


def predict_files(
    checkpoints: Sequence[str], mr_paths: Mapping[str, str | os.PathLike[str]], out_dir: str | os.PathLike[str],
    field_T: float | None = None, mask_path: str | os.PathLike[str] | None = None, options: PredictOptions | None = None,
) -> list[Path]:
    """Predict one case from MR files (contrast -> path; the first is the output grid) into ``out_dir``.

    ``field_T`` None: the DICOM/BIDS field strength of the first MR, else unknown."""
    options = options or PredictOptions()
    out_dir = Path(out_dir)
    given = [Path(path) for path in mr_paths.values()] + ([Path(mask_path)] if mask_path else [])
    check_output_folder(out_dir, given)
    if _sidecar(out_dir, "").exists() and not options.overwrite:
        raise InputError(f"--out {out_dir}: holds a prediction already; pass --overwrite or choose another folder")
    paths = {contrast: Path(path) for contrast, path in mr_paths.items()}
    for contrast, path in paths.items():
        if not path.exists():
            raise InputError(f"--{'mr' if contrast == 't1w' else contrast} {path}: file not found")
    models, info = load_models(checkpoints, options.device)
    return _predict_and_write(models, info, checkpoints, paths, field_T, Path(mask_path) if mask_path else None, out_dir, "", options)


def cohort_cases(
    data_dir: Path, contrast_sets: Sequence[Sequence[str]], fields: Sequence[str] = (), subjects: Sequence[str] = ()
) -> list[CohortCase]:
    """Every (subject, field, contrast set) of the manifest with all the set's contrasts present
    (``fields`` and ``subjects`` empty: all). The cohort's head masks are not used: a user has none, so
    predictions make theirs by the checkpoint's plan, and only evaluation scores inside the reference."""
    rows = [row for row in read_manifest(data_dir / MANIFEST_NAME) if not subjects or row.subject in subjects]
    images: dict[tuple[str, str], dict[str, Path]] = defaultdict(dict)
    for row in rows:
        if row.modality == "mr" and (not fields or row.field_T in fields):
            images[(row.subject, row.field_T)][row.contrast] = data_dir / row.path
    cases = [
        CohortCase(subject, field_T, {c: available[c] for c in contrasts})
        for (subject, field_T), available in sorted(images.items())
        for contrasts in contrast_sets
        if all(c in available for c in contrasts)
    ]
    if not cases:
        wanted = ", ".join("+".join(s) for s in contrast_sets)
        raise InputError(f"--data {data_dir}: no MR with contrasts {wanted} at fields {', '.join(fields) or 'any'} in {MANIFEST_NAME}")
    return cases


def default_method(info: CheckpointInfo) -> str:
    model = info.config.model
    return model.kind if model.kind == "bulk-density" else f"{model.kind}-{model.backbone}"


def shard() -> tuple[int, int]:
    """(rank, world size) from torchrun's environment; (0, 1) outside torchrun."""
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def _device_for_rank(device: str) -> str:
    if device == "cuda" and "LOCAL_RANK" in os.environ:
        return f"cuda:{int(os.environ['LOCAL_RANK'])}"
    return device


def predict_cohort(
    checkpoints: Sequence[str], data_dir: str | os.PathLike[str], out_dir: str | os.PathLike[str], *,
    contrast_sets: Sequence[Sequence[str]] = (), fields: Sequence[str] = (), subjects: Sequence[str] = (),
    method: str | None = None, options: PredictOptions | None = None, progress: bool = True,
) -> Path:
    """Predict every case of a cohort into ``out_dir/<method>/<subject>/``; return that method folder.

    ``contrast_sets`` defaults to all the checkpoint's contrasts together; ``fields`` and ``subjects``
    to all in the manifest. Finished cases (sidecar
    present) are skipped unless ``options.overwrite``; under torchrun the cases are sharded by rank.
    """
    options = options or PredictOptions()
    data_dir = Path(data_dir)
    if not (data_dir / MANIFEST_NAME).is_file():
        raise InputError(f"--data {data_dir}: no {MANIFEST_NAME}; give a phantom or preprocessed cohort folder")
    check_output_folder(Path(out_dir), [data_dir])
    options.device = _device_for_rank(options.device)
    models, info = load_models(checkpoints, options.device)
    for contrasts in contrast_sets:
        check_contrasts(list(contrasts), info)
    sets = [sorted(s, key=info.contrasts.index) for s in contrast_sets] or [info.contrasts]
    method_dir = Path(out_dir) / (method or default_method(info))
    rank, world = shard()
    mine = cohort_cases(data_dir, sets, fields, subjects)[rank::world]
    todo = [c for c in mine if options.overwrite or not _sidecar(method_dir / c.subject, c.tag).exists()]
    log.info("%d of %d cases to predict (%d already done)", len(todo), len(mine), len(mine) - len(todo))
    desc = f"predict {method_dir.name}" + (f" [rank {rank}/{world}]" if world > 1 else "")
    for case in tqdm(todo, desc=desc, unit="case", disable=not progress, dynamic_ncols=True):
        field_T = parse_field(case.field_T)
        _predict_and_write(models, info, checkpoints, case.mr, field_T, None, method_dir / case.subject, case.tag, options)
    return method_dir
