"""Training: typed config, the manifest dataset, bone-centred patches, losses, checkpoints, the loop."""
