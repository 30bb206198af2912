"""Report figures as PNG bytes: metric box plots and MR / CT / sCT / error / skull image panels.

Matplotlib runs on the non-interactive Agg backend so figures render on headless machines.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.image import AxesImage  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from cranial_sct.io.volume import Volume  # noqa: E402

CT_WINDOW = (-1000.0, 1600.0)  # HU shown black to white: air to dense cortical bone
ERROR_LIMIT = 500.0  # HU at either end of the signed error colour scale
METHOD_COLOURS = plt.get_cmap("tab10").colors
# skull overlay classes: 1 = predicted only (false positive), 2 = CT only (missed), 3 = both
ERROR_CMAP = plt.get_cmap("RdBu_r").with_extremes(bad="#dfe3e8")  # grey where not measured
OVERLAY_COLOURS = ListedColormap([(0, 0, 0, 0), (0.95, 0.2, 0.6, 0.85), (0.1, 0.75, 0.95, 0.85), (1.0, 0.85, 0.1, 0.85)])


def png_bytes(figure: plt.Figure) -> bytes:
    """Render and close ``figure``; PNG at 110 dpi keeps the HTML small but sharp."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight", facecolor="white")
    plt.close(figure)
    return buffer.getvalue()


def _colour(index: int) -> tuple[float, float, float]:
    return METHOD_COLOURS[index % len(METHOD_COLOURS)]


def metric_boxplots(
    rows: Sequence[Mapping[str, Any]], metrics: Sequence[tuple[str, str]], fields: Sequence[str], methods: Sequence[str]
) -> bytes:
    """One panel per (metric, label): a box per method within each field strength, cases as dots."""
    figure, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.8), squeeze=False)
    width = 0.8 / max(len(methods), 1)
    rng = np.random.default_rng(0)  # fixed jitter: the same data gives the same picture
    for ax, (metric, label) in zip(axes[0], metrics):
        for m, method in enumerate(methods):
            positions, data = [], []
            for f, field in enumerate(fields):
                values = [r[metric] for r in rows if r["method"] == method and r["field_T"] == field and np.isfinite(r[metric])]
                if values:
                    positions.append(f + (m - (len(methods) - 1) / 2) * width)
                    data.append(values)
            if not data:
                continue
            colour = _colour(m)
            boxes = ax.boxplot(data, positions=positions, widths=width * 0.85, patch_artist=True, showfliers=False, manage_ticks=False)
            for patch in boxes["boxes"]:
                patch.set(facecolor=(*colour, 0.35), edgecolor=colour)
            for part in ("whiskers", "caps", "medians"):
                for line in boxes[part]:
                    line.set_color(colour)
            for position, values in zip(positions, data):
                jitter = rng.uniform(-width * 0.2, width * 0.2, len(values))
                ax.plot(position + jitter, values, "o", ms=3, color=colour, alpha=0.8)
        ax.set_xticks(range(len(fields)), [f"{field} T" for field in fields])
        ax.set_title(label, fontsize=11)
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    handles = [Patch(facecolor=(*_colour(m), 0.35), edgecolor=_colour(m), label=method) for m, method in enumerate(methods)]
    figure.legend(handles=handles, loc="upper center", ncol=len(methods), frameon=False, bbox_to_anchor=(0.5, 1.08))
    figure.tight_layout()
    return png_bytes(figure)


@dataclass(frozen=True)
class PanelCase:
    """What one row of an image panel shows: the volumes of one case and its caption."""

    caption: str
    ct: Volume
    sct: Volume
    mask: np.ndarray
    skull: np.ndarray
    bone: np.ndarray
    mr: Volume | None


def _axial(volume: Volume, array: np.ndarray | None = None) -> np.ndarray:
    """The array (default: the volume's) turned to RAS so axis 2 runs inferior to superior."""
    ornt = nib.orientations.io_orientation(volume.affine)
    return nib.orientations.apply_orientation(volume.array if array is None else array, ornt)


def _slice_and_crop(case: PanelCase) -> tuple[list[np.ndarray], tuple[float, float]]:
    """Axial slices through the head's centre, cropped to the head with a small margin.

    Returned transposed for ``imshow(origin="lower")``: patient right on the right, anterior up.
    """
    mask = _axial(case.ct, case.mask.astype(np.uint8)) > 0
    index = np.argwhere(mask)
    lo, hi = np.maximum(index.min(0) - 3, 0), index.max(0) + 4
    k = (lo[2] + hi[2]) // 2
    volumes = [case.mr.array if case.mr is not None else None, case.ct.array, case.sct.array, case.skull, case.bone, case.mask]
    slices = [None if v is None else _axial(case.ct, np.asarray(v))[lo[0] : hi[0], lo[1] : hi[1], k].T for v in volumes]
    target_axis = nib.orientations.io_orientation(case.ct.affine)[:, 0].astype(int)
    spacing = np.asarray(case.ct.spacing)[np.argsort(target_axis)]  # spacing along the RAS axes
    return slices, (float(spacing[0]), float(spacing[1]))


