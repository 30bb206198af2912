"""Run the chosen tasks on one case: the reference CT's anatomy once, then each task's figures.

``evaluation`` calls ``measure_tasks`` per case and adds the returned figures to the case's row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cranial_sct.errors import InputError
from cranial_sct.tasks import geometry, pet, proton, ultrasound

TASKS = ("proton", "pet", "ultrasound")
METRIC_NAMES = {"proton": proton.METRIC_NAMES, "pet": pet.METRIC_NAMES, "ultrasound": ultrasound.METRIC_NAMES}


def parse_tasks(text: str | Sequence[str]) -> tuple[str, ...]:
    """``proton,pet`` -> ("proton", "pet") in the canonical order; an unknown name is a user error."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    unknown = [n for n in names if n not in TASKS]
    if unknown:
        raise InputError(f"--task {','.join(unknown)}: unknown; choose from {','.join(TASKS)}")
    return tuple(t for t in TASKS if t in names)


def metric_names(tasks: Sequence[str]) -> list[str]:
    return [name for task in tasks for name in METRIC_NAMES[task]]


@dataclass(frozen=True)
class TaskSettings:
    """What the tasks need beyond the images: which tasks and each one's calibration."""

    tasks: tuple[str, ...] = ()
    rsp_table: tuple[tuple[float, float], ...] = proton.SCHNEIDER_1996_RSP
    kvp: int = 120
    frequency_mhz: float = ultrasound.DEFAULT_FREQUENCY_MHZ

    def record(self) -> dict[str, object]:
        """The settings as JSON values (a changed setting means a case must be measured again)."""
        return {"tasks": list(self.tasks), "rsp_table": [list(r) for r in self.rsp_table], "kvp": self.kvp,
                "frequency_mhz": self.frequency_mhz}


@dataclass(frozen=True)
class Anatomy:
    """The reference CT's geometry the tasks aim at: superior axis, head, intracranial cavity, regions."""

    axis: int
    head: np.ndarray
    cavity: np.ndarray
    regions: dict[str, np.ndarray] | None = None


def reference_anatomy(ct: np.ndarray, inside: np.ndarray, affine: np.ndarray, spacing: Sequence[float], bone_threshold_hu: float,
                      labels: np.ndarray | None = None) -> Anatomy:
    """Cavity from the CT's bone; brain regions from tissue labels when there are some."""
    axis = geometry.superior_axis(affine)
    cavity = geometry.intracranial_cavity(ct, inside, axis, spacing, bone_threshold_hu)
    if not cavity.any():
        raise InputError("the reference CT's skull encloses no cavity in any axial slice; task metrics need a skull")
    regions = pet.brain_regions(labels, affine) if labels is not None else None
    return Anatomy(axis, inside, cavity, regions)


def ultrasound_targets(anatomy: Anatomy, spacing: Sequence[float]) -> tuple[int, dict[str, np.ndarray], np.ndarray]:
    """(axial slice index, 2-D target per name, 2-D direction towards the transducer): the cortical
    target's side of the head, level with the cavity's centroid."""
    deep = geometry.deep_target(anatomy.cavity)
    cortical = geometry.cortical_target(anatomy.cavity, spacing, anatomy.axis)
    in_plane = [a for a in range(3) if a != anatomy.axis]
    direction = (cortical - deep)[in_plane]
    return int(round(deep[anatomy.axis])), {"cortical": cortical[in_plane], "deep": deep[in_plane]}, direction


def simulate_ultrasound(ct: np.ndarray, sct: np.ndarray, spacing: Sequence[float], anatomy: Anatomy,
                        frequency_mhz: float) -> list[ultrasound.TargetResult]:
    """Both targets of ``ultrasound_targets`` simulated through the CT's and the sCT's skull."""
    index, targets, direction = ultrasound_targets(anatomy, spacing)
    take = lambda a: np.take(a, index, axis=anatomy.axis)  # noqa: E731
    in_plane = [s for a, s in enumerate(spacing) if a != anatomy.axis]
    return [ultrasound.simulate_target(name, take(ct), take(sct), take(anatomy.head), take(anatomy.cavity), in_plane, target,
                                       direction, frequency_mhz) for name, target in targets.items()]


def measure_tasks(settings: TaskSettings, ct: np.ndarray, sct: np.ndarray, spacing: Sequence[float], anatomy: Anatomy) -> dict[str, float]:
    """Every chosen task's figures for one case (sCT against CT on one grid)."""
    row: dict[str, float] = {}
    if "proton" in settings.tasks:
        row.update(proton.proton_ranges(ct, sct, spacing, anatomy.cavity, anatomy.axis, settings.rsp_table).metrics())
    if "pet" in settings.tasks:
        row.update(pet.pet_attenuation(ct, sct, spacing, anatomy.cavity, anatomy.axis, anatomy.regions, settings.kvp).metrics())
    if "ultrasound" in settings.tasks:
        for result in simulate_ultrasound(ct, sct, spacing, anatomy, settings.frequency_mhz):
            row.update(result.metrics())
    return row
