"""MR signal equations and field-dependent acquisition (DESIGN 4).

T1w is MPRAGE at and above 0.5 T and spoiled gradient echo below (portable low-field scanners use
short-TR sequences); T2w is fast spin echo; FLAIR is inversion-recovery FSE with TI chosen per field
and per site to null CSF. Inversions are adiabatic (B1-insensitive); excitation and refocusing scale
with the local transmit field B1+. Magnitude images carry Rician noise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from cranial_sct.phantom.tissues import TISSUES, Tissue

CONTRASTS = ("t1w", "t2w", "flair")
INVERSION_EFFICIENCY = 0.96  # adiabatic inversion: Mz -> -0.96 Mz
ANCHOR_FIELDS = np.array([0.064, 1.5, 3.0, 7.0])


@dataclass(frozen=True)
class Sequence:
    """Timing of one contrast. ``readout_pulses``/``echo_spacing_ms`` describe the MPRAGE train."""

    kind: str  # "mprage" | "spgr" | "fse" | "ir_fse"
    tr_ms: float
    te_ms: float
    flip_deg: float = 90.0
    ti_ms: float = 0.0
    echo_spacing_ms: float = 0.0
    readout_pulses: int = 0


# Nominal protocols at the anchor fields (ADNI-like MPRAGE at 1.5/3 T, typical 7 T MPRAGE, Hyperfine-
# like 64 mT timings); other fields interpolate in log(B0). FLAIR TI is recomputed to null CSF.
_ANCHORS = {
    "t1w": [
        Sequence("spgr", tr_ms=30.0, te_ms=5.0, flip_deg=30.0),
        Sequence("mprage", 2400.0, 3.6, 8.0, ti_ms=1000.0, echo_spacing_ms=8.6, readout_pulses=160),
        Sequence("mprage", 2300.0, 2.9, 9.0, ti_ms=900.0, echo_spacing_ms=7.1, readout_pulses=176),
        Sequence("mprage", 3000.0, 2.5, 7.0, ti_ms=1100.0, echo_spacing_ms=7.0, readout_pulses=192),
    ],
    "t2w": [Sequence("fse", 3000.0, 160.0), Sequence("fse", 5000.0, 100.0), Sequence("fse", 5000.0, 95.0),
            Sequence("fse", 6000.0, 70.0)],
    "flair": [Sequence("ir_fse", 4000.0, 150.0), Sequence("ir_fse", 9000.0, 120.0),
              Sequence("ir_fse", 9000.0, 110.0), Sequence("ir_fse", 8000.0, 95.0)],
}
_VOXEL_MM = np.array([[1.6, 1.6, 5.0], [1.0, 1.0, 1.5], [1.0, 1.0, 1.0], [0.8, 0.8, 0.8]])
SNR_PER_TESLA_MM3 = 12.0  # WM SNR per tesla per mm^3 voxel at 1 average (so 1.5 T, 1x1x1.5 mm: 27)


def snr_field_gain(field_t: float) -> float:
    """SNR vs B0: linear up to 3 T, ~B0**1.9 above (DESIGN 4)."""
    return field_t if field_t <= 3.0 else 3.0 * (field_t / 3.0) ** 1.9


@dataclass(frozen=True)
class Acquisition:
    """Everything field-dependent about one simulated scanner."""

    field_t: float
    voxel_mm: tuple[float, float, float]
    averages: int
    snr_native: float  # WM SNR at the native voxel
    b1_cv: float  # transmit inhomogeneity (coefficient of variation in the brain)
    bias_sd: float  # receive bias (std of the log gain)
    sequences: dict[str, Sequence]

    def to_json(self) -> dict:
        return {**asdict(self), "sequences": {k: asdict(v) for k, v in self.sequences.items()}}


def _interp(field_t: float, values) -> np.ndarray:
    x = np.log(np.clip(field_t, ANCHOR_FIELDS[0], ANCHOR_FIELDS[-1]))
    values = np.asarray(values, dtype=float)
    return np.array([np.interp(x, np.log(ANCHOR_FIELDS), values[:, k]) for k in range(values.shape[1])])


def nominal_acquisition(field_t: float) -> Acquisition:
    """The nominal scanner at ``field_t`` (0.01-12 T): voxel, SNR, B1+ and bias, protocols."""
    voxel = tuple(float(v) for v in _interp(field_t, _VOXEL_MM))
    averages = 3 if field_t < 0.5 else 1  # low-field scans trade time for SNR (DESIGN 4)
    snr = SNR_PER_TESLA_MM3 * snr_field_gain(field_t) * float(np.prod(voxel)) * np.sqrt(averages)
    sequences = {}
    for contrast, anchors in _ANCHORS.items():
        numbers = _interp(field_t, [[s.tr_ms, s.te_ms, s.flip_deg, s.ti_ms, s.echo_spacing_ms,
                                     s.readout_pulses] for s in anchors])
        kind = anchors[0 if field_t < 0.5 else 1].kind
        tr, te, flip, ti, esp, pulses = numbers
        sequences[contrast] = Sequence(kind, tr, te, flip, ti, esp, int(round(pulses)))
    sequences["flair"] = with_csf_null(sequences["flair"], field_t)
    return Acquisition(field_t, voxel, averages, float(snr), b1_cv=float(min(0.04 * (field_t / 3.0) ** 2, 0.3)),
                       bias_sd=float(0.06 + 0.02 * min(field_t, 7.0)), sequences=sequences)


def with_csf_null(sequence: Sequence, field_t: float) -> Sequence:
    """Set TI so that CSF's longitudinal magnetisation crosses zero at the excitation."""
    t1 = TISSUES[Tissue.CSF].t1_at(field_t)
    ti = t1 * np.log((1 + INVERSION_EFFICIENCY) / (1 + np.exp(-sequence.tr_ms / t1)))
    return replace(sequence, ti_ms=float(ti))


