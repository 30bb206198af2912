"""One self-contained HTML report from an evaluation folder (figures embedded as base64 PNG).

It leads with the answer the project exists to give: does the cascade hold across field strengths
better than the direct network and bulk density? A headline table (head MAE, bone MAE, skull Dice with
95 % CIs, and cascade's paired difference from each baseline) above the metric-vs-field plot. Then
fine-tuned variants, box plots, best / median / worst image panels per field strength, and, collapsed,
every metric, the all-pairs tests, per-contrast details and the run's settings and versions.
A single file with no external assets, so it can be mailed, archived or opened offline.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cranial_sct.errors import InputError
from cranial_sct.evaluation.evaluate import (
    CASE_KEYS,
    METRICS_CSV,
    SUMMARY_JSON,
    PredictedCase,
    find_predictions,
    find_reference,
    predicted_skull,
)
from cranial_sct.evaluation.figures import PanelCase, case_panels, metric_boxplots, metric_by_field
from cranial_sct.evaluation.metrics import reference_bone
from cranial_sct.io import read_volume
from cranial_sct.io.atomic import atomic_path

LABELS = {
    "mae": "Head MAE (HU)", "me": "ME (HU)", "psnr": "PSNR (dB)", "ssim": "SSIM", "ms_ssim": "MS-SSIM",
    "mae_bone": "Bone MAE (HU)", "mae_soft": "Soft-tissue MAE (HU)", "mae_air": "Air MAE (HU)",
    "dice_vault": "Skull Dice, vault", "dice_base": "Skull Dice, base + face", "mae_vault": "MAE above the vault's floor (HU)",
    "mae_base": "MAE under the vault's floor (HU)",
    "dice": "Skull Dice", "jaccard": "Skull Jaccard", "hd95_mm": "Skull HD95 (mm)", "mu_rel_error_pct": "μ-map error (%)",
    "uncertainty_spearman": "Uncertainty–error ρ",
}
TASK_LABELS = {
    "proton_wepl_median_mm": "WEPL diff median (mm)", "proton_wepl_p95_mm": "|WEPL diff| p95 (mm)",
    "proton_wepl_worst_mm": "|WEPL diff| worst (mm)", "proton_within_1mm_pct": "beams within 1 mm (%)",
    "proton_within_3pct_pct": "beams within 3 % (%)", "pet_acf_error_mean_pct": "ACF error mean (%)",
    "pet_acf_error_p5_pct": "ACF error p5 (%)", "pet_acf_error_p95_pct": "ACF error p95 (%)",
    "pet_bias_brain_pct": "PET bias brain (%)", "pet_bias_cortex_pct": "PET bias cortex (%)",
    "pet_bias_deep_gm_pct": "PET bias deep GM (%)", "pet_bias_cerebellum_pct": "PET bias cerebellum (%)",
    "us_cortical_pressure_diff_pct": "US cortical focal pressure (%)", "us_cortical_shift_mm": "US cortical focus shift (mm)",
    "us_cortical_area_diff_pct": "US cortical -6 dB area (%)", "us_deep_pressure_diff_pct": "US deep focal pressure (%)",
    "us_deep_shift_mm": "US deep focus shift (mm)", "us_deep_area_diff_pct": "US deep -6 dB area (%)",
}
HIGHER_IS_BETTER = {"psnr", "ssim", "ms_ssim", "dice", "dice_vault", "dice_base", "jaccard", "uncertainty_spearman", "proton_within_1mm_pct", "proton_within_3pct_pct"}
SIGNED_METRICS = {"me", "proton_wepl_median_mm", "pet_acf_error_mean_pct", "pet_acf_error_p5_pct", "pet_acf_error_p95_pct",
                  *(m for m in TASK_LABELS if m.startswith("pet_bias") or m.endswith("diff_pct"))}  # best when closest to zero
DECIMALS = {"ssim": 3, "ms_ssim": 3, "dice": 3, "dice_vault": 3, "dice_base": 3, "jaccard": 3, "uncertainty_spearman": 2, "hd95_mm": 2, "psnr": 2, "mu_rel_error_pct": 2}
BOXPLOT_METRICS = ("mae", "mae_bone", "dice")
HEADLINE_METRICS = BOXPLOT_METRICS
HEADLINE_KINDS = ("cascade", "direct", "bulk-density")  # the method and its two baselines, in this order
HEADLINE_TITLE = "Does the cascade hold across field strengths?"
FINETUNED = re.compile(r"-ft\d+$")  # benchmark methods fine-tuned on k subjects of the target field
TESTED_METRICS = ("mae", "mae_bone", "dice", "hd95_mm", "ssim", "ms_ssim")
SIGNIFICANCE = 0.05

STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1d2733; margin: 0; background: #f4f6f8; }
main { max-width: 1320px; margin: 0 auto; padding: 24px 32px 48px; background: white; }
h1 { font-size: 24px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 32px 0 8px; border-bottom: 2px solid #d8dee6; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 20px 0 6px; } p.meta, p.note { color: #5b6775; font-size: 13px; margin: 4px 0; }
table { border-collapse: collapse; font-size: 12.5px; margin: 6px 0 12px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid #e3e8ee; text-align: right; white-space: nowrap; }
th { background: #eef2f6; font-weight: 600; white-space: normal; vertical-align: bottom; min-width: 52px; }
div.scroll { overflow-x: auto; } tr.sep td { border-top: 2px solid #b9c3ce; } td.key, th.key { text-align: left; }
tr:nth-child(even) td { background: #fafbfc; } td.best { font-weight: 700; color: #0b5394; }
td.sig { font-weight: 700; color: #a1123c; } td.na { color: #9aa4af; }
td small { display: block; color: #5b6775; font-size: 11px; white-space: normal; } td small.sig { color: #a1123c; font-weight: 600; }
div.headline table { width: 100%; } div.headline img { max-height: 330px; margin: 4px auto 0; }
img { max-width: 100%; display: block; margin: 8px 0 16px; } details summary { cursor: pointer; font-weight: 600; margin: 12px 0; }
pre { background: #f6f8fa; border: 1px solid #e3e8ee; padding: 8px 12px; font-size: 12px; overflow-x: auto; max-height: 420px; }
code { background: #eef2f6; padding: 1px 4px; border-radius: 3px; font-size: 12px; }
"""


