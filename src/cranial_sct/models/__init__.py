"""Networks and the classical baseline: plain ``torch.nn.Module``s that never touch disk.

Build them by name with :func:`cranial_sct.models.registry.build_model`.
"""
