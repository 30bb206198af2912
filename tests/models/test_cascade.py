import torch

from cranial_sct.hounsfield import BONE_THRESHOLD_HU, HU_AIR, HU_MAX
from cranial_sct.models.conditioning import encode_condition
from cranial_sct.models.registry import ModelConfig, build_model


def run(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return model(torch.randn(1, 1, 16, 16, 16), encode_condition(1.5, ["t1w"])[None])


def test_sct_is_composed_from_stage1_probabilities_and_region_hu() -> None:
    out = run(build_model(ModelConfig(features=[4, 8])))
    p = torch.softmax(out["seg_logits"], dim=1)
    expected = p[:, :1] * HU_AIR + p[:, 1:2] * out["hu_soft"] + p[:, 2:] * out["hu_bone"]
    torch.testing.assert_close(out["hu"], expected)


def test_bone_hu_appears_only_where_bone_is_predicted() -> None:
    model = build_model(ModelConfig(features=[4, 8]))
    with torch.no_grad():
        model.hu_head.bias[1] = 5.0  # push the bone branch to ~3500 HU everywhere
        model.seg_head.bias.copy_(torch.tensor([0.0, 30.0, 0.0]))  # stage 1 says: soft tissue, no bone
        no_bone = run(model)
        model.seg_head.bias.copy_(torch.tensor([0.0, 0.0, 30.0]))  # stage 1 says: bone everywhere
        all_bone = run(model)
    assert no_bone["hu_bone"].min() > 2000
    assert no_bone["hu"].abs().max() < 1000
    torch.testing.assert_close(all_bone["hu"], all_bone["hu_bone"])


def test_soft_head_cannot_produce_bone_hu_and_bone_head_stays_bone() -> None:
    """Whatever the weights, HU_soft < bone threshold < HU_bone <= HU_MAX."""
    model = build_model(ModelConfig(features=[4, 8]))
    for bias in (-50.0, 0.0, 50.0):
        with torch.no_grad():
            model.hu_head.bias.fill_(bias)
            out = run(model)
        assert out["hu_soft"].max() <= BONE_THRESHOLD_HU
        assert BONE_THRESHOLD_HU <= out["hu_bone"].min() and out["hu_bone"].max() <= HU_MAX
