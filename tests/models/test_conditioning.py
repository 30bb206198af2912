import math

import pytest
import torch

from cranial_sct.errors import InputError
from cranial_sct.models.conditioning import COND_DIM, FiLM, encode_condition, hide_field


def test_known_field_and_contrasts_are_encoded() -> None:
    vector = encode_condition(3.0, ["t1w", "flair"])
    assert vector.shape == (COND_DIM,)
    assert vector[0].item() == pytest.approx(math.log10(3.0) / 1.5)
    assert vector[1:].tolist() == [0.0, 1.0, 0.0, 1.0, 0.0]


def test_unknown_field_and_contrast_set_their_flags() -> None:
    assert encode_condition(None, []).tolist() == [0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    assert torch.equal(hide_field(encode_condition(7.0, ["t2w"])), encode_condition(None, ["t2w"]))


@pytest.mark.parametrize("field, contrasts", [(-1.0, ["t1w"]), (float("nan"), ["t1w"]), (1.5, ["pd"])])
def test_bad_metadata_is_refused(field: float, contrasts: list[str]) -> None:
    with pytest.raises(InputError):
        encode_condition(field, contrasts)


def test_film_starts_as_identity_and_then_depends_on_condition() -> None:
    film = FiLM(COND_DIM, 4)
    x = torch.randn(2, 4, 3, 3, 3)
    cond = torch.stack([encode_condition(0.064, ["t1w"]), encode_condition(7.0, ["t1w"])])
    assert torch.equal(film(x, cond), x)
    torch.nn.init.normal_(film.proj.weight)
    out = film(torch.ones(2, 4, 3, 3, 3), cond)
    assert not torch.allclose(out[0], out[1])
