import pickle
import zipfile
from pathlib import Path

import pytest
import torch

from cranial_sct.errors import InputError
from cranial_sct.models.conditioning import encode_condition
from cranial_sct.training import checkpoint
from cranial_sct.training.checkpoint import export_for_inference, load_for_inference, read_checkpoint, save_checkpoint
from cranial_sct.training.config import load_config
from cranial_sct.training.trainer import train



@pytest.fixture(scope="module")
def trained(toy_cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("ck") / "run"
    config = load_config(None, [
        f"data.root={toy_cohort}", f"run_dir={run_dir}", "model.features=[4,8]", "model.contrasts=[t1w,flair]",
        "sampling.patch_size=[16,16,16]", "train.steps=2", "train.steps_per_epoch=2", "train.checkpoint_every=1",
    ])
    return train(config) / "checkpoints" / "last.pt"


def test_checkpoint_loads_with_weights_only_and_holds_everything_to_resume(trained: Path) -> None:
    state = torch.load(trained, weights_only=True)
    assert state["step"] == 2 and state["version"] and state["format"] == checkpoint.FORMAT
    assert {"model", "optimizer", "scheduler", "scaler", "rng", "config", "stats", "plan"} <= set(state)
    assert state["stats"]["fields_seen"] == ["1.5", "3"]
    plan = state["plan"]
    assert plan["spacing_mm"] == [4.0, 4.0, 4.0] and plan["orientation"] == "RAS" and plan["head_mask"] == "mr-log-otsu"
    assert plan["n4"] is False and plan["normalisation"] == "percentile" and plan["crop_margin_mm"] == 10.0
    assert set(plan["intensity_stats"]["t1w"]) == {"mean", "std", "p1", "p50", "p99"}


def test_load_for_inference_rebuilds_the_trained_model(trained: Path) -> None:
    model, info = load_for_inference(trained)
    assert not model.training
    assert info.contrasts == ["t1w", "flair"] and info.plan.normalisation == "percentile" and info.patch_size == [16, 16, 16]
    assert info.fields_seen == ["1.5", "3"] and info.contrasts_seen == ["flair", "t1w"] and info.step == 2
    assert info.mirror_axes == [0]  # left-right mirroring in training: the one axis test-time augmentation may flip
    out = model(torch.zeros(1, 2, 16, 16, 16), encode_condition(None, ["t1w"])[None])
    assert out["hu"].shape == (1, 1, 16, 16, 16)
    torch.testing.assert_close(model.state_dict()["hu_head.weight"], read_checkpoint(trained)["model"]["hu_head.weight"])


def test_weights_for_another_architecture_are_refused(trained: Path, tmp_path: Path) -> None:
    state = read_checkpoint(trained)
    state["model"]["hu_head.weight"] = torch.zeros(2, 8, 1, 1, 1)
    save_checkpoint(tmp_path / "bad.pt", {k: v for k, v in state.items() if k not in ("format", "version")})
    with pytest.raises(InputError, match="bad.pt: weights do not fit the model"):
        load_for_inference(tmp_path / "bad.pt")


def foreign_files(folder: Path, trained: Path) -> dict[str, tuple[Path, str]]:
    """Files users mistake for checkpoints, each with the phrase its one-line refusal must hold."""
    def write(name: str, data: bytes) -> Path:
        (folder / name).write_bytes(data)
        return folder / name

    with zipfile.ZipFile(folder / "archive.pt", "w") as archive:
        archive.writestr("notes.txt", "a zip, but no torch archive")
    pickle.dump({"model": [1, 2]}, open(folder / "pickled.pt", "wb"))
    torch.save(torch.nn.Linear(2, 2), folder / "whole-model.pt")
    torch.save({"weights": torch.zeros(1)}, folder / "foreign.pt")
    state = torch.load(trained, weights_only=True)
    torch.save({k: v for k, v in state.items() if k != "stats"}, folder / "no-stats.pt")
    torch.save({**state, "model": {"w": "text"}}, folder / "text-weights.pt")
    torch.save({**state, "model": {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v for k, v in state["model"].items()}},
               folder / "nan-weights.pt")
    return {
        "empty": (write("empty.pt", b""), "an empty file, not a cranial-sct checkpoint"),
        "short": (write("short.pt", b"\x80\x02}q"), "a plain pickle"),
        "random": (write("random.pt", bytes(range(7, 250)) * 9), "not a zip archive"),
        "truncated": (write("truncated.pt", trained.read_bytes()[:5000]), "corrupt or truncated zip archive"),
        "zip": (folder / "archive.pt", "a zip archive that is not a PyTorch file"),
        "hdf5": (write("keras.h5.pt", b"\x89HDF\r\n\x1a\n" + bytes(64)), "an HDF5 file"),
        "safetensors": (write("model.safetensors", (2).to_bytes(8, "little") + b"{}"), "a safetensors file"),
        "pickle-only": (folder / "pickled.pt", "a plain pickle"),
        "whole model": (folder / "whole-model.pt", "holds Python objects beyond tensors"),
        "foreign keys": (folder / "foreign.pt", "not a cranial-sct checkpoint"),
        "missing key": (folder / "no-stats.pt", "cranial-sct checkpoint without stats"),
        "wrong type": (folder / "text-weights.pt", "damaged cranial-sct checkpoint (model is not"),
        "nan weights": (folder / "nan-weights.pt", "the weights hold NaN/Inf"),
    }


def test_missing_corrupt_and_foreign_files_are_refused_saying_what_was_expected(trained: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_checkpoint(tmp_path / "none.pt")
    with pytest.raises(InputError, match="a folder, not a checkpoint"):
        read_checkpoint(tmp_path)
    for kind, (path, phrase) in foreign_files(tmp_path, trained).items():
        with pytest.raises(InputError) as refused:
            load_for_inference(path)
        message = str(refused.value)
        assert message.startswith(str(path)) and phrase in message and "\n" not in message, (kind, message)


def test_a_write_that_dies_midway_leaves_the_last_good_checkpoint(trained: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    good = trained.read_bytes()

    def dying_save(obj: object, path: Path) -> None:
        Path(path).write_bytes(b"half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint.torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(trained, {"step": 3})
    assert trained.read_bytes() == good
    assert [p.name for p in trained.parent.iterdir() if p.name.startswith(".partial")] == []


def test_fine_tuning_keeps_the_source_models_input_plan(trained: Path, toy_cohort: Path) -> None:
    """Weights trained on 4-mm inputs are fine-tuned on 4-mm inputs, whatever the new config says."""
    from cranial_sct.training.trainer import build_input_plan

    config = load_config(None, [f"data.root={toy_cohort}", f"init_from={trained}", "data.spacing_mm=[2.0]", "data.n4=true"])
    plan = build_input_plan(config, "sub-00")
    assert plan.spacing_mm == [4.0, 4.0, 4.0] and not plan.n4 and plan.intensity_stats == {}


def test_export_keeps_what_prediction_needs_and_the_training_version(trained: Path, tmp_path: Path) -> None:
    exported = export_for_inference(trained, tmp_path / "model.pt", recipe="two toy steps")
    state = torch.load(exported, weights_only=True)
    assert set(state) == {"format", "version", "step", "config", "model", "plan", "stats", "recipe"}
    assert state["version"] == read_checkpoint(trained)["version"]
    _, info = load_for_inference(exported)
    assert info.recipe == "two toy steps" and info.plan.spacing_mm == [4.0, 4.0, 4.0]
    assert exported.stat().st_size < trained.stat().st_size / 2


def test_export_blends_a_fine_tuned_model_with_the_one_it_started_from(cli, trained: Path, tmp_path: Path) -> None:
    """WiSE-FT: a quarter of the fine-tuned weights and three quarters of the start's, the rest of the file the
    fine-tuned model's; a start of another architecture is refused in one line."""
    state = read_checkpoint(trained)
    start = save_checkpoint(tmp_path / "start.pt", {**state, "model": {k: v - 1.0 if v.is_floating_point() else v
                                                                       for k, v in state["model"].items()}})
    result = cli("export", "--checkpoint", trained, "--blend-with", start, "--blend", "0.25", "--out", tmp_path / "wise.pt")
    assert result.returncode == 0, result.stderr
    blended = read_checkpoint(tmp_path / "wise.pt")
    floating = [name for name, weight in state["model"].items() if weight.is_floating_point()]
    assert floating and all(torch.allclose(blended["model"][n], state["model"][n] - 0.75) for n in floating)
    assert blended["plan"] == state["plan"] and blended["step"] == state["step"]

    wider = dict(state["config"], model={**state["config"]["model"], "features": [4, 8, 16]})
    save_checkpoint(tmp_path / "wider.pt", {**state, "config": wider})
    result = cli("export", "--checkpoint", trained, "--blend-with", tmp_path / "wider.pt", "--out", tmp_path / "bad.pt")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "wider.pt: checkpoint is for another architecture (model.features" in result.stderr
    assert not (tmp_path / "bad.pt").exists()


def test_export_to_a_folder_or_a_full_disk_is_one_line(cli, trained: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli("export", "--checkpoint", trained, "--out", tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "is a folder; give a file name" in result.stderr

    def full_disk(obj: object, path: Path) -> None:
        Path(path).write_bytes(b"half")
        raise RuntimeError("[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0\nPytorchStreamWriter failed writing file data/0: file write failed")

    monkeypatch.setattr(checkpoint.torch, "save", full_disk)
    with pytest.raises(InputError, match="model.pt: cannot write the checkpoint .*file write failed"):
        export_for_inference(trained, tmp_path / "model.pt")
    assert list(tmp_path.iterdir()) == []
