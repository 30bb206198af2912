"""Inference: the window engine (:mod:`.engine`) and one case's prediction on its own grid (:mod:`.predict`)."""

from cranial_sct.inference.engine import mirror_flips, run_windows
from cranial_sct.inference.predict import Prediction, check_contrasts, load_models, ood_warnings, predict_volume

__all__ = ["Prediction", "check_contrasts", "load_models", "mirror_flips", "ood_warnings", "predict_volume", "run_windows"]