def read_evaluation(eval_dir: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-case rows (metric columns as floats) and the summary written by ``evaluate``."""
    eval_dir = Path(eval_dir)
    csv_path, json_path = eval_dir / METRICS_CSV, eval_dir / SUMMARY_JSON
    for path in (csv_path, json_path):
        if not path.is_file():
            raise InputError(f"--eval {eval_dir}: no {path.name}; run `cranial-sct evaluate --out {eval_dir}` first")
    summary = json.loads(json_path.read_text())
    with open(csv_path, newline="") as handle:
        rows = [{k: float(v) if k in summary["metrics"] else v for k, v in row.items()} for row in csv.DictReader(handle)]
    return rows, summary


def _field_order(field: str) -> tuple[int, float]:
    try:
        return (0, float(field))
    except ValueError:
        return (1, 0.0)  # "unknown" last


def _number(value: float | None, metric: str) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.{DECIMALS.get(metric, 1)}f}"


def _table(header: Sequence[str], body: Sequence[Sequence[tuple[str, str]]], keys: int, grouped: bool = False) -> str:
    """HTML table; each cell is (text, css class); the first ``keys`` columns are left-aligned.

    ``grouped`` draws a rule above each new value of the first column (e.g. field strength).
    """
    head = "".join(f'<th class="{"key" if i < keys else ""}">{html.escape(h)}</th>' for i, h in enumerate(header))
    rows, previous = "", None
    for row in body:
        separator = ' class="sep"' if grouped and previous is not None and row[0] != previous else ""
        rows += f"<tr{separator}>" + "".join(f'<td class="{cls}">{text}</td>' for text, cls in row) + "</tr>"
        previous = row[0]
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'


def _badness(metric: str, mean: float | None) -> float:
    """Lower is better: error metrics as they are, similarity negated, mean error by its size."""
    if mean is None or not np.isfinite(mean):
        return np.inf
    return -mean if metric in HIGHER_IS_BETTER else abs(mean) if metric in SIGNED_METRICS else mean


def _metrics_table(groups: Sequence[Mapping[str, Any]], keys: Sequence[str], metrics: Sequence[str]) -> str:
    """mean ± std per group; the best mean within each field strength (and contrast) in bold."""
    best: dict[tuple[Any, ...], dict[str, float]] = {}
    for group in groups:
        context = best.setdefault(tuple(group[k] for k in keys if k != "method"), {})
        for metric in metrics:
            context[metric] = min(context.get(metric, np.inf), _badness(metric, group[metric]["mean"]))
    body = []
    for group in groups:
        context = best[tuple(group[k] for k in keys if k != "method")]
        row = [(html.escape(str(group[k])) + (" T" if k == "field_T" else ""), "key") for k in keys]
        row.append((str(max(group[m]["n"] for m in metrics)), ""))
        for metric in metrics:
            stats = group[metric]
            is_best = len(groups) > 1 and np.isfinite(context[metric]) and _badness(metric, stats["mean"]) == context[metric]
            cell = f"{_number(stats['mean'], metric)} ± {_number(stats['std'], metric)}" if stats["n"] else "–"
            row.append((cell, "best" if is_best else ""))
        body.append(row)
    header = [{"method": "Method", "field_T": "Field", "contrast": "Contrast"}[k] for k in keys] + ["n"] + [_label(m) for m in metrics]
    return _table(header, body, len(keys), grouped=True)


def _tests_table(tests: Sequence[Mapping[str, Any]], keys: Sequence[str], metrics: Sequence[str]) -> str:
    """One row per field (and contrast) and method pair: median difference A - B and p per metric."""
    pairs: dict[tuple[Any, ...], dict[str, Mapping[str, Any]]] = {}
    for test in tests:
        pairs.setdefault((*(test[k] for k in keys), test["method_a"], test["method_b"]), {})[test["metric"]] = test
    body = []
    for key, by_metric in pairs.items():
        row = [(html.escape(str(v)) + (" T" if k == "field_T" else ""), "key") for k, v in zip(keys, key)]
        row.append((f"{html.escape(key[-2])} vs {html.escape(key[-1])}", "key"))
        row.append((str(by_metric[metrics[0]]["n_pairs"]), ""))
        for metric in metrics:
            test = by_metric[metric]
            if test["p"] is None:
                row.append((f'<span title="{html.escape(test["note"])}">n/a</span>', "na"))
            else:
                low, high = test["median_diff_ci95"]
                cell = (f"{_number(test['median_diff'], metric)} [{_number(low, metric)}, {_number(high, metric)}] "
                        f"(p = {test['p']:.3g}, Holm {test['p_holm']:.3g})")
                row.append((cell, "sig" if test["p_holm"] < SIGNIFICANCE else ""))
        body.append(row)
    header = [{"field_T": "Field", "contrast": "Contrast"}[k] for k in keys] + ["Methods (A vs B)", "pairs"] + [_label(m) for m in metrics]
    return _table(header, body, len(keys) + 1, grouped=True)


def _label(metric: str) -> str:
    return LABELS.get(metric) or TASK_LABELS.get(metric, metric)


def embed_png(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _panel_case(row: Mapping[str, Any], label: str, case: PredictedCase, ref_dir: Path, threshold: float) -> PanelCase:
    """Load the volumes of one evaluated case for display."""
    files = find_reference(ref_dir, case.subject)
    ct, sct = read_volume(files.ct), read_volume(case.sct_path)
    mask = np.asarray(read_volume(files.mask).array) > 0
    skull, _ = predicted_skull(case, sct, threshold, files.ct)
    first_contrast = case.contrast.split("+")[0]
    same_field = [p for (field, _), p in sorted(files.mr.items()) if field == case.field_T]
    mr_path = files.mr.get((case.field_T, first_contrast)) or (same_field[0] if same_field else None)
    caption = f"{label}: {case.subject} ({case.contrast})\nMAE {row['mae']:.1f} HU, Dice {row['dice']:.3f}"
    return PanelCase(
        caption, ct, sct, mask, skull & mask, reference_bone(ct.array, mask, threshold), read_volume(mr_path) if mr_path else None
    )


def _panels_section(rows: Sequence[Mapping[str, Any]], method: str, pred_dir: Path, ref_dir: Path, threshold: float) -> str:
    """Best, median and worst case (by MAE) of ``method`` at every field strength."""
    predictions = {tuple(getattr(c, k) for k in CASE_KEYS): c for c in find_predictions(pred_dir)}
    parts = []
    for field in sorted({r["field_T"] for r in rows if r["method"] == method}, key=_field_order):
        ranked = sorted((r for r in rows if r["method"] == method and r["field_T"] == field), key=lambda r: r["mae"])
        chosen = {"best": ranked[0], "median": ranked[(len(ranked) - 1) // 2], "worst": ranked[-1]}
        cases = [
            _panel_case(row, label, predictions[tuple(row[k] for k in CASE_KEYS)], ref_dir, threshold) for label, row in chosen.items()
        ]
        title = f"{method} at {field} T: best, median and worst case by MAE, axial slice through the head centre"
        parts.append(f'<h3>{html.escape(title)}</h3>{embed_png(case_panels(cases), title)}')
    return "".join(parts)


def _settings_section(summary: Mapping[str, Any], config_files: Sequence[Path]) -> str:
    settings = ["preset", "bone_threshold_hu", "air_max_hu", "mu_map", "kvp", "pred_dir", "ref_dir", "created_utc", "n_cases"]
    body = [[(html.escape(k), "key"), (f"<code>{html.escape(str(summary[k]))}</code>", "key")] for k in settings]
    versions = [[(html.escape(k), "key"), (html.escape(v), "key")] for k, v in summary["versions"].items()]
    configs = "".join(f"<h3>{html.escape(str(path))}</h3><pre>{html.escape(path.read_text())}</pre>" for path in config_files)
    return (
        "<h3>Evaluation settings</h3>" + _table(["setting", "value"], body, 2)
        + configs + "<h3>Package versions</h3>" + _table(["package", "version"], versions, 2)
    )


def _default_panel_method(rows: Sequence[Mapping[str, Any]]) -> str:
    """The method with the lowest median MAE over all its cases."""
    methods = sorted({r["method"] for r in rows})
    return min(methods, key=lambda m: float(np.nanmedian([r["mae"] for r in rows if r["method"] == m])))


def _definitions(summary: Mapping[str, Any]) -> str:
    threshold = summary["bone_threshold_hu"]
    structural = (
        "SSIM: clip to [-1024, 3000] HU, outside mask -1024, skimage 7<sup>3</sup> window, "
        "averaged over the mask without a 3-voxel border"
        if summary["preset"] == "synthrad2023"
        else "MS-SSIM: clip to [-1024, 3071] HU, outside mask -1024, 5 levels (SynthRAD2025 code), masked per level"
    )
    return (
        f'<p class="note">Preset <code>{html.escape(summary["preset"])}</code>. All metrics inside the head mask. '
        f"MAE and ME (sCT - CT) unclipped; PSNR over mask voxels after clipping; {structural}. "
        f"Skull: predicted skull vs CT bone (&gt; {threshold:g} HU); HD95 = max of the two directed 95th "
        f"percentile surface distances in mm. Regions of the reference CT: bone &gt; {threshold:g} HU, "
        f"air &lt; {summary['air_max_hu']:g} HU, soft tissue between. "
        "Values are mean ± sample std over cases; bold = best per field.</p>"
    )


TESTS_NOTE = (
    '<p class="note">Cells: median paired difference A - B over the subjects both methods have (each subject '
    "once: its mean over the input sets both have) with a bootstrap 95 % CI, then the Wilcoxon p-value and the "
    f"p-value Holm-adjusted over the field strengths compared; red: Holm p &lt; {SIGNIFICANCE}. With fewer than 6 "
    "subjects no p-value can fall below 0.05; n/a (hover for why) when there is nothing to test.</p>"
)


def _comparisons(tests: Sequence[Mapping[str, Any]], keys: Sequence[str], metrics: Sequence[str], methods: Sequence[str]) -> str:
    if len(methods) < 2:
        return '<p class="note">Only one method: nothing to compare.</p>'
    return _tests_table(tests, keys, metrics)


def _section(title: str, body: str) -> str:
    return f"<h2>{html.escape(title)}</h2>{body}"


def _existing_files(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    missing = [str(p) for p in paths if not Path(p).is_file()]
    if missing:
        raise InputError(f"--config {missing[0]}: file not found")
    return [Path(p) for p in paths]


def _kind(method: str) -> str:
    """``cascade-resunet-seed1`` -> ``cascade``; ``bulk-density`` stays whole."""
    return next((kind for kind in HEADLINE_KINDS if method.startswith(kind)), method)


def _headline_methods(methods: Sequence[str]) -> list[str]:
    """Cascade, direct and bulk density (not fine-tuned), in that order; any other methods if none of them."""
    plain = [m for m in methods if not FINETUNED.search(m)]
    chosen = [m for m in plain if _kind(m) in HEADLINE_KINDS]
    return sorted(chosen, key=lambda m: (HEADLINE_KINDS.index(_kind(m)), m)) if chosen else plain


def _cascade_partners(baseline: str, methods: Sequence[str]) -> list[str]:
    """The cascades a baseline is compared with: the one of the same backbone and seed for ``direct-...``, every one for bulk density."""
    cascades = [m for m in methods if _kind(m) == "cascade"]
    if _kind(baseline) == "direct":
        return [m for m in cascades if m == "cascade" + baseline.removeprefix("direct")]
    return cascades if _kind(baseline) != "cascade" else []


def _difference(test: Mapping[str, Any], cascade: str, metric: str) -> str:
    """``cascade - baseline: d [low, high], p_holm`` from a paired test stored as A - B in either order."""
    sign = 1.0 if test["method_a"] == cascade else -1.0
    low, high = sorted(sign * v for v in test["median_diff_ci95"])
    p_holm = test.get("p_holm", float("nan"))
    significant = p_holm is not None and np.isfinite(p_holm) and p_holm < SIGNIFICANCE
    p_text = "p_holm n/a" if p_holm is None or not np.isfinite(p_holm) else f"p_holm {p_holm:.3g}"
    return (f'<small class="{"sig" if significant else ""}">{html.escape(cascade)} − this: {_number(sign * test["median_diff"], metric)} '
            f"[{_number(low, metric)}, {_number(high, metric)}], {p_text}</small>")


def _headline_table(groups: Sequence[Mapping[str, Any]], tests: Sequence[Mapping[str, Any]], methods: Sequence[str]) -> str:
    """Per field strength and method: mean [95 % CI] of the headline metrics, best in bold; under each baseline's
    value, cascade's median paired difference from it with its CI and the Holm-adjusted p."""
    by_key = {(g["field_T"], g["method"]): g for g in groups if g["method"] in methods}
    paired = {(t["field_T"], t["metric"], frozenset((t["method_a"], t["method_b"]))): t for t in tests}
    body = []
    for field in sorted({f for f, _ in by_key}, key=_field_order):
        present = [m for m in methods if (field, m) in by_key]
        best = {metric: min(_badness(metric, by_key[(field, m)][metric]["mean"]) for m in present) for metric in HEADLINE_METRICS}
        for method in present:
            group = by_key[(field, method)]
            row = [(html.escape(field) + " T", "key"), (html.escape(method), "key"), (str(max(group[m]["n"] for m in HEADLINE_METRICS)), "")]
            for metric in HEADLINE_METRICS:
                stats = group[metric]
                cell = f"{_number(stats['mean'], metric)} [{_number(stats.get('ci95_low'), metric)}, {_number(stats.get('ci95_high'), metric)}]"
                for cascade in _cascade_partners(method, present):
                    test = paired.get((field, metric, frozenset((cascade, method))))
                    cell += _difference(test, cascade, metric) if test else ""
                is_best = len(present) > 1 and _badness(metric, stats["mean"]) == best[metric]
                row.append((cell, "best" if is_best else ""))
            body.append(row)
    header = ["Field", "Method", "n"] + [f"{LABELS[m]}, mean [95 % CI]" for m in HEADLINE_METRICS]
    return _table(header, body, 2, grouped=True)


HEADLINE_NOTE = (
    '<p class="note">Mean over the test cases with its Student-t 95 % CI; bold: best per field. Under a baseline: '
    "cascade minus the baseline, the median paired difference over subjects with its bootstrap 95 % CI and the "
    f"Wilcoxon p Holm-adjusted over the field strengths (red: below {SIGNIFICANCE}; with fewer than 6 subjects no p "
    "can fall below 0.05). Negative is better for MAE, positive for Dice.</p>"
)


def headline(rows: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]) -> str:
    """The answer first: the headline table above the metric-vs-field plot (both fit the first screen at 1400 px)."""
    methods = _headline_methods(sorted({r["method"] for r in rows}))
    fields = sorted({r["field_T"] for r in rows}, key=_field_order)
    plot = metric_by_field(summary["by_method_field"], [(m, LABELS[m]) for m in HEADLINE_METRICS], fields, methods)
    table = _headline_table(summary["by_method_field"], summary["paired_by_field"], methods)
    alt = "Head MAE, bone MAE and skull Dice against field strength, mean and 95 % CI per method"
    return f'<div class="headline">{HEADLINE_NOTE}{table}{embed_png(plot, alt)}</div>'


