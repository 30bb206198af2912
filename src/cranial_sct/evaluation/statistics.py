"""Summaries of per-case metric rows and paired tests between methods on the same cases.

Rows are plain dicts (one per method x case) so they go straight to CSV/JSON. Summaries are robust
to missing values (a region a case lacks is NaN and is left out, with ``n`` saying how many counted).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import PermutationMethod, wilcoxon

Row = Mapping[str, Any]
MIN_PAIRS = 2  # fewer paired cases than this cannot give a p-value at all
EXHAUSTIVE_MAX_PAIRS = 16  # 2**16 sign patterns: an exact p with ties in well under a second


def _groups(rows: Sequence[Row], by: Sequence[str]) -> dict[tuple[Any, ...], list[Row]]:
    """Rows bucketed by the values of ``by``, keys sorted so output order is stable."""
    buckets: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        buckets.setdefault(tuple(row[key] for key in by), []).append(row)
    return dict(sorted(buckets.items(), key=lambda item: tuple(map(str, item[0]))))


def describe(values: Sequence[float]) -> dict[str, float | int]:
    """n, mean, std (sample, ddof=1), median, first/third quartile and IQR of the finite values."""
    finite = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    if finite.size == 0:
        return {"n": 0, "mean": np.nan, "std": np.nan, "median": np.nan, "q1": np.nan, "q3": np.nan, "iqr": np.nan}
    q1, median, q3 = np.percentile(finite, [25, 50, 75])
    return {
        "n": int(finite.size),
        "mean": float(finite.mean()),
        "std": float(finite.std(ddof=1)) if finite.size > 1 else np.nan,
        "median": float(median),
        "q1": float(q1),
        "q3": float(q3),
        "iqr": float(q3 - q1),
    }


def summarise(rows: Sequence[Row], by: Sequence[str], metrics: Sequence[str]) -> list[dict[str, Any]]:
    """One record per group of ``by`` (e.g. method, field_T): ``{metric: describe(...)}`` per metric."""
    return [
        {**dict(zip(by, key)), **{metric: describe([row[metric] for row in group]) for metric in metrics}}
        for key, group in _groups(rows, by).items()
    ]


def wilcoxon_paired(a: Sequence[float], b: Sequence[float]) -> dict[str, Any]:
    """Two-sided Wilcoxon signed-rank test of a vs b (paired; non-finite pairs left out).

    Zero differences are dropped (the classical ``zero_method="wilcox"``). The p-value is exact
    whenever that is affordable: from the tabulated null distribution when there are no ties (n <= 50);
    with tied |differences| by enumerating all 2**n sign patterns (n <= 16), because the normal
    approximation is anti-conservative for few tied pairs; otherwise the normal approximation with
    tie correction. With fewer than 2 pairs, or all differences zero, p is NaN and ``note`` says why.
    With n < 6 nonzero pairs no p-value can fall below 0.05 (the smallest is 2 / 2**n).
    """
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    diff = diff[np.isfinite(diff)]
    result: dict[str, Any] = {"n_pairs": int(diff.size), "median_diff": float(np.median(diff)) if diff.size else np.nan}
    nonzero = diff[diff != 0]
    if diff.size < MIN_PAIRS:
        return {**result, "p": np.nan, "p_method": "none", "note": f"fewer than {MIN_PAIRS} paired cases"}
    if nonzero.size == 0:
        return {**result, "p": np.nan, "p_method": "none", "note": "all paired differences are zero"}
    ties = np.unique(np.abs(nonzero)).size < nonzero.size
    if not ties and nonzero.size <= 50:
        name, method = "exact", "exact"
    elif nonzero.size <= EXHAUSTIVE_MAX_PAIRS:
        name, method = "exact (all sign patterns)", PermutationMethod(n_resamples=2**nonzero.size)
    else:
        name, method = "approx", "approx"
    test = wilcoxon(nonzero, method=method)
    notes = [f"{diff.size - nonzero.size} zero differences dropped" if nonzero.size < diff.size else "", "tied differences" if ties else ""]
    return {**result, "p": float(test.pvalue), "p_method": name, "note": "; ".join(n for n in notes if n)}


def paired_tests(
    rows: Sequence[Row],
    metrics: Sequence[str],
    group_by: Sequence[str],
    pair_on: Sequence[str],
    method_key: str = "method",
) -> list[dict[str, Any]]:
    """Wilcoxon p-values for every pair of methods within each group, on the cases both have.

    A case is identified by ``pair_on`` (e.g. subject and contrast); only cases present for both
    methods with a finite value of the metric enter its test.
    """
    records = []
    for key, group in _groups(rows, group_by).items():
        by_method = {
            method: {tuple(row[k] for k in pair_on): row for row in method_rows}
            for (method,), method_rows in _groups(group, [method_key]).items()
        }
        for method_a, method_b in itertools.combinations(sorted(by_method), 2):
            shared = sorted(set(by_method[method_a]) & set(by_method[method_b]), key=lambda case: tuple(map(str, case)))
            for metric in metrics:
                a = [by_method[method_a][case][metric] for case in shared]
                b = [by_method[method_b][case][metric] for case in shared]
                test = wilcoxon_paired(a, b)
                records.append({**dict(zip(group_by, key)), "metric": metric, "method_a": method_a, "method_b": method_b, **test})
    return records