def _draw_case(row: Sequence[plt.Axes], slices: Sequence[np.ndarray | None], aspect: float) -> AxesImage:
    """One panel row: MR, CT, sCT, masked signed error, skull overlay on CT; returns the error image."""
    mr, ct, sct, skull, bone, mask = slices
    shown = {"origin": "lower", "aspect": aspect}
    if mr is None:
        row[0].text(0.5, 0.5, "MR not found", ha="center", va="center", transform=row[0].transAxes, color="grey")
    else:
        row[0].imshow(mr, cmap="gray", vmin=np.percentile(mr, 1), vmax=np.percentile(mr, 99.5), **shown)
    for ax, image in ((row[1], ct), (row[2], sct), (row[4], ct)):
        ax.imshow(image, cmap="gray", vmin=CT_WINDOW[0], vmax=CT_WINDOW[1], **shown)
    error = np.ma.masked_where(mask == 0, sct - ct)  # outside the head the error is not measured
    error_image = row[3].imshow(error, cmap=ERROR_CMAP, vmin=-ERROR_LIMIT, vmax=ERROR_LIMIT, **shown)
    overlay = (skull > 0).astype(int) + 2 * (bone > 0).astype(int)
    row[4].imshow(overlay, cmap=OVERLAY_COLOURS, vmin=0, vmax=3, interpolation="nearest", **shown)
    for ax in row:
        ax.set_xticks([])
        ax.set_yticks([])
    return error_image


def case_panels(cases: Sequence[PanelCase]) -> bytes:
    """Rows of MR, CT, sCT, signed error (sCT - CT) and skull overlay, one row per case."""
    window = f"[{CT_WINDOW[0]:g}, {CT_WINDOW[1]:g}] HU"
    columns = ("MR", f"CT {window}", f"sCT {window}", "error sCT - CT (HU)", "skull: predicted vs CT bone")
    prepared = [_slice_and_crop(case) for case in cases]
    (first, (sx, sy)) = prepared[0]
    row_height = 2.7 * first[1].shape[0] * sy / (first[1].shape[1] * sx) + 0.35  # image height at 2.7 in wide
    figure, axes = plt.subplots(len(cases), len(columns), figsize=(3.0 * len(columns), row_height * len(cases)), squeeze=False)
    for row, case, (slices, (sx, sy)) in zip(axes, cases, prepared):
        error_image = _draw_case(row, slices, aspect=sy / sx)
        row[0].set_ylabel(case.caption, fontsize=9)
    for ax, name in zip(axes[0], columns):
        ax.set_title(name, fontsize=10)
    legend = [Patch(color=OVERLAY_COLOURS(i), label=label) for i, label in ((3, "both"), (1, "predicted only"), (2, "CT bone only"))]
    axes[-1][4].legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=3, fontsize=7, frameon=False, handlelength=1)
    colorbar_axes = axes[-1][3].inset_axes((0.05, -0.07, 0.9, 0.04))  # under the column: images keep one size
    figure.colorbar(error_image, cax=colorbar_axes, orientation="horizontal").ax.tick_params(labelsize=7)
    figure.subplots_adjust(wspace=0.06, hspace=0.06)
    return png_bytes(figure)


def metric_by_field(
    groups: Sequence[Mapping[str, Any]], metrics: Sequence[tuple[str, str]], fields: Sequence[str], methods: Sequence[str]
) -> bytes:
    """The paper's central figure: each metric's mean with its 95 % CI against field strength, a line per method.

    ``groups`` are ``summarise`` records keyed by method and field_T. Field strength is on a log axis, so
    0.064 T and 7 T both stay readable; an ``unknown`` field has no place on it and is left out; a field with
    fewer than two cases has no CI bar.
    """
    figure, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.3), squeeze=False)
    tesla = {field: float(field) for field in fields if field.replace(".", "", 1).isdigit()}
    for ax, (metric, label) in zip(axes[0], metrics):
        for m, method in enumerate(methods):
            points = [(tesla[g["field_T"]], g[metric]) for g in groups if g["method"] == method and g["field_T"] in tesla]
            points = sorted((x, s) for x, s in points if np.isfinite(s["mean"]))
            if not points:
                continue
            x = np.array([p[0] for p in points]) * (1 + 0.04 * (m - (len(methods) - 1) / 2))  # side by side, not on top
            mean = np.array([p[1]["mean"] for p in points])
            low = np.array([p[1].get("ci95_low", np.nan) for p in points])
            high = np.array([p[1].get("ci95_high", np.nan) for p in points])
            error = np.nan_to_num(np.stack([mean - low, high - mean]), nan=0.0)
            ax.errorbar(x, mean, yerr=error, marker="o", ms=5, capsize=3, lw=1.6, color=_colour(m), label=method)
        ax.set_xscale("log")
        ax.set_xticks(list(tesla.values()), [f"{field} T" for field in tesla])
        ax.minorticks_off()
        ax.set_title(label, fontsize=11)
        ax.grid(alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="upper center", ncol=max(len(labels), 1), frameon=False, bbox_to_anchor=(0.5, 1.1))
    figure.tight_layout()
    return png_bytes(figure)