def _finetuned(summary: Mapping[str, Any], metrics: Sequence[str]) -> str:
    """Fine-tuned methods beside their un-tuned networks at the fields they were tuned for."""
    tuned = [g for g in summary["by_method_field"] if FINETUNED.search(g["method"])]
    if not tuned:
        return ""
    fields = {g["field_T"] for g in tuned}
    bases = {FINETUNED.sub("", g["method"]) for g in tuned}
    groups = [g for g in summary["by_method_field"] if g["field_T"] in fields and FINETUNED.sub("", g["method"]) in bases]
    groups = sorted(groups, key=lambda g: (_field_order(g["field_T"]), g["method"]))
    note = '<p class="note">Networks trained at the training field, then fine-tuned on k subjects of the target field (<code>-ftk</code>), beside the same network untuned.</p>'
    return _section("Fine-tuned at the target field", note + _metrics_table(groups, ["field_T", "method"], metrics))


def _render(rows: Sequence[Mapping[str, Any]], summary: Mapping[str, Any], panel_method: str, panels: str, configs: Sequence[Path]) -> str:
    """The whole HTML page: the headline first, then fine-tuning, box plots, panels and, collapsed, the details."""
    metrics = [m for m in summary["metrics"] if m in LABELS]
    tested = [m for m in TESTED_METRICS if m in metrics]
    methods = sorted({r["method"] for r in rows})
    fields = sorted({r["field_T"] for r in rows}, key=_field_order)
    by_field = sorted(summary["by_method_field"], key=lambda g: (_field_order(g["field_T"]), g["method"]))
    by_contrast = sorted(summary["by_method_field_contrast"], key=lambda g: (_field_order(g["field_T"]), g["contrast"], g["method"]))
    boxes = metric_boxplots(rows, [(m, LABELS[m]) for m in BOXPLOT_METRICS], fields, methods)
    contrast_keys = ["field_T", "contrast"]

    def collapsed(title: str, body: str) -> str:
        return f"<details><summary>{html.escape(title)}</summary>{body}</details>"

    details = "".join([
        collapsed("Every metric by method and field strength", _definitions(summary) + _metrics_table(by_field, ["field_T", "method"], metrics)),
        collapsed("Paired comparisons of every pair of methods (Wilcoxon signed-rank, two-sided)",
                  TESTS_NOTE + _comparisons(summary["paired_by_field"], ["field_T"], tested, methods)),
        collapsed("Metrics by field strength, contrast and method", _metrics_table(by_contrast, [*contrast_keys, "method"], metrics)),
        collapsed("Paired tests by field strength and contrast", _comparisons(summary["paired_by_field_contrast"], contrast_keys, tested, methods)),
    ])
    overview = f"{summary['n_cases']} cases · methods: {', '.join(methods)} · field strengths: {', '.join(f + ' T' for f in fields)}"
    body = "".join([
        f'<h1>Synthetic CT evaluation</h1><p class="meta">{html.escape(overview)} · created {html.escape(summary["created_utc"])}</p>',
        _section(HEADLINE_TITLE, headline(rows, summary)),
        _finetuned(summary, HEADLINE_METRICS),
        _section("Distributions", embed_png(boxes, "Box plots of MAE, bone MAE and skull Dice by field strength and method")),
        _section(f"Image panels: {panel_method}", panels),
        _tasks_section(summary, methods, fields),
        _section("Details", details),
        _section("Run configuration", _settings_section(summary, configs)),
    ])
    return html_page("cranial-sct evaluation report", body)


