"""Running the tasks on one case: task names, the reference anatomy they aim at, the figures' names."""

from __future__ import annotations

import numpy as np
import pytest

from cranial_sct.errors import InputError
from cranial_sct.tasks import measure
from tests.evaluation.study import AFFINE, SPACING, head


def test_task_names_are_checked_and_ordered():
    assert measure.parse_tasks("pet, proton") == ("proton", "pet")
    assert measure.parse_tasks("") == ()
    with pytest.raises(InputError, match="--task dose: unknown; choose from proton,pet,ultrasound"):
        measure.parse_tasks("proton,dose")


def test_the_anatomy_is_the_skulls_inside_and_the_targets_lie_in_it():
    ct, mask, _ = head(0)
    anatomy = measure.reference_anatomy(ct, mask, AFFINE, SPACING, 300.0)
    soft = mask & (ct > -400) & (ct < 300)  # brain inside the shell (r < 0.7) and scalp outside it (0.88 < r < 1)
    assert anatomy.axis == 2 and anatomy.regions is None
    assert not (anatomy.cavity & ((ct > 300) | (ct < -400))).any()
    assert anatomy.cavity[tuple(np.array(ct.shape) // 2)]
    assert 0.4 * soft.sum() < anatomy.cavity.sum() < 0.6 * soft.sum()  # the brain, about half of it, sinus wall sealed
    index, targets, direction = measure.ultrasound_targets(anatomy, SPACING)
    for point in targets.values():
        assert anatomy.cavity[int(round(point[0])), int(round(point[1])), index]
    assert abs(direction[0]) > 0 and direction[1] == pytest.approx(0.0)


def test_proton_and_pet_figures_of_an_exact_sct_are_zero():
    ct, mask, _ = head(1)
    anatomy = measure.reference_anatomy(ct, mask, AFFINE, SPACING, 300.0)
    row = measure.measure_tasks(measure.TaskSettings(("proton", "pet")), ct.astype(float), ct.astype(float), SPACING, anatomy)
    assert list(row) == measure.metric_names(("proton", "pet"))
    assert row["proton_wepl_worst_mm"] == 0.0 and row["proton_within_1mm_pct"] == 100.0
    assert row["pet_acf_error_p95_pct"] == 0.0 and row["pet_bias_brain_pct"] == 0.0


def test_a_ct_without_a_closed_skull_is_one_clear_error():
    ct, mask, _ = head(0)
    with pytest.raises(InputError, match="encloses no cavity"):
        measure.reference_anatomy(np.where(ct > 300, 40, ct), mask, AFFINE, SPACING, 300.0)
