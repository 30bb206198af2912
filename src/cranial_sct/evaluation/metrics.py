"""sCT metrics exactly as the field reports them (DESIGN.md section 5), one case at a time.

Two image presets reproduce the SynthRAD challenges' published numbers: ``synthrad2023`` (MAE, ME,
PSNR, masked SSIM) and ``synthrad2025`` (MAE, ME, PSNR, masked MS-SSIM). On top of them: skull
Dice/Jaccard/HD95 against CT bone, MAE per tissue region of the reference CT, and the relative error
of the 511 keV attenuation map. ``CaseMetrics`` accumulates one row per case and aggregates them
(MONAI's accumulate/aggregate pattern, without torch tensors).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import uniform_filter
from scipy.signal import fftconvolve
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity
from skimage.util import crop

from cranial_sct.conversion import hu_to_mu_511kev
from cranial_sct.evaluation.regions import REGIONS, head_regions
from cranial_sct.evaluation.statistics import summarise
from cranial_sct.hounsfield import AIR_BELOW_HU, BONE_THRESHOLD_HU, HU_MAX
from cranial_sct.hounsfield import HU_MIN as HU_FLOOR  # SynthRAD's lower clip and the value given to voxels outside the mask

SSIM_BORDER = 3  # (7 - 1) // 2: skimage's window radius, the border its own mean SSIM excludes
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # Wang et al. 2003, Eq. 7
MS_SSIM_MIN_SIZE = 97  # the SynthRAD2025 code edge-pads every axis to this so 5 levels fit


def _binary(mask: np.ndarray) -> np.ndarray:
    return np.asarray(mask) > 0


def mae(ct: np.ndarray, sct: np.ndarray, mask: np.ndarray) -> float:
    """Mean absolute error in HU over the mask, no clipping (SynthRAD2023)."""
    m = _binary(mask)
    return float(np.abs(ct[m].astype(np.float64) - sct[m]).mean())


def mean_error(ct: np.ndarray, sct: np.ndarray, mask: np.ndarray) -> float:
    """Mean signed error sCT - CT in HU over the mask: positive means the sCT is too dense."""
    m = _binary(mask)
    return float((sct[m].astype(np.float64) - ct[m]).mean())


def psnr(ct: np.ndarray, sct: np.ndarray, mask: np.ndarray, hu_max: float) -> float:
    """PSNR in dB over mask voxels after clipping both to [-1024, hu_max]; peak = hu_max + 1024."""
    m = _binary(mask)
    ct_m, sct_m = (np.clip(np.asarray(a, np.float64)[m], HU_FLOOR, hu_max) for a in (ct, sct))
    mse = float(np.mean((ct_m - sct_m) ** 2))
    return float(10.0 * np.log10((hu_max - HU_FLOOR) ** 2 / mse)) if mse > 0 else float("inf")


def _shifted_and_masked(volume: np.ndarray, mask: np.ndarray, hu_max: float) -> np.ndarray:
    """Clip to [-1024, hu_max], set outside-mask voxels to -1024, then add 1024 (so air is 0)."""
    clipped = np.clip(np.asarray(volume, np.float64), HU_FLOOR, hu_max)
    return np.where(_binary(mask), clipped, HU_FLOOR) - HU_FLOOR


def _masked_mean_inside_border(ssim_map: np.ndarray, mask: np.ndarray) -> float:
    """Average of the SSIM map over mask voxels, ignoring a 3-voxel border of the volume."""
    inside = crop(_binary(mask), SSIM_BORDER)
    if not inside.any():
        return float("nan")
    return float(crop(ssim_map, SSIM_BORDER)[inside].mean(dtype=np.float64))


def ssim_synthrad2023(ct: np.ndarray, sct: np.ndarray, mask: np.ndarray) -> float:
    """Masked SSIM of SynthRAD2023: skimage's default 7^3 uniform window, data range 4024."""
    hu_max = 3000.0
    _, ssim_map = structural_similarity(
        _shifted_and_masked(ct, mask, hu_max),
        _shifted_and_masked(sct, mask, hu_max),
        data_range=hu_max - HU_FLOOR,
        full=True,
    )
    return _masked_mean_inside_border(ssim_map, mask)


