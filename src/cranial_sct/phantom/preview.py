"""A PNG contact sheet of one subject: rows are field strengths, columns each contrast, CT and labels;
every cell shows a mid-axial (left) and a mid-coronal (right) slice."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from cranial_sct.io.atomic import atomic_path  # noqa: E402
from cranial_sct.io.volume import Volume  # noqa: E402
from cranial_sct.phantom.subject import PhantomSubject  # noqa: E402
from cranial_sct.phantom.tissues import Tissue  # noqa: E402

AXIAL_Z_MM, CORONAL_Y_MM = 12.0, -8.0  # through the lateral ventricles and temporal lobes
CT_WINDOW = (-250.0, 1750.0)


def _index(volume: Volume, axis: int, world_mm: float) -> int:
    position = (world_mm - volume.affine[axis, 3]) / volume.affine[axis, axis]
    return int(np.clip(round(position), 0, volume.shape[axis] - 1))


def axial_coronal(volume: Volume) -> np.ndarray:
    """Axial and coronal slices side by side, anterior/superior up, padded to a common height."""
    axial = volume.array[:, :, _index(volume, 2, AXIAL_Z_MM)].T[::-1]
    coronal = volume.array[:, _index(volume, 1, CORONAL_Y_MM), :].T[::-1]
    height = max(axial.shape[0], coronal.shape[0])
    pad = [np.pad(s.astype(np.float32), ((0, height - s.shape[0]), (0, 0)), constant_values=s.min())
           for s in (axial, coronal)]
    return np.concatenate(pad, axis=1)


def write_preview(subject: PhantomSubject, path: Path) -> Path:
    fields = sorted({f for f, _ in subject.mr})
    contrasts = list(dict.fromkeys(c for _, c in subject.mr))
    columns = contrasts + ["CT", "labels"]
    figure, axes = plt.subplots(len(fields), len(columns), figsize=(3.2 * len(columns), 1.9 * len(fields)),
                                squeeze=False)
    inside = subject.mask.array > 0
    for row, field_t in enumerate(fields):
        for col, name in enumerate(columns):
            ax = axes[row, col]
            if name == "CT":
                ax.imshow(axial_coronal(subject.ct), cmap="gray", vmin=CT_WINDOW[0], vmax=CT_WINDOW[1])
            elif name == "labels":
                ax.imshow(axial_coronal(subject.labels), cmap="tab20", vmin=0, vmax=len(Tissue) + 2,
                          interpolation="nearest")
            else:
                volume = subject.mr[(field_t, name)]
                top = np.percentile(volume.array[inside], 99.5)
                ax.imshow(axial_coronal(volume), cmap="gray", vmin=0, vmax=top)
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(name)
            if col == 0:
                ax.set_ylabel(f"{field_t:g} T")
    figure.suptitle(f"{subject.subject_id}: axial | coronal")
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=110)
    plt.close(figure)
    return path
