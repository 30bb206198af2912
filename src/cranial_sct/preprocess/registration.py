"""Rigid MR-to-CT registration: SimpleITK, Mattes mutual information, multi-resolution.

Mutual information because MR and CT intensities are related but not linearly (bone is dark on MR
and bright on CT). The head masks' centres of mass start the search, so MR and CT exported with
unrelated world origins still converge; the metric is sampled inside the (dilated) CT head only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from cranial_sct.io.sitk_bridge import to_sitk
from cranial_sct.io.volume import Volume
from cranial_sct.preprocess.geometry import crop, crop_box


@dataclass(frozen=True)
class RegistrationOptions:
    coarsest_mm: float = 6.0  # the first level's voxel size is at most this (and shrink at most 4)
    iterations: int = 100  # per level
    sampling_fraction: float = 0.1  # of the voxels in the dilated CT head, drawn at random...
    max_samples: int = 30_000  # ...but no more than this per level, which bounds the cost at 1 mm
    histogram_bins: int = 32
    seed: int = 1  # of the random sampling; SimpleITK reads 0 as sitkWallClock, a new draw every run
    # A slow step decay and a small minimum step: random sampling makes the gradient noisy, and a
    # fast decay stops the optimiser 1-2 mm short (measured on the synthetic test heads).
    relaxation: float = 0.8
    min_step: float = 1e-4


def shrink_factors(spacing_mm: float, coarsest_mm: float) -> list[int]:
    """Pyramid levels (4, 2, 1) that keep the coarsest voxel at most ``coarsest_mm``; at least (2, 1)."""
    factors = [f for f in (4, 2) if f * spacing_mm <= coarsest_mm] or [2]
    return factors + [1]


@dataclass
class RigidResult:
    transform: sitk.Euler3DTransform  # maps CT (fixed) points to MR (moving) points, LPS mm
    metric: float  # final Mattes MI (negative: lower is better)
    stop_condition: str


def register_rigid(
    fixed: Volume,
    moving: Volume,
    fixed_mask: np.ndarray,
    moving_mask: np.ndarray,
    options: RegistrationOptions = RegistrationOptions(),
) -> RigidResult:
    """Find the rigid transform that maps ``fixed`` (CT) points onto ``moving`` (MR) points."""
    fixed, fixed_mask = _around_head(fixed, fixed_mask)  # world coordinates are unchanged by cropping,
    moving, moving_mask = _around_head(moving, moving_mask)  # so the transform is too; the air costs time
    metric_mask = ndimage.binary_dilation(fixed_mask, iterations=2)
    factors = shrink_factors(min(fixed.spacing), options.coarsest_mm)
    fractions = _sampling(int(metric_mask.sum()), factors, options)
    # First the head outlines (mean squares over the whole field: robust to MR bias fields and B1
    # drop-out, which mislead MI at 7 T), then MI on intensities inside the CT head for precision.
    # Outlines are built at the finest coarse level (block averages of the masks: soft edges, and no
    # full-resolution pyramid to smooth), since they cannot say more than a coarse pose anyway.
    block = factors[-2]
    outlines = (_outline(fixed, fixed_mask, block), _outline(moving, moving_mask, block))
    initial = sitk.CenteredTransformInitializer(*outlines, sitk.Euler3DTransform(), sitk.CenteredTransformInitializerFilter.MOMENTS)
    coarse_factors = [f // block for f in factors[:-1]]
    coarse = (coarse_factors, _sampling(int(np.prod(outlines[0].GetSize())), coarse_factors, options), None)
    shape_fit, _ = _optimise(*outlines, initial, False, coarse, options)
    images = (to_sitk(fixed, fixed.array.astype(np.float32)), to_sitk(moving, moving.array.astype(np.float32)))
    levels = (factors, fractions, to_sitk(fixed, metric_mask.astype(np.uint8)))
    final, method = _optimise(*images, shape_fit, True, levels, options)
    return RigidResult(final, float(method.GetMetricValue()), method.GetOptimizerStopConditionDescription())


def _sampling(voxels: int, factors: list[int], options: RegistrationOptions) -> list[float]:
    """Per-level sampling fractions of ``voxels`` (counted at full resolution): 10 %, at most ``max_samples``."""
    return [min(options.sampling_fraction, options.max_samples * f**3 / voxels) for f in factors]


def _outline(volume: Volume, mask: np.ndarray, block: int) -> sitk.Image:
    """The head mask averaged over ``block``^3 voxels: soft edges give mean squares a smooth gradient."""
    return sitk.BinShrink(to_sitk(volume, mask.astype(np.float32)), [block] * 3)


def _optimise(
    fixed: sitk.Image,
    moving: sitk.Image,
    initial: sitk.Transform,
    mutual_information: bool,
    levels: tuple[list[int], list[float], sitk.Image | None],
    options: RegistrationOptions,
) -> tuple[sitk.Euler3DTransform, sitk.ImageRegistrationMethod]:
    """One multi-resolution gradient descent from ``initial``: Mattes MI, or mean squares of outlines."""
    factors, fractions, metric_mask = levels
    method = sitk.ImageRegistrationMethod()
    if mutual_information:
        method.SetMetricAsMattesMutualInformation(options.histogram_bins)
    else:
        method.SetMetricAsMeanSquares()
    method.SetMetricSamplingStrategy(method.RANDOM)
    method.SetMetricSamplingPercentagePerLevel(fractions, options.seed)
    if metric_mask is not None:
        method.SetMetricFixedMask(metric_mask)
    method.SetMetricUseFixedImageGradientFilter(False)  # gradients only at the sampled points,
    method.SetMetricUseMovingImageGradientFilter(False)  # not over the whole 1-mm volume per level
    method.SetInterpolator(sitk.sitkLinear)
    method.SetOptimizerAsRegularStepGradientDescent(
        learningRate=2.0,
        minStep=options.min_step,
        numberOfIterations=options.iterations,
        relaxationFactor=options.relaxation,
        gradientMagnitudeTolerance=1e-8,
    )
    method.SetOptimizerScalesFromPhysicalShift()
    method.SetShrinkFactorsPerLevel(factors)
    method.SetSmoothingSigmasPerLevel([f / 2 for f in factors])
    method.SetSmoothingSigmasAreSpecifiedInPhysicalUnits(False)
    method.SetInitialTransform(initial, inPlace=False)
    final = method.Execute(fixed, moving)
    return sitk.Euler3DTransform(sitk.CompositeTransform(final).GetBackTransform()), method


def _around_head(volume: Volume, mask: np.ndarray, margin_mm: float = 20.0) -> tuple[Volume, np.ndarray]:
    margin = np.ceil(margin_mm / np.asarray(volume.spacing)).astype(int)
    start, stop = crop_box(mask, margin)
    cropped, _ = crop(volume, start, stop)
    return cropped, mask[tuple(slice(a, b) for a, b in zip(start, stop))]


def mean_displacement_mm(a: sitk.Transform, b: sitk.Transform, points_lps: np.ndarray) -> float:
    """Mean distance between where ``a`` and ``b`` send ``points_lps`` (n, 3): the registration error."""
    moved_a = np.array([a.TransformPoint(tuple(map(float, p))) for p in points_lps])
    moved_b = np.array([b.TransformPoint(tuple(map(float, p))) for p in points_lps])
    return float(np.linalg.norm(moved_a - moved_b, axis=1).mean())
