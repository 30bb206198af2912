from pathlib import Path

import pytest
import yaml

from cranial_sct.errors import InputError
from cranial_sct.training.config import TrainConfig, load_config, save_config, to_dict

ROOT = "data.root=/data"


def test_yaml_and_overrides_give_typed_values(tmp_path: Path) -> None:
    (tmp_path / "run.yaml").write_text("data:\n  root: /data\n  fields: [1.5, 3]\nmodel:\n  backbone: mamba\noptim:\n  lr: 1e-3\n")
    config = load_config(tmp_path / "run.yaml", ["train.steps=7", "model.features=[8,16]", "sampling.bone_fraction=1"])
    assert config.data.fields == ["1.5", "3"] and config.model.backbone == "mamba" and config.optim.lr == 1e-3
    assert config.train.steps == 7 and config.model.features == [8, 16] and config.sampling.bone_fraction == 1.0
    assert config.loss == TrainConfig().loss  # untouched sections keep their defaults


def test_saved_config_reloads_to_the_same_config(tmp_path: Path) -> None:
    config = load_config(None, [ROOT, "model.kind=direct", "augment.enabled=false"])
    save_config(config, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == config
    assert yaml.safe_load((tmp_path / "config.yaml").read_text()) == to_dict(config)


@pytest.mark.parametrize(
    "override, message",
    [
        ("model.depth=3", "config.model: unknown key 'depth'"),
        ("trian.steps=3", "config: unknown key 'trian'"),
        ("train.steps=many", "config.train.steps: must be int, got 'many'"),
        ("train.steps=2.5", "config.train.steps: must be int"),
        ("augment.enabled=maybe", "config.augment.enabled: must be bool"),
        ("model.backbone=unet", "config.model.backbone: must be one of resunet, mamba, transformer"),
        ("sampling.patch_size=64", "config.sampling.patch_size: must be a list"),
        ("sampling.patch_size=[64,x,64]", r"config.sampling.patch_size\[1\]: must be int"),
        ("sampling.bone_fraction=1.5", "bone_fraction must be within"),
        ("augment.fat_gain_range=[1.0,0.5]", r"augment.fat_gain_range must be \[low, high\]"),
        ("augment.marrow_probability=2", r"augment.marrow_probability must be within \[0, 1\]"),
        ("train=5", "config.train: expected a mapping"),
        ("steps", "use key=value"),
    ],
)
def test_bad_configs_are_refused_with_the_key_named(override: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_config(None, [ROOT, override])


def test_a_config_states_only_what_it_changes_from_its_base(tmp_path: Path) -> None:
    (tmp_path / "phase1.yaml").write_text("data:\n  root: /data\n  train_subjects: [a, b]\n  val_count: 2\noptim:\n  lr: 2e-3\n")
    (tmp_path / "later").mkdir()
    (tmp_path / "later" / "phase2.yaml").write_text("base: ../phase1.yaml\ninit_from: run/last.pt\ndata:\n  train_subjects: []\n")
    config = load_config(tmp_path / "later" / "phase2.yaml", ["optim.lr=5e-4"])
    assert config.data.root == "/data" and config.data.val_count == 2  # kept from the base
    assert config.data.train_subjects == [] and config.init_from == "run/last.pt" and config.optim.lr == 5e-4
    (tmp_path / "phase1.yaml").write_text("base: later/phase2.yaml\n")
    with pytest.raises(InputError, match="base chain comes back to itself"):
        load_config(tmp_path / "later" / "phase2.yaml")


def test_missing_and_malformed_files_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="config file not found"):
        load_config(tmp_path / "none.yaml")
    (tmp_path / "bad.yaml").write_text("data: [unclosed\n")
    with pytest.raises(InputError, match="bad.yaml: not valid YAML"):
        load_config(tmp_path / "bad.yaml")
    with pytest.raises(InputError, match="data.root must name"):
        load_config(None, [])


def test_training_threads_never_outnumber_the_idle_cores(monkeypatch) -> None:
    from cranial_sct.training.trainer import cpu_threads

    monkeypatch.setattr("os.sched_getaffinity", lambda _: {0, 1, 2, 3})
    busy = "cranial_sct.training.trainer.busy_cores"
    monkeypatch.setattr(busy, lambda: 0.1)
    quiet = load_config(None, ["data.root=x", "sampling.num_workers=1"])
    assert cpu_threads(quiet) == 3 and cpu_threads(quiet, world_size=2) == 1
    monkeypatch.setattr(busy, lambda: 2.2)  # two cores already busy
    assert cpu_threads(quiet) == 2
    monkeypatch.setattr(busy, lambda: 6.0)
    assert cpu_threads(quiet) == 1
    assert cpu_threads(load_config(None, ["data.root=x", "train.threads=3"])) == 3


def test_busy_cores_sees_another_process() -> None:
    """A spinning child counts as (about) one busy core; the measurement runs while this process sleeps."""
    import subprocess
    import sys
    import time

    from cranial_sct.training.trainer import busy_cores

    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        assert busy_cores() >= 0.7
    finally:
        spinner.kill()
        spinner.wait()


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[2] / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_config_loads(path: Path) -> None:
    load_config(path)


def test_the_built_in_recipe_refines_its_first_phase_on_the_whole_cohort() -> None:
    configs = Path(__file__).parents[2] / "configs"
    first, second = load_config(configs / "builtin.yaml"), load_config(configs / "builtin_refine.yaml")
    assert second.init_from == f"{first.run_dir}/checkpoints/last.pt" and second.data.root == first.data.root
    assert len(first.data.train_subjects) == 14 and second.data.train_subjects == [] and second.model == first.model
