from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from cranial_sct.hounsfield import BONE
from cranial_sct.preprocess.plan import InputPlan
from cranial_sct.training.augment import Augmenter
from cranial_sct.training.config import AugmentConfig, DataConfig
from cranial_sct.training.dataset import load_cases
from cranial_sct.training.sampling import PatchDataset, StepSampler

TOY_PLAN = InputPlan(spacing_mm=[4.0, 4.0, 4.0])  # the toy cohort's own voxel size


def cases(root: Path):
    return load_cases(DataConfig(root=str(root)), TOY_PLAN, ["t1w", "flair"], ["sub-00", "sub-01"], [])


def test_about_two_thirds_of_patches_are_centred_on_bone(toy_cohort: Path) -> None:
    dataset = PatchDataset(cases(toy_cohort), [8, 8, 8], 2 / 3, seed=0, augmenter=None)
    centred_on_bone = [dataset[i]["classes"][0, 4, 4, 4].item() == BONE for i in range(600)]
    # Head-centred patches hit bone too (about 1 in 4 head voxels here), so expect 2/3 + 1/3 * ~0.25.
    assert 0.68 < np.mean(centred_on_bone) < 0.82
    assert np.mean([dataset[i]["classes"][0, 4, 4, 4].item() == BONE for i in range(600)]) == np.mean(centred_on_bone)


def test_items_are_the_same_in_worker_processes_and_in_the_main_process(toy_cohort: Path) -> None:
    augmenter = Augmenter(AugmentConfig(artefact_probability=0.5), ["t1w", "flair"])
    dataset = PatchDataset(cases(toy_cohort), [16, 16, 16], 2 / 3, seed=3, augmenter=augmenter)
    loaders = [DataLoader(dataset, batch_size=2, sampler=StepSampler(5, 8, 2), num_workers=n) for n in (0, 2)]
    for main, worker in zip(*loaders):
        for key in main:
            assert torch.equal(main[key], worker[key]), key


def test_step_sampler_gives_every_rank_distinct_items() -> None:
    ranks = [list(StepSampler(2, 4, batch=2, rank=r, world=2)) for r in range(2)]
    assert ranks == [[8, 9, 12, 13], [10, 11, 14, 15]]


def test_distinct_patches_cycle_through_a_fixed_set(toy_cohort: Path) -> None:
    dataset = PatchDataset(cases(toy_cohort), [8, 8, 8], 2 / 3, seed=0, augmenter=None, distinct=2)
    assert torch.equal(dataset[0]["ct"], dataset[2]["ct"]) and torch.equal(dataset[1]["ct"], dataset[5]["ct"])
    assert not torch.equal(dataset[0]["ct"], dataset[1]["ct"])


def test_rotated_patches_move_every_array_together(toy_cohort: Path) -> None:
    """With every patch rotated and scaled, the bone class still sits where the patch's CT is bone."""
    augmenter = Augmenter(AugmentConfig(spatial_probability=1.0, artefact_probability=0.0, tissue_remap_probability=0.0,
                                        channel_dropout=0.0, flip_axes=[]), ["t1w", "flair"])
    plain = PatchDataset(cases(toy_cohort), [12, 12, 12], 2 / 3, seed=0, augmenter=None)
    turned = PatchDataset(cases(toy_cohort), [12, 12, 12], 2 / 3, seed=0, augmenter=augmenter)
    for i in range(20):
        item = turned[i]
        bone = item["classes"] == BONE
        assert bone.any() and (item["ct"][bone] > 150).float().mean() > 0.9
        assert item["mr"].shape == plain[i]["mr"].shape and not torch.equal(item["ct"], plain[i]["ct"])


def test_a_cut_field_of_view_is_padding_and_air_beyond_the_plane(toy_cohort: Path) -> None:
    augmenter = Augmenter(AugmentConfig(fov_cut_probability=1.0, artefact_probability=0.0, tissue_remap_probability=0.0,
                                        channel_dropout=0.0, flip_axes=[]), ["t1w", "flair"])
    plain = PatchDataset(cases(toy_cohort), [12, 12, 12], 2 / 3, seed=0, augmenter=None)
    cut = PatchDataset(cases(toy_cohort), [12, 12, 12], 2 / 3, seed=0, augmenter=augmenter)
    sides = set()
    for i in range(20):
        item, reference = cut[i], plain[i]
        blank = (item["mask"][0] == 0).all(dim=(0, 1)) & (item["mr"] == 0).all(dim=(0, 1, 2))
        kept = ~blank
        assert blank.any() and kept.any(), "the scan ends inside the patch"
        assert (item["classes"][..., blank] == 0).all() and (item["ct"][..., blank] == -1000).all()
        assert torch.equal(item["mr"][..., kept], reference["mr"][..., kept])
        assert torch.equal(item["ct"][..., kept], reference["ct"][..., kept])
        sides.add(bool(kept[0]))
    assert sides == {True, False}, "necks and tops are both cut"
