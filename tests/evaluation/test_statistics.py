"""Summaries by hand and Wilcoxon p-values against direct scipy calls."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import PermutationMethod, wilcoxon

from cranial_sct.evaluation.statistics import bootstrap_median_ci, describe, holm, mean_ci95, paired_tests, summarise, wilcoxon_paired


def test_describe_by_hand_ignores_nan() -> None:
    result = describe([1.0, 2.0, 3.0, 4.0, float("nan")])
    assert result["n"] == 4
    assert result["mean"] == pytest.approx(2.5)
    assert result["std"] == pytest.approx(math.sqrt(5 / 3))  # sample std of 1..4
    assert (result["median"], result["q1"], result["q3"], result["iqr"]) == pytest.approx((2.5, 1.75, 3.25, 1.5))
    assert describe([float("nan")])["n"] == 0 and math.isnan(describe([7.0])["std"])


def test_mean_ci95_by_hand() -> None:
    # 1..4: mean 2.5, sd sqrt(5/3), t(0.975, 3) = 3.182446; half width = t * sd / 2
    half = 3.182446305284263 * math.sqrt(5 / 3) / 2
    assert mean_ci95([1.0, 2.0, 3.0, 4.0, float("nan")]) == pytest.approx((2.5 - half, 2.5 + half))
    assert describe([1.0, 2.0, 3.0, 4.0])["ci95_low"] == pytest.approx(2.5 - half)
    assert all(math.isnan(v) for v in mean_ci95([7.0]))


def test_summarise_groups_by_keys() -> None:
    rows = [
        {"method": "b", "field_T": "7", "mae": 10.0},
        {"method": "a", "field_T": "7", "mae": 4.0},
        {"method": "a", "field_T": "7", "mae": 6.0},
    ]
    groups = summarise(rows, ["method", "field_T"], ["mae"])
    assert [(g["method"], g["mae"]["n"], g["mae"]["mean"]) for g in groups] == [("a", 2, 5.0), ("b", 1, 10.0)]


def test_wilcoxon_exact_matches_scipy() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(50, 10, 12), rng.normal(55, 10, 12)
    result = wilcoxon_paired(a, b)
    assert result["p_method"] == "exact" and result["n_pairs"] == 12
    assert result["p"] == pytest.approx(wilcoxon(a, b).pvalue)


def test_wilcoxon_few_tied_pairs_is_exact_by_enumeration() -> None:
    """Four pairs all favouring b, two tied: of the 16 sign patterns, 2 are as extreme -> p = 0.125."""
    result = wilcoxon_paired([1.0, 2.0, 3.0, 4.0], [2.0, 3.0, 5.5, 5.82])
    assert result["p"] == pytest.approx(0.125) and result["p_method"].startswith("exact")
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    b = a - np.array([0.0, 1.0, 1.0, 2.0, 3.0, -1.0, 4.0, 5.0])  # one zero, |1| tied three times
    result = wilcoxon_paired(a, b)
    assert result["note"] == "1 zero differences dropped; tied differences"
    assert result["p"] == pytest.approx(wilcoxon(a, b, zero_method="wilcox", method=PermutationMethod(n_resamples=2**8)).pvalue)


def test_wilcoxon_many_tied_pairs_uses_normal_approximation() -> None:
    rng = np.random.default_rng(4)
    a = rng.normal(50, 10, 30)
    b = a - np.round(rng.normal(2, 3, 30))  # integer differences: many ties
    result = wilcoxon_paired(a, b)
    assert result["p_method"] == "approx"
    assert result["p"] == pytest.approx(wilcoxon(a, b, zero_method="wilcox", method="approx").pvalue)


def test_wilcoxon_degenerate_inputs_say_why() -> None:
    one = wilcoxon_paired([1.0], [2.0])
    assert math.isnan(one["p"]) and "fewer than 2" in one["note"]
    same = wilcoxon_paired([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    assert math.isnan(same["p"]) and "zero" in same["note"]
    with_nan = wilcoxon_paired([1.0, float("nan"), 3.0, 5.0], [2.0, 1.0, 5.0, 9.0])
    assert with_nan["n_pairs"] == 3


def test_paired_tests_use_only_shared_cases() -> None:
    rng = np.random.default_rng(5)
    values = {"a": rng.normal(30, 5, 10), "b": rng.normal(40, 5, 10)}
    rows = [
        {"method": method, "subject": f"s{i}", "field_T": "7", "mae": values[method][i]}
        for method, subjects in (("a", range(0, 8)), ("b", range(2, 10)))
        for i in subjects
    ]
    (record,) = paired_tests(rows, ["mae"], group_by=["field_T"], pair_on=["subject"])
    assert (record["method_a"], record["method_b"], record["field_T"], record["n_pairs"]) == ("a", "b", "7", 6)
    assert record["p"] == pytest.approx(wilcoxon(values["a"][2:8], values["b"][2:8]).pvalue)


def test_each_subject_counts_once_whatever_the_number_of_input_sets() -> None:
    """Two input sets per subject: n is the number of subjects, each the mean over its input sets."""
    rows = [
        {"method": method, "subject": f"s{i}", "contrast": contrast, "field_T": "7", "mae": base + i + (5.0 if contrast == "flair" else 0.0)}
        for method, base in (("a", 10.0), ("b", 13.0)) for i in range(7) for contrast in ("t1w", "flair")
    ]
    (record,) = paired_tests(rows, ["mae"], ["field_T"], ["subject"], average_over=["contrast"])
    assert record["n_pairs"] == 7 and record["median_diff"] == pytest.approx(-3.0)
    assert record["median_diff_ci95"] == pytest.approx([-3.0, -3.0])


def test_holm_adjusts_over_the_fields_compared() -> None:
    assert holm([0.01, 0.04, 0.03, float("nan")])[:3] == pytest.approx([0.03, 0.06, 0.06])
    rng = np.random.default_rng(2)
    rows = [{"method": m, "subject": f"s{i}", "field_T": f, "mae": rng.normal(30 if m == "a" else 36, 3)}
            for f in ("1.5", "7") for m in ("a", "b") for i in range(8)]
    records = paired_tests(rows, ["mae"], ["field_T"], ["subject"])
    raw = [r["p"] for r in records]
    assert [r["p_holm"] for r in records] == pytest.approx(holm(raw)) and all(r["p_holm"] >= r["p"] for r in records)


def test_bootstrap_ci_brackets_the_median_difference() -> None:
    diff = np.random.default_rng(1).normal(5, 2, 30)
    low, high = bootstrap_median_ci(diff)
    assert low < np.median(diff) < high and high - low < 3
