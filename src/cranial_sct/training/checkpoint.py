"""Checkpoints: one atomic ``torch.save`` of plain tensors and primitives, safe to ``torch.load(weights_only=True)``.

A checkpoint holds everything needed to continue exactly (weights, optimiser, scheduler, grad
scaler, every RNG state, the step) and everything inference needs to use the model correctly (the
resolved config with channel order, the network-input plan with the training intensity statistics,
the fields/contrasts seen, the patch size, the package version). Written through ``atomic_path``, so an
interrupted write leaves the previous checkpoint untouched.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import os
import pickle
import random
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from cranial_sct import __version__
from cranial_sct.errors import InputError, reason
from cranial_sct.io.atomic import atomic_path
from cranial_sct.models.registry import ModelConfig, build_model
from cranial_sct.preprocess.plan import InputPlan
from cranial_sct.training.config import TrainConfig, from_dict

FORMAT = "cranial-sct-checkpoint/1"
BUILTIN = "builtin"  # the name that stands for the model shipped inside the package
BUILTIN_FILE = ("weights", "builtin.pt")  # under the cranial_sct package
# What inference needs; the rest (optimiser, scheduler, scaler, RNG) only serves resuming a run.
INFERENCE_KEYS = ("version", "step", "config", "model", "plan", "stats", "recipe")  # version: the training one
EXPECTED = "give a .pt file written by 'cranial-sct train' or 'export' (a torch zip archive)"
# Leading bytes of files that get mistaken for checkpoints, and what they are.
FOREIGN_MAGIC = (
    (b"\x89HDF", "an HDF5 file (Keras/TensorFlow weights?)"),
    (b"\x93NUMPY", "a NumPy array file"),
    (b"\x80", "a plain pickle (an old torch.save or another tool), not a torch zip archive"),
    (b"\x08", "a protobuf file (ONNX or TensorFlow?)"),
)


def builtin_path() -> Path:
    """The shipped model's weights (``--checkpoint builtin``)."""
    return Path(str(importlib.resources.files("cranial_sct").joinpath(*BUILTIN_FILE)))


def resolve(path: str | os.PathLike[str]) -> Path:
    """A checkpoint path, with ``builtin`` standing for the shipped model."""
    if str(path) == BUILTIN:
        found = builtin_path()
        if not found.is_file():
            raise InputError(f"{found}: the built-in model is not installed with this copy of cranial-sct; pass --checkpoint FILE")
        return found
    return Path(path)


@dataclass
class CheckpointInfo:
    config: TrainConfig
    plan: InputPlan  # how the network's input is made (spacing, mask rule, N4, normalisation, statistics)
    contrasts: list[str]  # input channel order
    fields_seen: list[str]
    contrasts_seen: list[str]
    mirror_axes: list[int]  # axes mirrored in training: the only ones test-time augmentation may flip
    patch_size: list[int]
    step: int
    version: str
    recipe: str = ""  # how the weights were made (the built-in model says)


def save_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> Path:
    """Write ``state`` (plus format and version) atomically."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            torch.save({"format": FORMAT, "version": __version__, **state}, tmp)
    except (OSError, RuntimeError) as error:  # torch's zip writer reports a failed write as RuntimeError
        raise InputError(f"{path}: cannot write the checkpoint ({getattr(error, 'strerror', None) or reason(error)}); "
                         "choose a writable folder with free space") from None
    return path


def read_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load with ``weights_only=True``; a missing, corrupt or foreign file is an ``InputError`` saying what was expected."""
    path = resolve(path)
    if path.is_dir():
        raise InputError(f"{path}: a folder, not a checkpoint; {EXPECTED}")
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found")
    foreign = _foreign_kind(path)
    if foreign:
        raise InputError(f"{path}: {foreign}, not a cranial-sct checkpoint; {EXPECTED}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise InputError(f"{path}: holds Python objects beyond tensors (a whole pickled model?) or is corrupt; "
                         f"checkpoints are loaded as tensors only; {EXPECTED}") from None
    except Exception as error:  # torch's zip and pickle readers raise many types for damaged files
        raise InputError(f"{path}: unreadable or corrupt checkpoint ({type(error).__name__}); {EXPECTED}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputError(f"{path}: a torch file without 'format: {FORMAT}', not a cranial-sct checkpoint; {EXPECTED}")
    _check_fields(state, path)
    return state


def _foreign_kind(path: Path) -> str | None:
    """What ``path`` is when its first bytes show it cannot be a torch zip archive, else None."""
    with open(path, "rb") as handle:
        head = handle.read(16)
    if not head:
        return "an empty file"
    if head.startswith(b"PK\x03\x04"):
        try:  # torch reads members without checking their CRC-32: a flipped bit would be another model
            with zipfile.ZipFile(path) as archive:
                names, damaged = archive.namelist(), archive.testzip()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, zlib.error):
            return "a corrupt or truncated zip archive"
        if damaged is not None:
            return f"a corrupt zip archive ({damaged} fails its CRC check)"
        return None if any(name.endswith("/data.pkl") for name in names) else "a zip archive that is not a PyTorch file"
    if len(head) >= 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") < path.stat().st_size:
        return "a safetensors file"
    found = next((what for magic, what in FOREIGN_MAGIC if head.startswith(magic)), None)
    return found or f"not a zip archive (it starts with {head[:8]!r})"


