import numpy as np

from cranial_sct.preprocess.bias import n4_correct
from cranial_sct.preprocess.masks import head_mask
from tests.heads import head_volumes


def test_n4_removes_most_of_a_smooth_multiplicative_field():
    mr, _ = head_volumes(4.0)
    i, j, k = np.meshgrid(*[np.linspace(-1, 1, n) for n in mr.shape], indexing="ij")
    field = np.exp(0.3 * i - 0.2 * j + 0.15 * k).astype(np.float32)  # up to ~+-40 % intensity drift
    biased = mr.with_array(mr.array * field)
    brain = (mr.array > 550) & (mr.array < 650)  # the uniform brain compartment
    spread = lambda a: float(np.std(a[brain]) / np.mean(a[brain]))  # noqa: E731
    corrected = n4_correct(biased, head_mask(biased.array))
    assert corrected.same_grid(mr)
    assert spread(corrected.array) < 0.5 * spread(biased.array)
