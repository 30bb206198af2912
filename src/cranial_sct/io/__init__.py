"""The only layer that touches files: volumes, DICOM, manifests, atomic writes.

``read_volume`` reads any supported input into a checked ``Volume``; ``write_volume`` writes one in
the format its extension names (NIfTI, MHA, NRRD); DICOM CT series are in ``dicom_write``.
"""

from cranial_sct.io.readers import read_volume
from cranial_sct.io.volume import Volume
from cranial_sct.io.writers import write_volume

__all__ = ["Volume", "read_volume", "write_volume"]