def html_page(title: str, body: str) -> str:
    """A whole self-contained page in the report's style."""
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head>\n<body><main>\n{body}\n</main></body></html>\n"
    )


def write_report(
    eval_dir: str | os.PathLike[str],
    out: str | os.PathLike[str],
    pred_dir: str | os.PathLike[str] | None = None,
    ref_dir: str | os.PathLike[str] | None = None,
    panel_method: str | None = None,
    config_files: Sequence[str | os.PathLike[str]] = (),
) -> Path:
    """Write the HTML report for ``eval_dir`` to ``out`` (atomically); return its path.

    Image panels need the evaluated prediction and reference folders: by default the ones recorded
    in ``summary.json``; when they are not there the report says so and omits the panels.
    ``config_files`` (e.g. a training or benchmark run's resolved YAML) are shown verbatim.
    """
    rows, summary = read_evaluation(eval_dir)
    configs = _existing_files(config_files)
    methods = sorted({r["method"] for r in rows})
    panel_method = panel_method or _default_panel_method(rows)
    if panel_method not in methods:
        raise InputError(f"--panel-method {panel_method}: not evaluated; choose one of {', '.join(methods)}")
    pred, ref = Path(pred_dir or summary["pred_dir"]), Path(ref_dir or summary["ref_dir"])
    if pred.is_dir() and ref.is_dir():
        panels = _panels_section(rows, panel_method, pred, ref, summary["bone_threshold_hu"])
    else:
        panels = f'<p class="note">Prediction or reference folder not found ({html.escape(f"{pred}, {ref}")}); pass --pred and --ref for image panels.</p>'
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp.write_text(_render(rows, summary, panel_method, panels, configs), encoding="utf-8")
    return out


