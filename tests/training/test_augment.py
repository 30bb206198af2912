import numpy as np
import pytest
import torch

from cranial_sct.models.conditioning import encode_condition
from cranial_sct.phantom.tissues import Tissue
from cranial_sct.training.augment import Augmenter, remap_tissue_contrast, resample_patch, spatial_matrix
from cranial_sct.training.config import AugmentConfig

CONTRASTS = ["t1w", "t2w", "flair"]


def patch(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    tissues = np.repeat(np.arange(4), 4 * 16 * 16).reshape(16, 16, 16)
    return (0.2 * tissues[None] + rng.normal(0, 0.01, (3, 16, 16, 16))).astype(np.float32), tissues


def test_contrast_remapping_is_one_affine_map_per_tissue() -> None:
    mr, tissues = patch()
    out = remap_tissue_contrast(mr, tissues, np.random.default_rng(1), [0.75, 1.25])
    for label in range(4):
        region = tissues == label
        gain, offset = np.polyfit(mr[0][region], out[0][region], 1)
        np.testing.assert_allclose(out[0][region], gain * mr[0][region] + offset, atol=1e-5)
        assert 0.75 <= gain <= 1.25
    assert not np.allclose(out[0], mr[0])


@pytest.mark.parametrize(("tissue", "option"), [(Tissue.DIPLOE, "marrow"), (Tissue.FAT, "fat")])
def test_tissue_gain_scales_that_tissue_of_present_channels_only(tissue: Tissue, option: str) -> None:
    augmenter = Augmenter(AugmentConfig(artefact_probability=0.0, tissue_remap_probability=0.0, channel_dropout=0.0,
                                        condition_dropout=0.0, **{f"{option}_probability": 1.0, f"{option}_gain_range": [0.1, 0.1]}),
                          CONTRASTS)
    mr, tissues = patch()
    tissues = np.where(tissues == 2, int(tissue), tissues)
    scaled = tissues == tissue
    out, _ = augmenter(mr, tissues, encode_condition(1.5, ["t1w", "t2w"]), np.random.default_rng(3))
    for channel in (0, 1):
        np.testing.assert_allclose(out[channel][scaled], 0.1 * mr[channel][scaled], rtol=1e-6)
        assert np.array_equal(out[channel][~scaled], mr[channel][~scaled])
    assert np.array_equal(out[2], mr[2])  # flair absent: untouched


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


def test_identity_spatial_matrix_gives_the_plain_crop() -> None:
    case = np.random.default_rng(1).random((2, 30, 34, 32), dtype=np.float32)
    patch = resample_patch(case, np.array([14, 17, 15]), np.eye(3), (12, 12, 12), order=1)
    assert np.array_equal(patch, case[:, 8:20, 11:23, 9:21])


def test_quarter_turn_samples_the_rotated_crop() -> None:
    """A 90-degree turn in the first two axes: patch[x0, x1] = case[c0 - (x1 - h), c1 + (x0 - h)]."""
    case = np.random.default_rng(2).integers(0, 9, (30, 34, 32)).astype(np.int32)
    turn = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    centre, half = np.array([14, 17, 15]), 6
    patch = resample_patch(case, centre, turn, (12, 12, 12), order=0)
    x0, x1, x2 = np.meshgrid(*[np.arange(12)] * 3, indexing="ij")
    expected = case[centre[0] - (x1 - half), centre[1] + (x0 - half), centre[2] + (x2 - half)]
    assert np.array_equal(patch, expected)


def test_spatial_matrix_stays_within_its_rotation_and_scale() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        matrix = spatial_matrix(15.0, [0.85, 1.15], rng)
        scales = 1.0 / np.linalg.svd(matrix, compute_uv=False)  # singular values are 1/scale per axis
        assert np.all((scales > 0.85 - 1e-9) & (scales < 1.15 + 1e-9))


def test_spatial_off_draws_nothing_from_the_generator() -> None:
    augmenter = Augmenter(AugmentConfig(spatial_probability=0.0), ["t1w"])
    rng, untouched = np.random.default_rng(4), np.random.default_rng(4)
    assert augmenter.spatial(rng) is None
    assert rng.random() == untouched.random()
