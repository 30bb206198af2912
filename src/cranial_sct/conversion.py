"""HU to the physical quantities downstream software needs: 511 keV attenuation and electron density.

PET/MR attenuation correction wants the linear attenuation coefficient at 511 keV (cm^-1); dose
calculation wants electron density relative to water. Both are piecewise-linear maps of HU, as is
any scanner calibration a user gives as a CSV (density here, proton stopping power in
``tasks.proton``), read and applied by the one pair of functions below.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cranial_sct.errors import InputError

MU_WATER_511KEV = 0.096  # cm^-1, linear attenuation of water at 511 keV (Carney et al. 2006)


@dataclass(frozen=True)
class BilinearMu:
    """Bilinear HU -> mu(511 keV) of Carney et al., Med Phys 33:976 (2006), Table I.

    Below the break point the voxel is treated as an air-water mixture, mu = 9.6e-5 (HU + 1000);
    above it as a water-bone mixture, mu = a (HU + 1000) + b, with a, b depending on the CT kVp
    because bone's HU depends on the X-ray spectrum while its 511 keV attenuation does not.
    """

    a: float
    b: float
    break_hu: float


CARNEY_2006 = {
    80: BilinearMu(3.64e-5, 6.26e-2, 50),
    100: BilinearMu(4.43e-5, 5.44e-2, 52),
    110: BilinearMu(4.92e-5, 4.88e-2, 43),
    120: BilinearMu(5.10e-5, 4.71e-2, 47),
    130: BilinearMu(5.51e-5, 4.24e-2, 37),
    140: BilinearMu(5.64e-5, 4.08e-2, 30),
}


def hu_to_mu_511kev(hu: np.ndarray, kvp: int = 120) -> np.ndarray:
    """Linear attenuation coefficient at 511 keV in cm^-1 (float32), never negative."""
    if kvp not in CARNEY_2006:
        raise InputError(f"--kvp {kvp}: no bilinear coefficients; use one of {sorted(CARNEY_2006)}")
    params = CARNEY_2006[kvp]
    shifted = np.asarray(hu, dtype=np.float64) + 1000.0
    mu = np.where(
        shifted <= params.break_hu + 1000.0,
        MU_WATER_511KEV / 1000.0 * shifted,
        params.a * shifted + params.b,
    )
    return np.clip(mu, 0.0, None).astype(np.float32)


# A generic HU -> relative electron density curve from typical tissue-substitute values
# (Gammex 467-type inserts: air, adipose, water, brain/soft tissue, inner bone, cortical bone).
# Every CT scanner needs its own calibration; pass it with --density-table.
DEFAULT_DENSITY_TABLE: tuple[tuple[float, float], ...] = (
    (-1000.0, 0.001),
    (-100.0, 0.950),
    (0.0, 1.000),
    (60.0, 1.050),
    (240.0, 1.100),
    (900.0, 1.470),
    (1300.0, 1.690),
    (3071.0, 2.600),
)


def read_density_table(path: str | os.PathLike[str]) -> tuple[tuple[float, float], ...]:
    """Read a two-column CSV (``hu,density``; header optional) with strictly increasing HU."""
    return read_hu_table(path, "density")


def read_hu_table(path: str | os.PathLike[str], quantity: str) -> tuple[tuple[float, float], ...]:
    """Read a scanner calibration, a two-column CSV ``hu,<quantity>`` (header optional), HU strictly increasing."""
    path = Path(path)
    try:
        with open(path, newline="") as handle:
            rows = [row for row in csv.reader(handle) if row and not row[0].strip().startswith("#")]
    except OSError as error:
        raise InputError(f"{path}: cannot read {quantity} table ({error.strerror})") from error
    if rows and not _is_number(rows[0][0]):
        rows = rows[1:]
    try:
        table = tuple((float(r[0]), float(r[1])) for r in rows)
    except (ValueError, IndexError) as error:
        raise InputError(f"{path}: {quantity} table rows must be 'hu,{quantity}' numbers") from error
    hus = [hu for hu, _ in table]
    if len(table) < 2 or any(b <= a for a, b in zip(hus, hus[1:])):
        raise InputError(f"{path}: {quantity} table needs at least 2 rows with strictly increasing HU")
    return table


def interpolate_hu_table(hu: np.ndarray, table: tuple[tuple[float, float], ...]) -> np.ndarray:
    """A piecewise-linear calibration applied to HU (float32), clamped at the table's ends."""
    points = np.asarray(table, dtype=np.float64)
    return np.interp(np.asarray(hu, np.float64), points[:, 0], points[:, 1]).astype(np.float32)


def hu_to_relative_electron_density(
    hu: np.ndarray, table: tuple[tuple[float, float], ...] = DEFAULT_DENSITY_TABLE
) -> np.ndarray:
    """Relative electron density (water = 1) by linear interpolation in ``table``, clamped at its ends."""
    return interpolate_hu_table(hu, table)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