def _check_fields(state: Mapping[str, Any], path: Path) -> None:
    """Refuse a checkpoint missing a key inference needs, or holding one of the wrong kind."""
    kinds = {"version": str, "step": int, "config": dict, "model": dict, "plan": dict, "stats": dict}
    missing = [key for key in kinds if key not in state]
    if missing:
        if missing == ["plan"]:
            raise InputError(f"{path}: checkpoint predates the network-input plan (cranial-sct < 0.2); retrain it")
        raise InputError(f"{path}: cranial-sct checkpoint without {', '.join(missing)}; expected the keys {', '.join(kinds)}")
    wrong = [key for key, kind in kinds.items() if not isinstance(state[key], kind)]
    if not wrong and not all(isinstance(value, torch.Tensor) for value in state["model"].values()):
        wrong = ["model"]
    if wrong:
        raise InputError(f"{path}: damaged cranial-sct checkpoint ({wrong[0]} is not what train writes); use another checkpoint")


def export_for_inference(source: str | os.PathLike[str], target: str | os.PathLike[str], recipe: str = "",
                         blend_with: str | os.PathLike[str] | None = None, share: float = 1.0) -> Path:
    """Write ``source``'s weights, config, plan and statistics only (no optimiser state): a file to share
    or ship, a third of a training checkpoint's size. ``recipe`` says how it was made. With ``blend_with``,
    the weights are ``share`` of ``source``'s and the rest of ``blend_with``'s (see ``blend_weights``)."""
    state = read_checkpoint(source)
    kept = {key: state[key] for key in INFERENCE_KEYS if key in state}
    if blend_with is not None:
        kept["model"] = blend_weights(state, read_checkpoint(blend_with), share, source, blend_with)
    if recipe:
        kept["recipe"] = recipe
    return save_checkpoint(target, kept)


def blend_weights(tuned: dict[str, Any], start: dict[str, Any], share: float,
                  tuned_path: str | os.PathLike[str], start_path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """``share`` of a fine-tuned model's weights plus ``1 - share`` of those it started from (WiSE-FT, Wortsman
    et al., CVPR 2022), a model between the two without training again. Only meaningful for a model fine-tuned
    from ``start``, which shares its architecture. On this project's heads each measure moved steadily from one
    model's value to the other's (docs/notes/real-skull-bases.md)."""
    if not 0.0 <= share <= 1.0:
        raise InputError(f"blend share {share}: give a fraction from 0 to 1 (the share of {tuned_path}'s weights)")
    check_same_architecture(stored_config(start, start_path).model, stored_config(tuned, tuned_path).model, start_path)
    return {name: share * weight + (1.0 - share) * start["model"][name] if weight.is_floating_point() else weight
            for name, weight in tuned["model"].items()}


def stored_config(state: dict[str, Any], path: str | os.PathLike[str]) -> TrainConfig:
    return from_dict(TrainConfig, state["config"], f"{path}: config")


def check_same_architecture(stored: ModelConfig, wanted: ModelConfig, path: str | os.PathLike[str]) -> None:
    """Refuse weights for a different model, naming every setting that differs."""
    differ = [f"model.{f.name}: checkpoint {getattr(stored, f.name)} vs config {getattr(wanted, f.name)}"
              for f in dataclasses.fields(ModelConfig) if getattr(stored, f.name) != getattr(wanted, f.name)]
    if differ:
        raise InputError(f"{path}: checkpoint is for another architecture ({'; '.join(differ)})")


def load_weights(model: nn.Module, weights: dict[str, torch.Tensor], path: str | os.PathLike[str]) -> None:
    try:
        model.load_state_dict(weights)
    except RuntimeError as error:
        first = str(error).splitlines()[1].strip() if len(str(error).splitlines()) > 1 else str(error)
        raise InputError(f"{path}: weights do not fit the model ({first})") from None


def load_for_inference(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> tuple[nn.Module, CheckpointInfo]:
    """Rebuild the trained model in eval mode, with what inference needs to prepare inputs like training did."""
    state = read_checkpoint(path, map_location)
    config = stored_config(state, path)
    if not all(torch.isfinite(weights).all() for weights in state["model"].values() if weights.is_floating_point()):
        raise InputError(f"{path}: the weights hold NaN/Inf (a diverged training run?); use an earlier checkpoint")
    model = build_model(config.model)
    load_weights(model, state["model"], path)
    stats = state["stats"]
    augment = config.augment
    try:
        info = CheckpointInfo(
            config=config, plan=InputPlan.from_dict(state["plan"]), contrasts=list(config.model.contrasts),
            fields_seen=[str(f) for f in stats["fields_seen"]], contrasts_seen=[str(c) for c in stats["contrasts_seen"]],
            mirror_axes=sorted(augment.flip_axes) if augment.enabled and augment.flip_probability > 0 else [],
            patch_size=list(config.sampling.patch_size), step=int(state["step"]), version=str(state["version"]),
            recipe=str(state.get("recipe", "")),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"{path}: damaged cranial-sct checkpoint (plan or stats: {reason(error)}); use another checkpoint") from None
    return model.to(map_location).eval(), info


def rng_state() -> dict[str, Any]:
    """Every generator a run may draw from, as tensors and primitives (``weights_only``-safe)."""
    kind, keys, position, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(position),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
    }


def restore_rng_state(state: dict[str, Any]) -> None:
    """Generator states are CPU byte tensors: a checkpoint read onto the GPU to resume there carries them
    onto it too, so each comes back to the CPU first."""
    torch.set_rng_state(state["torch"].cpu())
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([generator.cpu() for generator in state["cuda"]])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].cpu().numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss"]))
