"""Physics-based multi-field digital head phantom: the built-in paired MR/CT data set."""

from cranial_sct.phantom.cohort import simulate_cohort
from cranial_sct.phantom.subject import PhantomSubject, simulate_subject
from cranial_sct.phantom.tissues import Tissue, three_class_map

__all__ = ["PhantomSubject", "Tissue", "simulate_cohort", "simulate_subject", "three_class_map"]
