"""The only layer that touches files: volumes, DICOM, manifests, atomic writes."""

from cranial_sct.io.volume import Volume

__all__ = ["Volume"]
