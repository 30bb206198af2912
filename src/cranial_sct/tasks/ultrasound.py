"""Transcranial focused ultrasound: acoustic maps from HU and a focused transducer through the skull.

Maps: the porosity model of Aubry et al., "Experimental demonstration of noninvasive transskull
adaptive focusing based on prior computed tomography scans", JASA 113:84 (2003), the CT mapping of
the ITRUSST benchmark (Aubry et al., "Benchmark problems for transcranial ultrasound simulation",
JASA 152:1003, 2022). Porosity phi = 1 - HU / 1000 (clipped to [0, 1]); sound speed and density mix
water and bone linearly in phi; inside bone (HU above the 300 HU bone threshold) the attenuation is
a_min + (a_max - a_min) phi^0.5 at 1 MHz, scaled linearly with frequency; elsewhere it is water's
(zero). Air cells and tissue below 0 HU count as water, the coupling medium.

Simulation: a 2-D axial slice through the target, because a 3-D run of a head at a quarter
wavelength does not fit the CPU budget of an evaluation (about 5 s per 2-D run against hours in 3-D).
A 2-D arc transducer (+-30 degrees, focused on the target, placed a stand-off outside the skin) emits a
continuous wave, simulated with jwave's k-space pseudo-spectral time-domain solver (the k-Wave scheme)
on a grid of a quarter of the water wavelength; the steady-state amplitude is read over the last
periods. jwave 0.2's time-domain solver models sound speed and density but has no absorption term,
so the attenuation map is written for other tools (k-Wave, k-Plan, BabelBrain) but not simulated:
the focal figures show the skull's refraction and reflection, not its absorption.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from cranial_sct.errors import InputError
from cranial_sct.hounsfield import BONE_THRESHOLD_HU, HU_AIR

WATER_SOUND_SPEED = 1500.0  # m/s
WATER_DENSITY = 1000.0  # kg/m^3
BONE_SOUND_SPEED = 2900.0  # m/s, porosity 0 (Aubry et al. 2003)
BONE_DENSITY = 2200.0  # kg/m^3, porosity 0 (Aubry et al. 2003)
ATTENUATION_MIN = 2.0  # dB/cm at 1 MHz, dense bone (Aubry et al. 2003: 0.2 dB/mm)
ATTENUATION_MAX = 80.0  # dB/cm at 1 MHz, fully porous bone (Aubry et al. 2003: 8 dB/mm)
ATTENUATION_EXPONENT = 0.5
POROSITY_SCALE_HU = 1000.0  # phi = 1 - HU / 1000
DEFAULT_FREQUENCY_MHZ = 0.5  # the ITRUSST benchmark's frequency
APERTURE_HALF_ANGLE = np.deg2rad(30.0)
STANDOFF_MM = 10.0  # water between the skin and the transducer's nearest point
CFL = 0.3
RECORDED_PERIODS = 4
SETTLING_PERIODS = 10  # after the first arrival at the far edge: ramp-up and skull reverberation
PML_POINTS = 16
FOCAL_LEVEL = 0.5  # -6 dB of pressure amplitude
FOCUS_MARGIN_MM = 5.0  # the focus is searched this far inside the skull: not in the standing waves on the inner table
SOURCE_SMOOTHING = 1.0  # grid points (Gaussian sigma): a band-limited arc, not a row of points ringing at the grid's Nyquist
TARGET_NAMES = ("cortical", "deep")
METRIC_NAMES = tuple(f"us_{t}_{m}" for t in TARGET_NAMES for m in ("pressure_diff_pct", "shift_mm", "area_diff_pct"))
UNITS = {"sound_speed": "m/s", "acoustic_density": "kg/m^3", "attenuation": "dB/cm"}  # by output file name
MODEL = ("porosity model of Aubry et al., JASA 113:84 (2003), as in the ITRUSST benchmark (Aubry et al., JASA 152:1003, 2022): "
         "phi = 1 - HU/1000; c and rho mix water and bone in phi; bone attenuation a_min + (a_max - a_min) phi^0.5, linear in frequency")


@dataclass(frozen=True)
class AcousticMaps:
    """Speed of sound (m/s), density (kg/m^3) and attenuation (dB/cm at ``frequency_mhz``), float32."""

    sound_speed: np.ndarray
    density: np.ndarray
    attenuation: np.ndarray
    frequency_mhz: float

    def arrays(self) -> dict[str, np.ndarray]:
        """The maps by output file name (``UNITS``'s keys)."""
        return dict(zip(UNITS, (self.sound_speed, self.density, self.attenuation)))


def acoustic_sidecar(name: str, frequency_mhz: float) -> dict[str, object]:
    """What a simulation tool needs to read one map: its quantity, units, frequency and model."""
    return {"Quantity": name, "Units": UNITS[name], "FrequencyMHz": frequency_mhz, "Model": MODEL,
            "Constants": {"water_sound_speed_m_s": WATER_SOUND_SPEED, "water_density_kg_m3": WATER_DENSITY,
                          "bone_sound_speed_m_s": BONE_SOUND_SPEED, "bone_density_kg_m3": BONE_DENSITY,
                          "attenuation_min_db_cm_mhz": ATTENUATION_MIN, "attenuation_max_db_cm_mhz": ATTENUATION_MAX,
                          "attenuation_exponent": ATTENUATION_EXPONENT, "porosity_scale_hu": POROSITY_SCALE_HU,
                          "bone_threshold_hu": BONE_THRESHOLD_HU}}


def porosity(hu: np.ndarray) -> np.ndarray:
    """Aubry's porosity: 1 for water and anything less dense, 0 at 1000 HU and above."""
    return np.clip(1.0 - np.asarray(hu, np.float64) / POROSITY_SCALE_HU, 0.0, 1.0)


def check_frequency(frequency_mhz: float) -> float:
    """``--frequency`` in MHz, refusing what no transcranial transducer uses (0 to 10 MHz)."""
    if not 0 < frequency_mhz <= 10:
        raise InputError(f"--frequency {frequency_mhz:g}: must be in MHz, above 0 and at most 10")
    return frequency_mhz


def hu_to_acoustic(hu: np.ndarray, frequency_mhz: float = DEFAULT_FREQUENCY_MHZ) -> AcousticMaps:
    """The porosity model's maps at ``frequency_mhz`` (see the module docstring)."""
    check_frequency(frequency_mhz)
    phi = porosity(hu)
    bone = np.asarray(hu) > BONE_THRESHOLD_HU
    attenuation = np.where(bone, ATTENUATION_MIN + (ATTENUATION_MAX - ATTENUATION_MIN) * phi**ATTENUATION_EXPONENT, 0.0)
    return AcousticMaps(
        (WATER_SOUND_SPEED * phi + BONE_SOUND_SPEED * (1 - phi)).astype(np.float32),
        (WATER_DENSITY * phi + BONE_DENSITY * (1 - phi)).astype(np.float32),
        (attenuation * frequency_mhz).astype(np.float32),
        frequency_mhz,
    )


@dataclass(frozen=True)
class Setup:
    """A 2-D simulation: the grid (origin and step in the slice's mm), the transducer and the target."""

    origin_mm: np.ndarray
    step_mm: float
    shape: tuple[int, int]
    source: np.ndarray  # the transducer's arc on the grid, smoothed (weights)
    target_mm: np.ndarray
    radius_mm: float  # the arc's radius: the focal length
    frequency_mhz: float

    def points_mm(self) -> np.ndarray:
        """The grid's points in the slice's mm, shape (*shape, 2)."""
        index = np.indices(self.shape).transpose(1, 2, 0).astype(np.float64)
        return self.origin_mm + index * self.step_mm


def _surface_distance_mm(head: np.ndarray, spacing: np.ndarray, target_mm: np.ndarray, direction: np.ndarray) -> float:
    """How far the head reaches from the target along ``direction`` (mm), marching in half-voxel steps."""
    step = spacing.min() / 2
    distances = np.arange(int(np.linalg.norm(np.asarray(head.shape) * spacing) / step)) * step
    points = (target_mm[None, :] + distances[:, None] * direction[None, :]) / spacing
    inside = ndimage.map_coordinates(head.astype(np.float32), points.T, order=0, mode="constant", cval=0.0) > 0
    return float(distances[np.flatnonzero(inside)[-1]]) if inside.any() else 0.0


def transducer_setup(head: np.ndarray, spacing: Sequence[float], target: Sequence[float], direction: Sequence[float],
                     frequency_mhz: float = DEFAULT_FREQUENCY_MHZ) -> Setup:
    """An arc focused on ``target`` (voxel coordinates of the slice) from ``direction`` (towards the
    transducer), its radius the farthest skin point within the aperture plus ``STANDOFF_MM``; the grid
    a quarter water wavelength, covering the arc, the target and the focal zone behind it."""
    spacing = np.asarray(spacing, np.float64)
    target_mm = np.asarray(target, np.float64) * spacing
    direction = np.asarray(direction, np.float64) / np.linalg.norm(direction)
    angles = np.linspace(-APERTURE_HALF_ANGLE, APERTURE_HALF_ANGLE, 61)
    rotation = lambda a: np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])  # noqa: E731
    rays = np.array([rotation(a) @ direction for a in angles])
    radius = max(_surface_distance_mm(head, spacing, target_mm, ray) for ray in rays) + STANDOFF_MM
    step = WATER_SOUND_SPEED / (frequency_mhz * 1e6) / 4 * 1e3
    wavelength = 4 * step
    corners = np.vstack([target_mm + radius * rays, target_mm - 4 * wavelength * direction])
    margin = (PML_POINTS + 4) * step
    origin = corners.min(axis=0) - margin
    shape = tuple(int(n) for n in np.ceil((corners.max(axis=0) + margin - origin) / step) + 1)
    arc = np.array([rotation(a) @ direction for a in np.linspace(-APERTURE_HALF_ANGLE, APERTURE_HALF_ANGLE, 8 * len(angles))])
    pixels = np.rint((target_mm + radius * arc - origin) / step).astype(int)
    source = np.zeros(shape)
    source[pixels[:, 0], pixels[:, 1]] = 1.0
    source = ndimage.gaussian_filter(source, SOURCE_SMOOTHING)
    return Setup(origin, step, shape, source, target_mm, radius, frequency_mhz)


