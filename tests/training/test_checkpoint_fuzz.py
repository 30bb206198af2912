"""Hypothesis damages the bytes of a real (tiny) checkpoint: each load gives the saved model or one line.

Truncation, flipped, inserted and deleted bytes anywhere in the torch zip archive. A load that
succeeds must give exactly the saved weights: a damaged archive is never a silently different model.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch
from hypothesis import event, given
from hypothesis import strategies as st

from cranial_sct.errors import InputError
from cranial_sct.models.registry import ModelConfig, build_model
from cranial_sct.training.checkpoint import load_for_inference, read_checkpoint, save_checkpoint
from cranial_sct.training.config import from_dict

pytestmark = pytest.mark.fuzz
_names = (f"ck{k}.pt" for k in itertools.count())


class Saved:
    """The saved file and its weights (shown by path only when Hypothesis reports a failing case)."""

    def __init__(self, path: Path, weights: dict[str, torch.Tensor]) -> None:
        self.path, self.weights = path, weights

    def __repr__(self) -> str:
        return f"Saved({self.path.name})"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Saved:
    """The built-in checkpoint's config, plan and statistics with a 2-4 feature network: a few kB."""
    state = {k: v for k, v in read_checkpoint("builtin").items() if k not in ("format", "version")}
    state["config"]["model"]["features"] = [2, 4]
    torch.manual_seed(0)
    state["model"] = build_model(from_dict(ModelConfig, state["config"]["model"])).state_dict()
    return Saved(save_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny.pt", state), state["model"])


edits = st.lists(st.tuples(st.sampled_from(["flip", "insert", "delete", "truncate"]), st.floats(0, 1), st.integers(1, 255)),
                 min_size=1, max_size=3)


@given(changes=edits)
def test_damaged_checkpoint_bytes_load_the_saved_model_or_are_one_line(
    tmp_path: Path, tiny: Saved, changes: list
) -> None:
    data = bytearray(tiny.path.read_bytes())
    for kind, where, byte in changes:
        if not data:
            break
        at = int(where * (len(data) - 1))
        if kind == "flip":
            data[at] ^= byte
        elif kind == "insert":
            data[at:at] = bytes([byte]) * byte
        elif kind == "delete":
            del data[at : at + byte]
        else:
            del data[at:]
    path = tmp_path / next(_names)
    path.write_bytes(bytes(data))
    try:
        model, _ = load_for_inference(path)
    except InputError as error:
        assert "\n" not in str(error) and str(error).startswith(str(path)), str(error)
        event("refused in one line")
        return
    event("loaded")
    for key, saved in tiny.weights.items():
        assert torch.equal(model.state_dict()[key], saved), f"{key} changed without a word"
