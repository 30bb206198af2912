"""cranial-sct: cranial synthetic CT from MRI across field strengths."""

__version__ = "0.2.0"
