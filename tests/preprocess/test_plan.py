"""The network-input plan: one function makes a network's input the same way in training and predict."""

from __future__ import annotations

import numpy as np
import pytest

from cranial_sct.errors import InputError
from cranial_sct.io.volume import Volume
from cranial_sct.preprocess import plan as plan_module
from cranial_sct.preprocess.plan import InputPlan, coarse_input_warning, prepare


def head(shape: tuple[int, int, int] = (40, 44, 36), spacing: float = 2.0, bias: bool = False) -> Volume:
    """A bright ellipsoid head with a dark shell, on an LPS grid; ``bias`` multiplies a smooth ramp."""
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij"))
    radius = np.sqrt((grid**2).sum(0))
    array = np.where(radius < 0.8, 600.0, 0.0) + np.where(radius < 0.65, 200.0, 0.0)
    array[(radius > 0.68) & (radius < 0.72)] = 40.0
    if bias:
        array = array * (1.0 + 0.6 * grid[0])
    affine = np.diag([-spacing, -spacing, spacing, 1.0])
    return Volume(array.astype(np.float32), affine, {"path": "head.nii.gz"})


def test_prepare_resamples_per_axis_crops_with_the_margin_and_maps_back_exactly() -> None:
    mr = head(spacing=2.0)
    plan = InputPlan(spacing_mm=[4.0, 3.0, 2.0], crop_margin_mm=8.0)
    case = prepare(plan, {"t1w": mr})
    assert case.spacing == pytest.approx((4.0, 3.0, 2.0))
    assert [s["op"] for s in case.steps] == ["reorient", "resample", "crop"]
    channel = case.channels["t1w"]
    inside = channel[case.mask]
    assert np.percentile(inside, 0.5) == pytest.approx(0.0, abs=1e-4) and np.percentile(inside, 99.5) == pytest.approx(1.0, abs=1e-4)
    where = np.argwhere(case.mask)  # the margin: ceil(8 mm / spacing) voxels on each side of the head's box
    np.testing.assert_array_equal(where.min(0), [2, 3, 4])
    back = case.to_input_grid(case.mask.astype(np.float32), 0.0)
    assert back.same_grid(mr) and back.shape == mr.shape
    assert ((back.array > 0.5) == (mr.array > 100)).mean() > 0.93  # 4 x 3 x 2 mm and back: the outline blurs, no more
    centroid = lambda a: np.argwhere(a).mean(0)  # noqa: E731
    np.testing.assert_allclose(centroid(back.array > 0.5), centroid(mr.array > 100), atol=0.25)


def test_a_case_already_on_the_plan_grid_is_only_reoriented_and_cropped() -> None:
    mr = head(spacing=2.0)
    case = prepare(InputPlan(spacing_mm=[2.0, 2.0, 2.0]), {"t1w": mr}, companions={"ct": (mr, "linear", -1024.0)})
    assert [s["op"] for s in case.steps] == ["reorient", "crop"]
    np.testing.assert_array_equal(case.to_input_grid(case.companions["ct"], -1024.0).array[mr.array > 0], mr.array[mr.array > 0])


def test_n4_runs_when_the_plan_has_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model trained with N4 gets N4 in predict: the same plan, the same call, a flatter head."""
    calls = []
    real = plan_module.n4_correct
    monkeypatch.setattr(plan_module, "n4_correct", lambda volume, mask: calls.append(volume.shape) or real(volume, mask))
    biased = head(bias=True)
    without = prepare(InputPlan(spacing_mm=[2.0] * 3, n4=False), {"t1w": biased})
    assert calls == []
    corrected = prepare(InputPlan(spacing_mm=[2.0] * 3, n4=True), {"t1w": biased})
    assert len(calls) == 1
    brain = corrected.channels["t1w"] > 0.9
    spread = lambda case: np.std(case.channels["t1w"][brain]) / np.mean(case.channels["t1w"][brain])  # noqa: E731
    assert spread(corrected) < 0.5 * spread(without)


def test_a_constant_mr_inside_a_given_mask_is_one_clear_error() -> None:
    mr = head()
    flat = mr.with_array(np.full(mr.shape, 7.0, np.float32))
    with pytest.raises(InputError, match="head.nii.gz: cannot normalise"):
        prepare(InputPlan(spacing_mm=[2.0] * 3), {"t1w": flat}, head_mask=mr.with_array((mr.array > 0).astype(np.uint8)))


def test_inputs_much_coarser_than_the_plan_are_flagged() -> None:
    plan = InputPlan(spacing_mm=[1.0, 1.0, 1.0])
    low_field = Volume(np.zeros((4, 4, 4)), np.diag([1.6, 1.6, 5.0, 1.0]))
    clinical = Volume(np.zeros((4, 4, 4)), np.diag([0.9, 0.9, 1.5, 1.0]))
    assert "coarser than the model" in coarse_input_warning(plan, low_field)
    assert coarse_input_warning(plan, clinical) is None
