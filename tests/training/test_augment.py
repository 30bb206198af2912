import numpy as np
import torch

from cranial_sct.models.conditioning import encode_condition
from cranial_sct.training.augment import Augmenter, remap_tissue_contrast
from cranial_sct.training.config import AugmentConfig

CONTRASTS = ["t1w", "t2w", "flair"]


def patch(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    tissues = np.repeat(np.arange(4), 4 * 16 * 16).reshape(16, 16, 16)
    return (0.2 * tissues[None] + rng.normal(0, 0.01, (3, 16, 16, 16))).astype(np.float32), tissues


def test_contrast_remapping_is_one_affine_map_per_tissue() -> None:
    mr, tissues = patch()
    out = remap_tissue_contrast(mr, tissues, np.random.default_rng(1))
    for label in range(4):
        region = tissues == label
        gain, offset = np.polyfit(mr[0][region], out[0][region], 1)
        np.testing.assert_allclose(out[0][region], gain * mr[0][region] + offset, atol=1e-5)
        assert 0.75 <= gain <= 1.25
    assert not np.allclose(out[0], mr[0])


def test_augmentation_is_reproducible_from_the_generator_and_leaves_torch_rng_alone() -> None:
    augmenter = Augmenter(AugmentConfig(artefact_probability=1.0), CONTRASTS)
    mr, tissues = patch()
    cond = encode_condition(1.5, CONTRASTS)
    torch.manual_seed(5)
    first = augmenter(mr, tissues, cond, np.random.default_rng(7))
    after = torch.rand(1)
    torch.manual_seed(5)
    second = augmenter(mr, tissues, cond, np.random.default_rng(7))
    assert np.array_equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert torch.equal(torch.rand(1), after)
    assert np.isfinite(first[0]).all() and not np.allclose(first[0], mr, atol=1e-3)


def test_channel_dropout_keeps_one_contrast_and_clears_the_flags() -> None:
    augmenter = Augmenter(AugmentConfig(artefact_probability=0.0, tissue_remap_probability=0.0, channel_dropout=1.0,
                                        condition_dropout=1.0), CONTRASTS)
    mr, tissues = patch()
    mr[1] = 0.0  # t2w absent
    out, cond = augmenter(mr, tissues, encode_condition(3.0, ["t1w", "flair"]), np.random.default_rng(0))
    kept = [i for i in range(3) if out[i].any()]
    assert kept == [2]  # t1w dropped; flair, the last one present, is always kept
    assert np.array_equal(out[2], mr[2])
    assert cond.tolist() == encode_condition(None, ["flair"]).tolist()
