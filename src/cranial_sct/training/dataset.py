"""Training cases read through the dataset manifest and made into network input by the plan.

A case is one subject at one field strength: its MR contrasts become channels in the model's order
(an absent contrast is a zero channel, and the condition vector says so). Every case goes through
:func:`cranial_sct.preprocess.plan.prepare`, the same function ``predict`` uses: resampled to the
plan's spacing, head mask by the plan's rule from the MR (not from the CT, which a user never has),
cropped with the plan's margin and normalised once. The CT, the tissue labels and the reference head
mask follow the same steps. The stage-1 target comes from CT thresholds inside the head, so real data
needs no label maps; a ``labels`` file, where present, only refines the tissue map used by the
contrast re-mapping augmentation. The reference mask (the cohort's ``mask`` file) only scores.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from cranial_sct.errors import InputError
from cranial_sct.hounsfield import AIR, BONE, HU_MIN, SOFT
from cranial_sct.io.manifest import MANIFEST_NAME, ManifestRow, read_manifest
from cranial_sct.io.nifti import read_nifti
from cranial_sct.io.volume import Volume
from cranial_sct.models.conditioning import encode_condition
from cranial_sct.preprocess.dataset import CASE_RECORD
from cranial_sct.preprocess.geometry import reorient
from cranial_sct.preprocess.plan import InputPlan, prepare
from cranial_sct.training.config import DataConfig


@dataclass
class Case:
    subject: str
    field_T: str  # as in the manifest: "1.5" or "unknown"
    present: list[str]  # contrasts present, in channel order
    mr: np.ndarray  # (C, D, H, W) float32, normalised inside the head
    ct: np.ndarray  # (D, H, W) float32 HU
    mask: np.ndarray  # (D, H, W) uint8 head mask by the plan's rule (what the network is given)
    reference_mask: np.ndarray  # (D, H, W) bool head mask from the cohort, for scoring only
    classes: np.ndarray  # (D, H, W) uint8 air / soft / bone
    tissues: np.ndarray  # (D, H, W) integer tissue map for contrast re-mapping

    def condition(self) -> torch.Tensor:
        return encode_condition(None if self.field_T == "unknown" else float(self.field_T), self.present)


def stage1_classes(ct: np.ndarray, mask: np.ndarray, config: DataConfig) -> np.ndarray:
    """Air / soft tissue / bone from CT HU inside the head; everything outside the head is air."""
    classes = np.full(ct.shape, SOFT, dtype=np.uint8)
    classes[ct < config.air_below_hu] = AIR
    classes[ct > config.bone_above_hu] = BONE
    classes[mask == 0] = AIR
    return classes


def _read(root: Path, row: ManifestRow, reference: Volume | None) -> Volume:
    path = root / row.path
    if not path.is_file():
        raise InputError(f"{path}: listed in {root / MANIFEST_NAME} but missing")
    volume = read_nifti(path)
    if reference is not None and not volume.same_grid(reference):
        raise InputError(f"{path}: not on the same voxel grid as the subject's CT; resample it first (cranial-sct preprocess)")
    return volume


def _by_subject(root: Path) -> dict[str, list[ManifestRow]]:
    by_subject: dict[str, list[ManifestRow]] = defaultdict(list)
    for row in read_manifest(root / MANIFEST_NAME):
        by_subject[row.subject].append(row)
    return by_subject


def preprocessed_with_n4(config: DataConfig, subject: str) -> bool:
    """True when ``cranial-sct preprocess`` already N4-corrected the cohort's MR (its ``case.json`` says so)."""
    record = Path(config.root) / subject / CASE_RECORD
    return record.is_file() and bool(json.loads(record.read_text()).get("options", {}).get("n4", False))


def native_spacing(config: DataConfig, subject: str) -> list[float]:
    """The voxel size of ``subject``'s CT along the network's (RAS) axes: the plan's spacing when the
    config leaves it to the data."""
    root = Path(config.root)
    cts = [row for row in _by_subject(root).get(subject, []) if row.modality == "ct"]
    if not cts:
        raise InputError(f"{root / MANIFEST_NAME}: subject {subject!r} needs a ct row for training")
    return [round(s, 6) for s in reorient(_read(root, cts[0], None), "RAS")[0].spacing]