def on_grid(image: np.ndarray, spacing: Sequence[float], setup: Setup, order: int, outside: float) -> np.ndarray:
    """A slice image sampled at the simulation grid's points (``order`` 1: linear, 0: nearest)."""
    points = setup.points_mm() / np.asarray(spacing, np.float64)
    return ndimage.map_coordinates(np.asarray(image, np.float64), points.reshape(-1, 2).T, order=order, mode="constant",
                                   cval=outside).reshape(setup.shape)


def require_solver():
    """jwave's pieces this module uses, or a one-line error saying how to install them."""
    try:
        import jax  # noqa: F401
        from jwave import FourierSeries
        from jwave.acoustics.time_varying import simulate_wave_propagation
        from jwave.geometry import Domain, DistributedTransducer, Medium, TimeAxis
    except ImportError as error:
        raise InputError("--task ultrasound needs the jwave solver: pip install 'cranial-sct[ultrasound]'") from error
    return FourierSeries, simulate_wave_propagation, Domain, DistributedTransducer, Medium, TimeAxis


def pressure_amplitudes(hu_slices: Sequence[np.ndarray], spacing: Sequence[float], setup: Setup) -> list[np.ndarray]:
    """Steady-state pressure amplitude on the setup's grid for each slice (arbitrary units, the same
    for every slice of one setup), its HU mapped by ``hu_to_acoustic`` and simulated with jwave; the
    solver is compiled once per setup."""
    import jax
    import jax.numpy as jnp

    FourierSeries, simulate, Domain, DistributedTransducer, Medium, TimeAxis = require_solver()
    step_m, frequency = setup.step_mm * 1e-3, setup.frequency_mhz * 1e6
    domain = Domain(setup.shape, (step_m, step_m))
    field = lambda a: FourierSeries(jnp.asarray(a, jnp.float32)[..., None], domain)  # noqa: E731
    per_period = int(np.ceil(1.0 / (frequency * CFL * step_m / BONE_SOUND_SPEED)))  # whole steps per period
    dt = 1.0 / (frequency * per_period)
    crossing = np.hypot(*setup.shape) * step_m / WATER_SOUND_SPEED
    periods = int(np.ceil(crossing * frequency)) + SETTLING_PERIODS + RECORDED_PERIODS
    time_axis = TimeAxis(dt=dt, t_end=periods * per_period * dt)
    t = np.arange(int(time_axis.Nt)) * dt
    signal = np.sin(2 * np.pi * frequency * t) * np.minimum(t * frequency / 2, 1.0)  # two-period ramp
    source = DistributedTransducer(field(setup.source), jnp.asarray(signal, jnp.float32), dt, domain)
    run = jax.jit(lambda m: simulate(m, time_axis, sources=source, sensors=lambda p, u, rho: p.on_grid[..., 0]))
    phase = np.exp(-2j * np.pi * frequency * t[-RECORDED_PERIODS * per_period:])
    amplitudes = []
    for hu in hu_slices:
        maps = hu_to_acoustic(on_grid(hu, spacing, setup, 1, HU_AIR), setup.frequency_mhz)
        medium = Medium(domain, sound_speed=field(maps.sound_speed), density=field(maps.density), pml_size=PML_POINTS)
        recorded = np.asarray(run(medium))[-len(phase):]
        amplitudes.append(2.0 / len(phase) * np.abs(np.tensordot(phase, recorded, axes=(0, 0))))
    return amplitudes


