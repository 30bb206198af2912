from pathlib import Path

import pytest

from cranial_sct.training.config import load_config
from tests.training.conftest import write_toy_cohort

CONFIGS = sorted((Path(__file__).parents[2] / "configs").glob("*.yaml"))
CASCADE = Path(__file__).parents[2] / "configs" / "cascade_resunet.yaml"


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_example_configs_are_valid(path: Path) -> None:
    load_config(path)


@pytest.mark.slow
def test_train_command_runs_and_refuses_bad_config(cli, tmp_path: Path) -> None:
    root = write_toy_cohort(tmp_path / "cohort", subjects=2, fields=("1.5",))
    common = ["--set", f"data.root={root}", "--set", f"run_dir={tmp_path / 'run'}", "--set", "model.features=[4,8]",
              "--set", "sampling.patch_size=[16,16,16]", "--set", "train.threads=1", "--set", "data.val_count=1"]
    bad = cli("train", "--config", CASCADE, *common, "--set", "model.widht=3")
    assert bad.returncode == 2 and "unknown key 'widht'" in bad.stderr and "Traceback" not in bad.stderr
    ok = cli("train", "--config", CASCADE, *common, "--set", "train.steps=2", "--set", "sampling.num_workers=0",
             "--deterministic")
    assert ok.returncode == 0, ok.stderr[-2000:]
    run_dir = tmp_path / "run"
    assert (run_dir / "checkpoints" / "last.pt").is_file() and (run_dir / "metrics.csv").is_file()
    assert load_config(run_dir / "config.yaml").deterministic is True
    assert "step/s" in ok.stderr or "s/step" in ok.stderr  # the progress bar with its rate
    again = cli("train", "--config", CASCADE, *common, "--set", "train.steps=3", "--set", "sampling.num_workers=0", "--resume")
    assert again.returncode == 0, again.stderr[-2000:]