def site_acquisition(nominal: Acquisition, rng: np.random.Generator) -> Acquisition:
    """Small per-site jitter of TR/TE/TI/flip (a few %); FLAIR TI is re-nulled, then jittered by 0.4 %."""
    def jitter(s: Sequence) -> Sequence:
        j = rng.normal(1.0, [0.03, 0.03, 0.05, 0.02])
        return replace(s, tr_ms=s.tr_ms * j[0], te_ms=s.te_ms * j[1], flip_deg=s.flip_deg * j[2],
                       ti_ms=s.ti_ms * j[3])

    sequences = {k: jitter(s) for k, s in nominal.sequences.items()}
    flair = with_csf_null(sequences["flair"], nominal.field_t)
    sequences["flair"] = replace(flair, ti_ms=flair.ti_ms * rng.normal(1.0, 0.004))
    return replace(nominal, sequences=sequences)


def _mprage_mz(t1: np.ndarray, s: Sequence, flip: np.ndarray) -> np.ndarray:
    """Steady-state Mz/M0 at the k-space centre of an MPRAGE train (centric in the train).

    Per TR: inversion, recovery for TA, n readout pulses (alpha, spacing tau), recovery for TD.
    Solving the steady state of that cycle in closed form (as in Deichmann et al., MRM 2000).
    """
    tau, n = s.echo_spacing_ms, s.readout_pulses
    half = n / 2 * tau
    ta, td = np.maximum(s.ti_ms - half, 0.0), np.maximum(s.tr_ms - s.ti_ms - half, 0.0)
    e_tau, e_a, e_d = np.exp(-tau / t1), np.exp(-ta / t1), np.exp(-td / t1)
    decay = np.cos(flip) * e_tau
    m_train = (1 - e_tau) / (1 - decay)  # what the readout train drives Mz towards
    q = decay**n
    m_before_inversion = ((1 - e_d) + e_d * m_train * (1 - q) + e_d * q * (1 - e_a)) / (
        1 + e_d * q * INVERSION_EFFICIENCY * e_a)
    m_start = 1 - (1 + INVERSION_EFFICIENCY * m_before_inversion) * e_a
    return m_train + (m_start - m_train) * decay ** (n / 2)


def signal(s: Sequence, t1: np.ndarray, t2: np.ndarray, pd: np.ndarray, b1: np.ndarray | float) -> np.ndarray:
    """Magnitude signal (units of fully relaxed M0) of tissue with these parameters under sequence s."""
    t2_decay = np.exp(-s.te_ms / t2)
    if s.kind in ("spgr", "mprage"):
        flip = np.deg2rad(s.flip_deg) * b1
        if s.kind == "spgr":
            e1 = np.exp(-s.tr_ms / t1)
            mz = (1 - e1) / (1 - np.cos(flip) * e1)
        else:
            mz = _mprage_mz(t1, s, flip)
        return pd * np.abs(mz) * np.sin(flip) * t2_decay
    spin_echo = np.sin(np.pi / 2 * b1) ** 3  # excitation x refocusing efficiency
    if s.kind == "fse":
        mz = 1 - np.exp(-s.tr_ms / t1)
    else:
        mz = 1 - (1 + INVERSION_EFFICIENCY) * np.exp(-s.ti_ms / t1) + np.exp(-s.tr_ms / t1)
    return pd * np.abs(mz) * spin_echo * t2_decay


def tissue_signal(tissue: Tissue, s: Sequence, field_t: float, b1: float = 1.0) -> float:
    """Nominal (no variation, no noise) signal of one tissue: the physics tests' reference."""
    props = TISSUES[tissue]
    return float(signal(s, np.float64(props.t1_at(field_t)), np.float64(props.t2_at(field_t)),
                        np.float64(props.pd), b1))