TASK_PLOT_METRICS = ("proton_wepl_p95_mm", "pet_acf_error_mean_pct", "us_deep_pressure_diff_pct", "us_deep_shift_mm")
TASKS_NOTE = (
    '<p class="note">Clinical task figures, sCT against CT (docs/guide/tasks.md). Proton: water-equivalent path '
    "length of 12 beams to 20 targets in the brain (Schneider 1996 stopping power unless a table was given). PET: "
    "relative error of the 511 keV attenuation correction factors of the lines through the brain, and the bias they "
    "leave in a uniform activity per region. Ultrasound: a 2-D focused transducer simulated through the skull (jwave) "
    "at a cortical and a deep target. Values are mean ± sample std over cases; bold = best per field.</p>"
)


def _tasks_section(summary: Mapping[str, Any], methods: Sequence[str], fields: Sequence[str]) -> str:
    """The task table, the paired tests on the task figures and their means against field strength
    (empty when the evaluation ran no task)."""
    metrics = [m for m in summary["metrics"] if m in TASK_LABELS]
    if not metrics:
        return ""
    by_field = sorted(summary["by_method_field"], key=lambda g: (_field_order(g["field_T"]), g["method"]))
    tests = [t for t in summary["paired_by_field"] if t["metric"] in metrics]
    plotted = [(m, TASK_LABELS[m]) for m in TASK_PLOT_METRICS if m in metrics]
    plot = embed_png(metric_by_field(summary["by_method_field"], plotted, fields, methods), "Task figures against field strength") if plotted else ""
    return _section("Clinical tasks", TASKS_NOTE + _metrics_table(by_field, ["field_T", "method"], metrics) + plot
                    + "<h3>Paired comparisons on the task figures</h3>" + TESTS_NOTE + _comparisons(tests, ["field_T"], metrics, methods))
