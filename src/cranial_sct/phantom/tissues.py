"""The phantom's tissue classes and their physical parameters at any field strength.

Every number cites /work/shared/DESIGN.md section 4 ("DESIGN 4") or states the assumption behind it.
T1 follows a power law T1 = A * B0**b per tissue (Bottomley et al., Med Phys 1984): A and b are fitted
in log-log space through the measured points, so 0.064 T values are extrapolations. T2 is interpolated
linearly in log(B0) between measured points and extrapolated from the nearest segment, because T2 is
measured to shorten with field (DESIGN 4, PMID 20593370) but has no agreed power law.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Tissue(IntEnum):
    """Label values written to ``labels.nii.gz``."""

    BACKGROUND = 0  # air outside the head
    SKIN = 1
    FAT = 2  # subcutaneous fat
    MUSCLE = 3  # temporalis, face and neck muscle, galea
    OUTER_TABLE = 4  # cortical bone of the vault
    DIPLOE = 5  # marrow between the tables (also vertebral and mandibular marrow)
    INNER_TABLE = 6
    PETROUS = 7  # dense petrous bone
    BONE = 8  # other cortical bone: skull base walls, orbits, sinus walls, palate, septa, vertebrae
    CSF = 9  # subarachnoid, sulcal, cisternal and ventricular
    GM = 10  # cerebral and cerebellar cortex
    WM = 11  # cerebral and cerebellar white matter, brainstem
    DEEP_GM = 12  # caudate, putamen, pallidum, thalamus
    EYE = 13  # vitreous
    ORBITAL_FAT = 14
    SINUS = 15  # paranasal sinuses, nasal cavity and pharynx (air)
    MASTOID = 16  # mastoid and ethmoid air cells (air; their septa are BONE)


AIR_TISSUES = (Tissue.BACKGROUND, Tissue.SINUS, Tissue.MASTOID)
BONE_TISSUES = (Tissue.OUTER_TABLE, Tissue.DIPLOE, Tissue.INNER_TABLE, Tissue.PETROUS, Tissue.BONE)


class ThreeClass(IntEnum):
    """Stage-1 morphology classes (DESIGN 3)."""

    AIR = 0
    SOFT = 1
    BONE = 2


def three_class_map(labels: np.ndarray) -> np.ndarray:
    """Map tissue labels to {air, soft tissue, bone} (uint8), the cascade's stage-1 target."""
    lookup = np.full(len(Tissue), ThreeClass.SOFT, dtype=np.uint8)
    lookup[list(AIR_TISSUES)] = ThreeClass.AIR
    lookup[list(BONE_TISSUES)] = ThreeClass.BONE
    return lookup[np.asarray(labels, dtype=np.intp)]


@dataclass(frozen=True)
class TissueProperties:
    """Relaxation, proton density and CT number of one tissue.

    ``t1_ms``/``t2_ms`` map field (T) -> measured value; ``t1_exponent`` is used when only one T1
    point is known. ``*_cv`` are within-tissue coefficients of variation (smooth spatial fields).
    """

    t1_ms: dict[float, float]
    t2_ms: dict[float, float]
    pd: float
    hu: float
    hu_sd: float
    hu_range: tuple[float, float]
    source: str
    t1_exponent: float | None = None
    t1_cv: float = 0.03
    t2_cv: float = 0.03
    pd_cv: float = 0.02

    def t1_power_law(self) -> tuple[float, float]:
        """(A, b) of T1 = A * B0**b."""
        fields = np.array(sorted(self.t1_ms))
        values = np.array([self.t1_ms[f] for f in fields])
        if len(fields) == 1:
            if self.t1_exponent is None:
                raise ValueError("one T1 point needs an explicit t1_exponent")
            b = self.t1_exponent
        else:
            b = float(np.polyfit(np.log(fields), np.log(values), 1)[0])
        a = float(np.exp(np.mean(np.log(values) - b * np.log(fields))))
        return a, b

    def t1_at(self, field_t: float) -> float:
        a, b = self.t1_power_law()
        return a * field_t**b

    def t2_at(self, field_t: float) -> float:
        fields = np.log(sorted(self.t2_ms))
        values = np.array([self.t2_ms[f] for f in sorted(self.t2_ms)])
        x = np.log(field_t)
        if len(fields) == 1:
            return float(values[0])
        if x <= fields[0]:
            lo, hi = 0, 1
        elif x >= fields[-1]:
            lo, hi = len(fields) - 2, len(fields) - 1
        else:
            return float(np.interp(x, fields, values))
        slope = (values[hi] - values[lo]) / (fields[hi] - fields[lo])
        return float(values[lo] + slope * (x - fields[lo]))


