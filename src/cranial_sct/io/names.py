"""File names that carry a field strength and contrast: one place that builds and parses them.

Cohorts (phantom and preprocessed) hold ``mr_<field>T_<contrast>.nii.gz``; predictions are written as
``<kind>_<field>T_<contrasts>.nii.gz`` (kind ``sct``, ``skull``, ``boneprob``, ``uncertainty``...).
``<field>`` is ``f"{tesla:g}"`` (``1.5``, ``0.064``, ``7``) or ``unknown``; ``<contrasts>`` one
contrast or several joined by ``+`` (``t1w+flair``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from cranial_sct.io.sidecar import format_field

NIFTI = ".nii.gz"
_TAGGED = re.compile(r"^(?P<kind>[a-z]+)_(?P<field>[^_]+)T_(?P<contrast>[^.]+)\.nii(\.gz)?$")


def case_tag(field_T: float | str | None, contrasts: str | Sequence[str]) -> str:
    """``<field>T_<contrasts>``: what identifies one MR input of a subject."""
    joined = contrasts if isinstance(contrasts, str) else "+".join(contrasts)
    return f"{format_field(field_T)}T_{joined}"


def mr_stem(field_T: float | str | None, contrast: str) -> str:
    return f"mr_{case_tag(field_T, contrast)}"


def mr_filename(field_T: float | str | None, contrast: str) -> str:
    return mr_stem(field_T, contrast) + NIFTI


def tagged_filename(kind: str, tag: str, suffix: str = NIFTI) -> str:
    """A prediction output's name: ``<kind>_<tag><suffix>``, or ``<kind><suffix>`` for an untagged single case."""
    return f"{kind}_{tag}{suffix}" if tag else f"{kind}{suffix}"


def parse_tagged(name: str) -> tuple[str, str, str] | None:
    """(kind, field, contrasts) of ``<kind>_<field>T_<contrasts>.nii[.gz]``, else None."""
    match = _TAGGED.match(name)
    return (match["kind"], match["field"], match["contrast"]) if match else None


def sibling(path: Path, kind: str) -> Path:
    """Another output of the same case: ``sct_7T_t1w.nii.gz`` -> ``skull_7T_t1w.nii.gz``."""
    parsed = parse_tagged(path.name)
    if parsed is None:
        raise ValueError(f"{path.name}: not a <kind>_<field>T_<contrast> file name")
    return path.with_name(kind + path.name[len(parsed[0]):])