def load_cases(config: DataConfig, plan: InputPlan, contrasts: list[str], subjects: list[str], fields: list[str]) -> list[Case]:
    """One case per (subject, field strength) with at least one of ``contrasts``, ``fields`` empty = all.
    With N4 in the plan, training corrects like ``predict`` does, even MR that ``preprocess`` already
    corrected (a second N4 of a corrected image is close to the identity; a different step would not be)."""
    root = Path(config.root)
    by_subject = _by_subject(root)
    cases = []
    for subject in subjects:
        rows = by_subject.get(subject)
        if not rows:
            raise InputError(f"{root / MANIFEST_NAME}: no subject {subject!r}")
        single = {row.modality: row for row in rows if row.modality != "mr"}
        if "ct" not in single or "mask" not in single:
            raise InputError(f"{root / MANIFEST_NAME}: subject {subject!r} needs a ct and a mask row for training")
        ct = _read(root, single["ct"], None)
        carried = {"ct": (ct.with_array(ct.array.astype(np.float32)), "linear", HU_MIN),
                   "reference_mask": (_read(root, single["mask"], ct), "nearest", 0.0)}
        if "labels" in single:
            carried["labels"] = (_read(root, single["labels"], ct), "nearest", 0.0)
        mr_rows: dict[str, dict[str, ManifestRow]] = defaultdict(dict)
        for row in rows:
            if row.modality == "mr" and row.contrast in contrasts and (not fields or row.field_T in fields):
                mr_rows[row.field_T][row.contrast] = row
        for field_T, by_contrast in sorted(mr_rows.items()):
            present = [c for c in contrasts if c in by_contrast]
            prepared = prepare(plan, {c: _read(root, by_contrast[c], ct) for c in present}, companions=carried)
            mask = prepared.mask.astype(np.uint8)
            ct_array = prepared.companions["ct"].astype(np.float32)
            classes = stage1_classes(ct_array, mask, config)
            tissues = prepared.companions["labels"].astype(np.int32) if "labels" in carried else classes
            channels = [prepared.channels.get(c, np.zeros(mask.shape, np.float32)) for c in contrasts]
            cases.append(Case(subject, field_T, present, np.stack(channels), ct_array, mask,
                              prepared.companions["reference_mask"] > 0, classes, tissues))
    return cases


def split_subjects(config: DataConfig) -> tuple[list[str], list[str]]:
    """Training and validation subjects: as listed, or the last ``val_count`` subjects held out."""
    subjects = sorted({row.subject for row in read_manifest(Path(config.root) / MANIFEST_NAME)})
    held_out = subjects[len(subjects) - config.val_count :] if config.val_count > 0 else []
    val = config.val_subjects or held_out
    train = config.train_subjects or [s for s in subjects if s not in val]
    if not train:
        raise InputError(f"{config.root}: no training subjects left after holding out {val}; lower data.val_count")
    overlap = sorted(set(train) & set(val))
    if overlap:
        raise InputError(f"config: subjects {overlap} are in both data.train_subjects and data.val_subjects")
    return train, val


def intensity_statistics(cases: list[Case], contrasts: list[str]) -> dict[str, object]:
    """What training saw, stored in checkpoints so inference can tell when an input is unlike it."""
    stats: dict[str, object] = {
        "fields_seen": sorted({case.field_T for case in cases}),
        "contrasts_seen": sorted({c for case in cases for c in case.present}),
    }
    for index, contrast in enumerate(contrasts):
        values = np.concatenate([case.mr[index][case.mask > 0] for case in cases if contrast in case.present] or [np.zeros(0)])
        if values.size:
            p1, p50, p99 = np.percentile(values, [1, 50, 99])
            stats[contrast] = {"mean": float(values.mean()), "std": float(values.std()), "p1": float(p1), "p50": float(p50), "p99": float(p99)}
    return stats