def _weighted_ssim_map(x: np.ndarray, y: np.ndarray, data_range: float, weight: float) -> np.ndarray:
    """SSIM map with luminance, contrast and structure each clipped at 0 and raised to ``weight``.

    skimage returns only the product L*C*S, so the components are computed here with the same
    7^3 uniform window and sample covariance as skimage, following the SynthRAD2025 code.
    """
    n_window = 7**x.ndim
    cov_norm = n_window / (n_window - 1)
    ux, uy = uniform_filter(x, 7), uniform_filter(y, 7)
    vx = cov_norm * (uniform_filter(x * x, 7) - ux * ux)
    vy = cov_norm * (uniform_filter(y * y, 7) - uy * uy)
    vxy = cov_norm * (uniform_filter(x * y, 7) - ux * uy)
    sx, sy = np.sqrt(np.clip(vx, 0, None)), np.sqrt(np.clip(vy, 0, None))
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    c3 = c2 / 2
    luminance = np.clip((2 * ux * uy + c1) / (ux * ux + uy * uy + c1), 0, None)
    contrast = np.clip((2 * sx * sy + c2) / (vx + vy + c2), 0, None)
    structure = np.clip((vxy + c3) / (sx * sy + c3), 0, None)
    return (luminance * contrast * structure) ** weight