@dataclass(frozen=True)
class Focus:
    """The focal spot within the region searched: peak amplitude, its position (mm) and -6 dB area (mm^2)."""

    pressure: float
    position_mm: np.ndarray
    area_mm2: float


def focus(amplitude: np.ndarray, region: np.ndarray, setup: Setup) -> Focus:
    """Peak of the amplitude inside ``region`` and the connected area around it above half the peak."""
    inside = np.where(region, amplitude, 0.0)
    peak = np.unravel_index(int(np.argmax(inside)), inside.shape)
    labelled, _ = ndimage.label(inside >= FOCAL_LEVEL * inside[peak])
    area = float(np.count_nonzero(labelled == labelled[peak]) * setup.step_mm**2)
    return Focus(float(inside[peak]), setup.origin_mm + np.asarray(peak) * setup.step_mm, area)


@dataclass(frozen=True)
class TargetResult:
    """CT and sCT foci of one target, with the fields for pictures."""

    name: str
    setup: Setup
    ct: Focus
    sct: Focus
    amplitude_ct: np.ndarray
    amplitude_sct: np.ndarray

    def metrics(self) -> dict[str, float]:
        values = (100 * (self.sct.pressure / self.ct.pressure - 1), np.linalg.norm(self.sct.position_mm - self.ct.position_mm),
                  100 * (self.sct.area_mm2 / self.ct.area_mm2 - 1))
        names = [n for n in METRIC_NAMES if n.startswith(f"us_{self.name}_")]
        return {name: float(value) for name, value in zip(names, values)}


def simulate_target(name: str, ct_slice: np.ndarray, sct_slice: np.ndarray, head: np.ndarray, cavity: np.ndarray,
                    spacing: Sequence[float], target: Sequence[float], direction: Sequence[float],
                    frequency_mhz: float = DEFAULT_FREQUENCY_MHZ) -> TargetResult:
    """Focus the same transducer on ``target`` through the CT's and the sCT's skull; the focus is
    searched inside the reference cavity at least ``FOCUS_MARGIN_MM`` from its wall."""
    setup = transducer_setup(head, spacing, target, direction, frequency_mhz)
    depth = ndimage.distance_transform_edt(on_grid(cavity, spacing, setup, 0, 0.0) > 0.5, sampling=setup.step_mm)
    region = depth >= FOCUS_MARGIN_MM
    amplitudes = pressure_amplitudes([ct_slice, sct_slice], spacing, setup)
    foci = [focus(a, region, setup) for a in amplitudes]
    return TargetResult(name, setup, *foci, *amplitudes)