_AIR = TissueProperties({1.5: 1.0}, {1.5: 1.0}, pd=0.0, hu=-1000, hu_sd=5, hu_range=(-1024, -950),
                        source="air: no signal (DESIGN 4); HU -1000 (DESIGN 4)", t1_exponent=0.0)
# Cortical bone: ~20-25 % water, bound-water T2 ~0.4 ms, dark on every sequence (DESIGN 4).
# T1 of bone water ~250 ms at 1.5 T (assumed, exponent as soft tissue); it hardly matters since T2 kills it.
_CORTICAL = dict(t1_ms={1.5: 250.0}, t1_exponent=0.3, t2_ms={1.5: 0.4}, pd=0.2, t2_cv=0.0)
_FAT_MR = dict(t1_ms={1.5: 270.0, 3.0: 330.0}, t2_ms={1.5: 75.0, 3.0: 68.0, 7.0: 60.0}, pd=0.9)
_FAT_SOURCE = "fat/scalp T1 ~250-350 ms, T2 ~60-80 ms (DESIGN 4); HU -100..-50 (DESIGN 4)"

TISSUES: dict[Tissue, TissueProperties] = {
    Tissue.BACKGROUND: _AIR,
    Tissue.SKIN: TissueProperties(
        {1.5: 800.0}, {1.5: 40.0, 3.0: 36.0, 7.0: 30.0}, pd=0.75, hu=40, hu_sd=8, hu_range=(0, 90),
        t1_exponent=0.33,
        source="dermis assumed muscle-like (DESIGN 4 muscle T1 ~900, T2 ~45 ms); HU as soft tissue"),
    Tissue.FAT: TissueProperties(**_FAT_MR, hu=-90, hu_sd=10, hu_range=(-130, -40), source=_FAT_SOURCE),
    Tissue.MUSCLE: TissueProperties(
        {1.5: 900.0}, {1.5: 45.0, 3.0: 42.0, 7.0: 35.0}, pd=0.75, hu=50, hu_sd=8, hu_range=(20, 80),
        t1_exponent=0.33,
        source="muscle T1 ~900 ms, T2 ~45 ms (DESIGN 4); exponent typical of Bottomley 1984; HU 40-60"),
    Tissue.OUTER_TABLE: TissueProperties(
        **_CORTICAL, hu=1600, hu_sd=180, hu_range=(1000, 2000),
        source="cortical bone ~1000-2000 HU, 20-25 % water, T2 ~0.4 ms (DESIGN 4)"),
    Tissue.DIPLOE: TissueProperties(
        {1.5: 350.0}, {1.5: 55.0, 3.0: 50.0, 7.0: 42.0}, pd=0.6, hu=300, hu_sd=70, hu_range=(100, 600),
        t1_exponent=0.25,
        source="fatty marrow, bright on T1w (DESIGN 4); T1 between fat and red marrow (assumed); "
        "cancellous/diploe ~300 HU (DESIGN 4)"),
    Tissue.INNER_TABLE: TissueProperties(
        **_CORTICAL, hu=1600, hu_sd=180, hu_range=(1000, 2000),
        source="cortical bone ~1000-2000 HU, T2 ~0.4 ms (DESIGN 4)"),
    Tissue.PETROUS: TissueProperties(
        **{**_CORTICAL, "pd": 0.15}, hu=1900, hu_sd=80, hu_range=(1500, 2200),
        source="dense petrous bone at the top of the cortical range (DESIGN 4: ~1000-2000 HU)"),
    Tissue.BONE: TissueProperties(
        **_CORTICAL, hu=1400, hu_sd=180, hu_range=(900, 2000),
        source="thin cortical bone of the skull base and face (DESIGN 4: ~1000-2000 HU)"),
    Tissue.CSF: TissueProperties(
        {1.5: 4300.0, 3.0: 4300.0}, {1.5: 1800.0, 3.0: 1600.0, 7.0: 1200.0}, pd=1.0, hu=15, hu_sd=4,
        hu_range=(0, 30), t1_cv=0.005, t2_cv=0.01, pd_cv=0.005,
        source="CSF T1 ~4000-4500 ms, T2 ~1500-2000 ms at 1.5-3 T, HU ~15 (DESIGN 4); "
        "T2 shortening at 7 T assumed"),
    Tissue.GM: TissueProperties(
        {1.5: 1197.0, 3.0: 1607.0, 7.0: 1939.0}, {1.5: 87.0, 3.0: 76.0, 7.0: 47.0}, pd=0.8, hu=40, hu_sd=3,
        hu_range=(33, 48),
        source="GM T1 1197/1607/1939 ms, T2 87/76/47 ms at 1.5/3/7 T (DESIGN 4, PMID 20593370); HU 37-45"),
    Tissue.WM: TissueProperties(
        {1.5: 646.0, 3.0: 838.0, 7.0: 1126.0}, {1.5: 80.0, 3.0: 71.0, 7.0: 47.0}, pd=0.7, hu=25, hu_sd=3,
        hu_range=(18, 33),
        source="WM T1 646/838/1126 ms, T2 80/71/47 ms at 1.5/3/7 T (DESIGN 4, PMID 20593370); HU 20-30"),
    Tissue.DEEP_GM: TissueProperties(
        {1.5: 922.0, 3.0: 1223.0, 7.0: 1533.0}, {1.5: 75.0, 3.0: 65.0, 7.0: 40.0}, pd=0.78, hu=40,
        hu_sd=3, hu_range=(33, 48),
        source="deep GM assumed halfway between WM and GM T1 (DESIGN 4 points), iron-shortened T2; HU as GM"),
    Tissue.EYE: TissueProperties(
        {1.5: 4000.0}, {1.5: 900.0, 3.0: 800.0, 7.0: 600.0}, pd=0.98, hu=10, hu_sd=4, hu_range=(-5, 25),
        t1_exponent=0.02, t1_cv=0.01,
        source="vitreous assumed CSF-like water (DESIGN 4 CSF); HU water-like"),
    Tissue.ORBITAL_FAT: TissueProperties(**_FAT_MR, hu=-90, hu_sd=10, hu_range=(-130, -40),
                                         source=_FAT_SOURCE),
    Tissue.SINUS: _AIR,
    Tissue.MASTOID: _AIR,
}


def tissue_table(fields: list[float]) -> dict[str, dict]:
    """Every tissue parameter at each requested field, for ``tissues.json``."""
    table = {}
    for tissue, props in TISSUES.items():
        a, b = props.t1_power_law()
        table[tissue.name.lower()] = {
            "label": int(tissue),
            "three_class": ThreeClass(three_class_map(np.array([tissue]))[0]).name.lower(),
            "pd": props.pd,
            "hu_mean": props.hu,
            "hu_sd": props.hu_sd,
            "hu_range": list(props.hu_range),
            "t1_power_law": {"A_ms": a, "b": b},
            "t1_ms": {f"{f:g}": props.t1_at(f) for f in fields},
            "t2_ms": {f"{f:g}": props.t2_at(f) for f in fields},
            "cv": {"t1": props.t1_cv, "t2": props.t2_cv, "pd": props.pd_cv},
            "source": props.source,
        }
    return table
