"""A cohort on disk: per-subject NIfTI volumes, ``manifest.csv`` and ``tissues.json``.

Layout (the same as real paired data): ``DIR/<subject>/ct.nii.gz``, ``labels.nii.gz``, ``mask.nii.gz``,
``mr_<field>T_<contrast>.nii.gz``. Every file is written atomically (temporary name, then rename).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from cranial_sct.errors import InputError
from cranial_sct.io.atomic import atomic_path
from cranial_sct.io.manifest import MANIFEST_NAME, ManifestRow, write_manifest
from cranial_sct.io.names import mr_filename
from cranial_sct.io.nifti import write_nifti
from cranial_sct.phantom.ct import CT_NOISE_HU
from cranial_sct.phantom.mr_physics import CONTRASTS, nominal_acquisition
from cranial_sct.phantom.sources import PROCEDURAL, parse_anatomy
from cranial_sct.phantom.subject import PhantomSubject, simulate_subject
from cranial_sct.phantom.tissues import tissue_table

FIELD_RANGE_T = (0.01, 12.0)
TISSUES_JSON = "tissues.json"
PREVIEW_PNG = "preview.png"
CT_SITE = "phantom-ct"


def subject_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def validate_request(out: Path, subjects: int, fields: Sequence[float], contrasts: Sequence[str],
                     spacing: float, overwrite: bool) -> None:
    """Refuse, before anything is written, every request the user can fix."""
    if subjects < 1:
        raise InputError(f"--subjects {subjects}: must be at least 1")
    if not fields:
        raise InputError("--fields: give at least one field strength, e.g. --fields 0.064,1.5,3,7")
    for field_t in fields:
        if not FIELD_RANGE_T[0] <= field_t <= FIELD_RANGE_T[1]:
            raise InputError(f"--fields {field_t:g}: field strength must be within "
                             f"{FIELD_RANGE_T[0]:g}..{FIELD_RANGE_T[1]:g} T")
    unknown = [c for c in contrasts if c not in CONTRASTS]
    if unknown or not contrasts:
        raise InputError(f"--contrasts {','.join(unknown) or '(none)'}: unknown contrast; "
                         f"choose from {','.join(CONTRASTS)}")
    if not (spacing > 0 and np.isfinite(spacing)):
        raise InputError(f"--spacing {spacing:g}: voxel spacing must be a positive number of mm")
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise InputError(f"--out {out}: folder exists and is not empty; choose another or pass --overwrite")


def prepare_folder(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise InputError(f"--out {out}: cannot create folder ({error.strerror})") from None
    if not os.access(out, os.W_OK):
        raise InputError(f"--out {out}: folder is not writable")


def write_subject(subject: PhantomSubject, out: Path) -> list[ManifestRow]:
    """Write one subject's volumes (concurrently: gzip releases the GIL); return their manifest rows."""
    folder = out / subject.subject_id
    folder.mkdir(exist_ok=True)
    sid = subject.subject_id
    source = subject.anatomy["source"]
    jobs = [(volume, name, dtype, ManifestRow(sid, modality, "", "", CT_SITE, f"{sid}/{name}", source))
            for modality, volume, dtype in (("ct", subject.ct, np.int16), ("labels", subject.labels, np.uint8),
                                            ("mask", subject.mask, np.uint8))
            for name in [f"{modality}.nii.gz"]]
    for (field_t, contrast), volume in subject.mr.items():
        name = mr_filename(field_t, contrast)
        image = volume.with_array(np.clip(np.rint(volume.array), 0, np.iinfo(np.int16).max))
        jobs.append((image, name, np.int16,
                     ManifestRow(sid, "mr", contrast, f"{field_t:g}", f"phantom-{field_t:g}T", f"{sid}/{name}", source)))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(lambda job: write_nifti(job[0], folder / job[1], dtype=job[2]), jobs))
    return [job[3] for job in jobs]


def cohort_parameters(seed: int, spacing: float, fields: Sequence[float], contrasts: Sequence[str],
                      subjects: list[PhantomSubject]) -> dict:
    return {
        "seed": seed,
        "spacing_mm": spacing,
        "fields_T": list(fields),
        "contrasts": list(contrasts),
        "ct_noise_hu": CT_NOISE_HU,
        "tissues": tissue_table(list(fields)),
        "nominal_acquisition": {f"{f:g}": nominal_acquisition(f).to_json() for f in fields},
        "subjects": {
            s.subject_id: {
                "anatomy": s.anatomy,
                "shape": asdict(s.shape_parameters) if s.shape_parameters is not None else None,
                "acquisition": {f"{f:g}": a.to_json() for f, a in s.acquisitions.items()},
            }
            for s in subjects
        },
    }


def simulate_cohort(out: Path, subjects: int, fields: Sequence[float], contrasts: Sequence[str],
                    spacing: float, seed: int, preview: bool = False, overwrite: bool = False, anatomy: str = PROCEDURAL) -> Path:
    """Simulate ``subjects`` subjects into ``out``, their anatomy from ``anatomy`` (``cranial_sct.phantom.sources``);
    return the manifest's path."""
    out = Path(out)
    fields = list(dict.fromkeys(float(f) for f in fields))
    contrasts = list(dict.fromkeys(contrasts))
    source = parse_anatomy(anatomy)
    validate_request(out, subjects, fields, contrasts, spacing, overwrite)
    prepare_folder(out)
    rows: list[ManifestRow] = []
    summaries: list[PhantomSubject] = []
    for index in tqdm(range(subjects), desc="simulate", unit="subject"):
        subject = simulate_subject(subject_seed(seed, index), fields, contrasts, spacing, f"sub-{index:03d}", source, index)
        rows += write_subject(subject, out)
        if preview and index == 0:
            from cranial_sct.phantom.preview import write_preview  # matplotlib only when asked for

            write_preview(subject, out / PREVIEW_PNG)
        subject.mr.clear()  # keep only what tissues.json needs
        subject.fractions = None
        summaries.append(subject)
    with atomic_path(out / TISSUES_JSON) as tmp:
        tmp.write_text(json.dumps(cohort_parameters(seed, spacing, fields, contrasts, summaries), indent=1))
    return write_manifest(rows, out / MANIFEST_NAME)
