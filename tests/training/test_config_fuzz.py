"""Hypothesis feeds hostile YAML configs to ``load_config``: each is a checked config or one line naming the file.

Three sources: any text (bytes that are not UTF-8 too), YAML documents of any shape, and the shipped
configs with a value replaced by something of another type or range, or a key added.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import event, given
from hypothesis import strategies as st

from cranial_sct.errors import InputError
from cranial_sct.training.config import TrainConfig, load_config, to_dict

pytestmark = pytest.mark.fuzz
CONFIGS = sorted((Path(__file__).parents[2] / "configs").glob("*.yaml"))
_names = (f"config{k}.yaml" for k in itertools.count())
scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                      max_leaves=12)


def loaded_or_refused(path: Path) -> TrainConfig | None:
    try:
        config = load_config(path, [f"data.root={path.parent}"])
    except InputError as error:
        message = str(error)
        assert "\n" not in message and (str(path) in message or message.startswith("data.") or "must" in message), message
        event("refused in one line")
        return None
    event("loaded")
    return config


def leaf_paths(tree: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    return [p for key, value in tree.items() for p in (leaf_paths(value, (*prefix, key)) if isinstance(value, dict) else [(*prefix, key)])]


@given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
def test_any_bytes_are_a_config_or_one_line(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / next(_names)
    path.write_bytes(data)
    loaded_or_refused(path)


@given(document=values)
def test_any_yaml_document_is_a_config_or_one_line(tmp_path: Path, document: Any) -> None:
    path = tmp_path / next(_names)
    path.write_text(yaml.safe_dump(document))
    loaded_or_refused(path)


@given(base=st.sampled_from(CONFIGS), pick=st.integers(0, 10_000), value=values, extra=st.booleans())
def test_a_shipped_config_with_one_hostile_value_is_a_config_or_one_line(
    tmp_path: Path, base: Path, pick: int, value: Any, extra: bool
) -> None:
    tree = to_dict(load_config(base, ["data.root=."]))
    *parents, leaf = leaf_paths(tree)[pick % len(leaf_paths(tree))]
    node = tree
    for key in parents:
        node = node[key]
    node[f"{leaf}_typo" if extra else leaf] = value
    path = tmp_path / next(_names)
    path.write_text(yaml.safe_dump(tree))
    loaded_or_refused(path)
