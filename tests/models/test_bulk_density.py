import numpy as np
import pytest
import torch

from cranial_sct.errors import InputError
from cranial_sct.models.conditioning import encode_condition
from cranial_sct.models.registry import ModelConfig, build_model


def synthetic_case(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Three intensity-separable classes with known HU; a one-voxel rim outside the head."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 3, size=(6, 6, 6))
    ct = np.choose(classes, [-950.0, 40.0, 1200.0]) + rng.normal(0, 5, classes.shape)
    mr = np.choose(classes, [0.0, 0.8, 0.3])[None] + rng.normal(0, 0.03, (1, *classes.shape))
    mask = np.zeros(classes.shape)
    mask[1:-1, 1:-1, 1:-1] = 1
    return mr.astype(np.float32), classes, ct, mask


def test_fitted_bulk_density_recovers_classes_and_median_hu() -> None:
    model = build_model(ModelConfig(kind="bulk-density"))
    for seed in range(3):
        model.accumulate(*synthetic_case(seed))
    mr, classes, ct, mask = synthetic_case(10)
    out = model(torch.from_numpy(mr)[None], encode_condition(1.5, ["t1w"])[None], torch.from_numpy(mask)[None, None])
    predicted = out["seg_logits"].argmax(1)[0].numpy()
    inside = mask > 0
    assert (predicted[inside] == classes[inside]).mean() > 0.99
    assert (predicted[~inside] == 0).all()
    hu = out["hu"][0, 0].numpy()
    assert np.abs(hu[inside] - np.choose(classes, [-950.0, 40.0, 1200.0])[inside]).max() <= 10
    assert (hu[~inside] == -1000).all()


def test_unfitted_bulk_density_is_refused() -> None:
    model = build_model(ModelConfig(kind="bulk-density"))
    with pytest.raises(InputError, match="not fitted"):
        model(torch.zeros(1, 1, 2, 2, 2), encode_condition(None, ["t1w"])[None], torch.ones(1, 1, 2, 2, 2))
