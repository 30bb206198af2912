"""Summaries of per-case metric rows and paired tests between methods on the same cases.

Rows are plain dicts (one per method x case) so they go straight to CSV/JSON. Summaries are robust
to missing values (a region a case lacks is NaN and is left out, with ``n`` saying how many counted).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import PermutationMethod, t, wilcoxon

Row = Mapping[str, Any]
MIN_PAIRS = 2  # fewer paired cases than this cannot give a p-value at all
EXHAUSTIVE_MAX_PAIRS = 16  # 2**16 sign patterns: an exact p with ties in well under a second
BOOTSTRAP_RESAMPLES = 2000


def _groups(rows: Sequence[Row], by: Sequence[str]) -> dict[tuple[Any, ...], list[Row]]:
    """Rows bucketed by the values of ``by``, keys sorted so output order is stable."""
    buckets: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        buckets.setdefault(tuple(row[key] for key in by), []).append(row)
    return dict(sorted(buckets.items(), key=lambda item: tuple(map(str, item[0]))))


def describe(values: Sequence[float]) -> dict[str, float | int]:
    """n, mean, std (sample, ddof=1), the mean's 95 % CI, median, first/third quartile and IQR of the finite values."""
    finite = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    if finite.size == 0:
        return {"n": 0, "mean": np.nan, "std": np.nan, "ci95_low": np.nan, "ci95_high": np.nan,
                "median": np.nan, "q1": np.nan, "q3": np.nan, "iqr": np.nan}
    q1, median, q3 = np.percentile(finite, [25, 50, 75])
    low, high = mean_ci95(finite)
    return {
        "n": int(finite.size),
        "mean": float(finite.mean()),
        "std": float(finite.std(ddof=1)) if finite.size > 1 else np.nan,
        "ci95_low": low,
        "ci95_high": high,
        "median": float(median),
        "q1": float(q1),
        "q3": float(q3),
        "iqr": float(q3 - q1),
    }


def mean_ci95(values: Sequence[float]) -> tuple[float, float]:
    """Student-t 95 % confidence interval of the mean (NaN with fewer than 2 values): the few test
    subjects of a benchmark make the normal interval too narrow."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size < 2:
        return (np.nan, np.nan)
    half = float(t.ppf(0.975, finite.size - 1) * finite.std(ddof=1) / np.sqrt(finite.size))
    return (float(finite.mean()) - half, float(finite.mean()) + half)


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


def bootstrap_median_ci(diff: Sequence[float], resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap 95 % CI of the median paired difference (resampling the pairs; seeded)."""
    values = np.asarray(diff, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size < MIN_PAIRS:
        return (np.nan, np.nan)
    draws = np.random.default_rng(seed).choice(values, size=(resamples, values.size), replace=True)
    low, high = np.percentile(np.median(draws, axis=1), [2.5, 97.5])
    return (float(low), float(high))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN and does not count as a test)."""
    p = np.asarray(p_values, dtype=np.float64)
    tested = np.flatnonzero(np.isfinite(p))
    adjusted = np.full(p.shape, np.nan)
    running = 0.0
    for rank, index in enumerate(tested[np.argsort(p[tested], kind="stable")]):
        running = max(running, min(1.0, (tested.size - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


def _finite_keys(rows: Sequence[Row], identity: Callable[[Row], tuple[Any, ...]], metric: str) -> set[tuple[Any, ...]]:
    return {identity(row) for row in rows if row[metric] is not None and np.isfinite(row[metric])}


def _per_unit(rows: Sequence[Row], pair_on: Sequence[str], average_over: Sequence[str], keys: set[tuple[Any, ...]], metric: str) -> dict[tuple[Any, ...], float]:
    """A metric per pairing unit (e.g. subject): the mean over its rows (e.g. input sets) among ``keys``."""
    values: dict[tuple[Any, ...], list[float]] = {}
    for row in rows:
        key = tuple(row[k] for k in (*pair_on, *average_over))
        if key in keys:
            values.setdefault(key[: len(pair_on)], []).append(float(row[metric]))
    return {unit: float(np.mean(v)) for unit, v in values.items()}


def paired_tests(
    rows: Sequence[Row],
    metrics: Sequence[str],
    group_by: Sequence[str],
    pair_on: Sequence[str] = ("subject",),
    average_over: Sequence[str] = (),
    method_key: str = "method",
) -> list[dict[str, Any]]:
    """Wilcoxon tests for every pair of methods within each group, paired on independent units.

    A unit is identified by ``pair_on`` (a subject): each counts once, its value the mean over the
    ``average_over`` rows (e.g. its input sets) that both methods have, so n is the number of
    subjects, not subjects x input sets. Each record also holds the median paired difference A - B
    with a bootstrap 95 % CI and ``p_holm``: Holm-adjusted over the groups (the fields compared) for
    the same metric and pair of methods.
    """
    records = []
    for key, group in _groups(rows, group_by).items():
        by_method = {method: list(method_rows) for (method,), method_rows in _groups(group, [method_key]).items()}
        for method_a, method_b in itertools.combinations(sorted(by_method), 2):
            identity = lambda row: tuple(row[k] for k in (*pair_on, *average_over))  # noqa: E731
            for metric in metrics:  # rows where both methods have a finite value, so one NaN drops no subject
                shared = _finite_keys(by_method[method_a], identity, metric) & _finite_keys(by_method[method_b], identity, metric)
                a = _per_unit(by_method[method_a], pair_on, average_over, shared, metric)
                b = _per_unit(by_method[method_b], pair_on, average_over, shared, metric)
                units = sorted(a, key=lambda unit: tuple(map(str, unit)))
                test = wilcoxon_paired([a[u] for u in units], [b[u] for u in units])
                low, high = bootstrap_median_ci([a[u] - b[u] for u in units])
                records.append({**dict(zip(group_by, key)), "metric": metric, "method_a": method_a, "method_b": method_b, **test,
                                "median_diff_ci95": [low, high]})
    _add_holm(records, group_by)
    return records


def _add_holm(records: list[dict[str, Any]], group_by: Sequence[str]) -> None:
    """``p_holm`` per record: Holm over the groups sharing its metric, methods and every key but the field."""
    family_keys = [k for k in group_by if k != "field_T"]
    families: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for record in records:
        families.setdefault((record["metric"], record["method_a"], record["method_b"], *(record[k] for k in family_keys)), []).append(record)
    for family in families.values():
        for record, adjusted in zip(family, holm([r["p"] for r in family])):
            record["p_holm"] = adjusted
