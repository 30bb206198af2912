"""Preparing images for the model: geometry, masks, bias correction, intensity normalisation."""
