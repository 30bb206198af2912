"""The stage-1 tissue classes and the Hounsfield-unit constants every part of the package shares.

One home, so the model's coupling bounds, the stage-1 targets, the skull of a model without a
segmentation head, the bulk-density baseline and the metrics cannot drift apart.
"""

from __future__ import annotations

CLASSES: tuple[str, ...] = ("air", "soft", "bone")
AIR, SOFT, BONE = 0, 1, 2

HU_AIR = -1000.0  # the sCT outside the head and the value stage 1's air class stands for
HU_MIN, HU_MAX = -1024.0, 3071.0  # the range of a 12-bit CT (SynthRAD2025's clip); every sCT is clipped to it
AIR_BELOW_HU = -400.0  # reference CT below this is air (sinus, mastoid cells, outside)
BONE_THRESHOLD_HU = 300.0  # reference CT above this is bone; the soft-tissue HU head stays below it