def ms_ssim_synthrad2025(ct: np.ndarray, sct: np.ndarray, mask: np.ndarray) -> float:
    """Masked 5-level MS-SSIM as computed by the SynthRAD2025 evaluation.

    Follows ``ImageMetrics.ms_ssim`` in github.com/SynthRAD2025/evaluation (image_metrics.py):
    clip to [-1024, 3071], outside mask -> -1024, +1024, data range 4095; edge-pad each axis to 97;
    at each level average the weighted SSIM map over the mask inside a 3-voxel border, then
    downsample the images by a 2x2x2 mean (``fftconvolve`` 'same', every other voxel) and the mask
    by taking every other voxel; result = product of the per-level values clipped to [0, 1].
    That code meant to weight luminance only at the coarsest level, but because it reassigns
    ``scale_weights`` before testing it for None, luminance gets each level's weight at every
    level; we reproduce what it computes, since that is what the published numbers are.
    NaN when the mask leaves no voxel inside the border at some level (a mask only a few voxels big).
    """
    hu_max = HU_MAX
    x, y = _shifted_and_masked(ct, mask, hu_max), _shifted_and_masked(sct, mask, hu_max)
    m = _binary(mask).astype(np.float64)
    short = [max(MS_SSIM_MIN_SIZE - n, 0) for n in x.shape]
    pad = [(k // 2, k - k // 2) for k in short]
    x, y, m = (np.pad(a, pad, mode="edge") for a in (x, y, m))
    box = np.ones((2, 2, 2)) / 8
    level_values = []
    for weight in MS_SSIM_WEIGHTS:
        ssim_map = _weighted_ssim_map(x, y, hu_max - HU_FLOOR, weight)
        level_values.append(_masked_mean_inside_border(ssim_map, m))
        x, y = (fftconvolve(a, box, mode="same")[::2, ::2, ::2] for a in (x, y))
        m = m[::2, ::2, ::2]
    return float(np.prod(np.clip(level_values, 0, 1)))


@dataclass(frozen=True)
class Preset:
    """An image-similarity protocol: clipping ceiling, outside-mask rule and structural metric."""

    name: str
    hu_max: float
    mask_outside: bool  # set voxels outside the mask to -1024 before every metric
    structural_name: str
    structural: Callable[[np.ndarray, np.ndarray, np.ndarray], float]


PRESETS: dict[str, Preset] = {
    "synthrad2023": Preset("synthrad2023", 3000.0, False, "ssim", ssim_synthrad2023),
    "synthrad2025": Preset("synthrad2025", HU_MAX, True, "ms_ssim", ms_ssim_synthrad2025),
}


def image_metrics(ct: np.ndarray, sct: np.ndarray, mask: np.ndarray, preset: Preset) -> dict[str, float]:
    """MAE, ME, PSNR and the preset's structural metric over the head mask.

    MAE and ME are never clipped: the SynthRAD2025 code clips only for PSNR and MS-SSIM, and
    setting outside voxels to -1024 cannot change a mean taken inside the mask.
    """
    if preset.mask_outside:
        inside = _binary(mask)
        ct, sct = (np.where(inside, a, HU_FLOOR) for a in (ct, sct))
    return {
        "mae": mae(ct, sct, mask),
        "me": mean_error(ct, sct, mask),
        "psnr": psnr(ct, sct, mask, preset.hu_max),
        preset.structural_name: preset.structural(ct, sct, mask),
    }


def reference_bone(ct: np.ndarray, mask: np.ndarray, threshold_hu: float) -> np.ndarray:
    """CT bone: HU above ``threshold_hu`` inside the head mask (the skull reference)."""
    return (np.asarray(ct) > threshold_hu) & _binary(mask)


def ct_regions(ct: np.ndarray, mask: np.ndarray, bone_threshold_hu: float) -> dict[str, np.ndarray]:
    """Air (< -400 HU), bone (> threshold) and soft tissue (the rest) inside the head mask."""
    inside = _binary(mask)
    bone = reference_bone(ct, mask, bone_threshold_hu)
    air = (np.asarray(ct) < AIR_BELOW_HU) & inside
    return {"bone": bone, "soft": inside & ~bone & ~air, "air": air}


def region_mae(ct: np.ndarray, sct: np.ndarray, regions: Mapping[str, np.ndarray]) -> dict[str, float]:
    """MAE inside each region; NaN for a region the reference does not contain."""
    return {f"mae_{name}": mae(ct, sct, region) if region.any() else float("nan") for name, region in regions.items()}


def hd95_mm(pred: np.ndarray, ref: np.ndarray, spacing: Sequence[float]) -> float:
    """Symmetric 95th-percentile Hausdorff distance in mm between the two masks' surfaces.

    MONAI's definition: surfaces are the voxels removed by one binary erosion, distances are
    Euclidean in world units (``spacing``), result = max of the two directed 95th percentiles.
    Torch and MONAI are imported here, not with the module: ``report`` and every command's
    error path then start in about a second instead of five.
    """
    import torch
    from monai.metrics import compute_hausdorff_distance

    as_batch = [torch.as_tensor(np.asarray(a, dtype=bool))[None, None] for a in (pred, ref)]
    with warnings.catch_warnings():  # MONAI 1.5+ warns about an argument its own code still passes
        warnings.filterwarnings("ignore", message=".*always_return_as_numpy", category=FutureWarning)
        value = compute_hausdorff_distance(*as_batch, include_background=True, percentile=95, spacing=[float(s) for s in spacing])
    return float(value.item())


def dice(pred: np.ndarray, ref: np.ndarray) -> float:
    """Dice overlap of two masks (NaN when both are empty)."""
    pred, ref = _binary(pred), _binary(ref)
    total = float(pred.sum() + ref.sum())
    return 2 * float(np.logical_and(pred, ref).sum()) / total if total else float("nan")


def skull_overlap(pred: np.ndarray, ref: np.ndarray, spacing: Sequence[float]) -> dict[str, float]:
    """Dice, Jaccard and HD95 (mm) of the predicted skull against CT bone (``ref`` not empty)."""
    overlap = dice(pred, ref)
    return {
        "dice": overlap,
        "jaccard": overlap / (2 - overlap),
        "hd95_mm": hd95_mm(pred, ref, spacing) if _binary(pred).any() else float("nan"),
    }


def regional_scores(ct: np.ndarray, sct: np.ndarray, mask: np.ndarray, skull: np.ndarray, bone: np.ndarray,
                    affine: np.ndarray) -> dict[str, float]:
    """Skull Dice and head MAE on each side of the vault's floor (:mod:`cranial_sct.evaluation.regions`; the plane
    set by the reference ``bone``): ``dice_vault``, ``dice_base``, ``mae_vault``, ``mae_base``. NaN where the
    region holds no head (MAE) or neither skull (Dice)."""
    inside = _binary(mask)
    scores = {}
    for name, region in head_regions(bone, affine).items():
        scores[f"dice_{name}"] = dice(_binary(skull) & region, bone & region)
        scores[f"mae_{name}"] = mae(ct, sct, inside & region) if (inside & region).any() else float("nan")
    return scores


def uncertainty_error_spearman(ct: np.ndarray, sct: np.ndarray, uncertainty: np.ndarray | None, mask: np.ndarray) -> float:
    """Spearman rank correlation of the uncertainty map with |sCT - CT| over the mask: does a high
    uncertainty mark a large error? NaN without an uncertainty map (or a constant one)."""
    if uncertainty is None:
        return float("nan")
    m = _binary(mask)
    spread = np.asarray(uncertainty, np.float64)[m]
    if np.ptp(spread) == 0:
        return float("nan")
    return float(spearmanr(spread, np.abs(np.asarray(sct, np.float64)[m] - ct[m])).statistic)


def mu_relative_error_pct(ct: np.ndarray, sct: np.ndarray, mask: np.ndarray, kvp: int = 120) -> float:
    """Relative L1 error (%) of the 511 keV attenuation map inside the head, sum|dmu| / sum mu_CT.

    Both maps come from the same bilinear HU -> mu conversion (``cranial_sct.conversion``), so the
    figure isolates what the sCT's HU errors do to PET attenuation correction. A ratio of sums,
    not a mean of voxel ratios, because mu is ~0 in air and voxel ratios would explode there.
    """
    m = _binary(mask)
    mu_ct, mu_sct = (hu_to_mu_511kev(a[m], kvp).astype(np.float64) for a in (ct, sct))
    return float(100.0 * np.abs(mu_sct - mu_ct).sum() / mu_ct.sum())


class CaseMetrics:
    """All metrics of one case per call, accumulated as rows; ``aggregate`` summarises them.

    Construct once per evaluation with the protocol, call per case, then aggregate by any keys
    (method, field_T, contrast): the accumulate/aggregate pattern of MONAI's metrics.
    """

    def __init__(self, preset: str = "synthrad2023", bone_threshold_hu: float = BONE_THRESHOLD_HU, mu_map: bool = False, kvp: int = 120):
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        self.preset = PRESETS[preset]
        self.bone_threshold_hu = bone_threshold_hu
        self.mu_map = mu_map
        self.kvp = kvp
        self.rows: list[dict[str, Any]] = []

    @property
    def metric_names(self) -> list[str]:
        names = ["mae", "me", "psnr", self.preset.structural_name, "dice", "jaccard", "hd95_mm",
                 *(f"{metric}_{region}" for region in REGIONS for metric in ("dice", "mae")), "mae_bone", "mae_soft", "mae_air",
                 "uncertainty_spearman"]
        return names + (["mu_rel_error_pct"] if self.mu_map else [])

    def __call__(
        self,
        ct: np.ndarray,
        sct: np.ndarray,
        mask: np.ndarray,
        skull: np.ndarray,
        affine: np.ndarray,
        uncertainty: np.ndarray | None = None,
        **keys: Any,
    ) -> dict[str, Any]:
        """Measure one case (arrays on the grid of ``affine``; CT must contain bone) and keep its row."""
        regions = ct_regions(ct, mask, self.bone_threshold_hu)
        spacing = np.linalg.norm(np.asarray(affine)[:3, :3], axis=0)
        row: dict[str, Any] = {
            **keys,
            **image_metrics(ct, sct, mask, self.preset),
            **skull_overlap(skull, regions["bone"], spacing),
            **regional_scores(ct, sct, mask, skull, regions["bone"], affine),
            **region_mae(ct, sct, regions),
            "uncertainty_spearman": uncertainty_error_spearman(ct, sct, uncertainty, mask),
        }
        if self.mu_map:
            row["mu_rel_error_pct"] = mu_relative_error_pct(ct, sct, mask, self.kvp)
        self.rows.append(row)
        return row

    def aggregate(self, by: Sequence[str], names: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Per group of ``by``: n, mean, std, median, quartiles and IQR of every metric (``names``: also the
        figures a caller added to the rows, such as the clinical tasks')."""
        return summarise(self.rows, by, self.metric_names if names is None else names)
