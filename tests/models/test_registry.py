import pytest
import torch

from cranial_sct.errors import InputError
from cranial_sct.models.conditioning import encode_condition
from cranial_sct.models.registry import ModelConfig, build_model, check_patch_size

TINY = [4, 8, 16]


def condition(batch: int) -> torch.Tensor:
    return torch.stack([encode_condition(1.5, ["t1w", "flair"])] * batch)


@pytest.mark.parametrize(
    "kind, backbone, side, keys",
    [
        ("cascade", "resunet", 16, {"hu", "seg_logits", "hu_soft", "hu_bone"}),
        ("direct", "resunet", 24, {"hu"}),
        ("direct", "resunet", 16, {"hu"}),
        ("cascade", "mamba", 16, {"hu", "seg_logits", "hu_soft", "hu_bone"}),
        ("direct", "transformer", 64, {"hu"}),
    ],
)
def test_models_follow_the_forward_contract(kind: str, backbone: str, side: int, keys: set[str]) -> None:
    config = ModelConfig(kind=kind, backbone=backbone, contrasts=["t1w", "flair"], features=TINY)
    model = build_model(config)
    out = model(torch.randn(1, 2, side, side, side), condition(1))
    assert set(out) == keys
    assert out["hu"].shape == (1, 1, side, side, side)
    if "seg_logits" in out:
        assert out["seg_logits"].shape == (1, 3, side, side, side)
    out["hu"].mean().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_mamba_layers_are_used_and_trained() -> None:
    model = build_model(ModelConfig(backbone="mamba", features=TINY, mamba_levels=[1, 2]))  # levels at 1/4 and 1/8
    mamba_params = [p for name, p in model.named_parameters() if "A_log" in name]
    assert len(mamba_params) == 4  # two levels x two stages
    model(torch.randn(2, 1, 16, 16, 16), torch.stack([encode_condition(None, [])] * 2))["hu"].std().backward()
    assert all(p.grad.abs().sum() > 0 for p in mamba_params)


@pytest.mark.parametrize(
    "config, match",
    [
        (ModelConfig(contrasts=["pd"]), "model.contrasts"),
        (ModelConfig(contrasts=["t1w", "t1w"]), "model.contrasts"),
        (ModelConfig(features=[]), "model.features"),
        (ModelConfig(backbone="transformer", transformer_feature_size=16), "multiple of 12"),
    ],
)
def test_bad_model_configs_are_refused(config: ModelConfig, match: str) -> None:
    with pytest.raises(InputError, match=match):
        build_model(config)


def test_patch_size_must_suit_backbone() -> None:
    check_patch_size(ModelConfig(features=TINY), [16, 32, 24])
    with pytest.raises(InputError, match="multiple of 8 and at least 16"):
        check_patch_size(ModelConfig(features=TINY), [16, 32, 8])
    check_patch_size(ModelConfig(features=TINY, half_resolution_stem=False), [8, 12, 8])
    with pytest.raises(InputError, match="multiple of 4"):
        check_patch_size(ModelConfig(features=TINY, half_resolution_stem=False), [16, 30, 16])
    with pytest.raises(InputError, match="at least 64"):
        check_patch_size(ModelConfig(backbone="transformer"), [32, 32, 32])
