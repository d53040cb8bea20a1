"""The verdict's statistics on worked examples, no model involved."""

import math

import pytest

from forgetcheck.stats import agresti_min_interval, holm, items_to_decide, judge, mcnemar_exact, paired_bootstrap, paired_drop, verdict


def test_mcnemar_exact_matches_binomial_test():
    # 8 forgotten, 2 learned: P(X<=2 | n=10, p=.5) = 56/1024, two-sided = 112/1024
    assert mcnemar_exact(8, 2) == pytest.approx(112 / 1024)
    assert mcnemar_exact(2, 8) == pytest.approx(112 / 1024)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(5, 5) == 1.0


def test_agresti_min_interval_worked_example():
    # 10 forgotten, 2 learned of 100: centre (10.5-2.5)/102, var ((13) - 8**2/102)/102**2
    lo, hi = agresti_min_interval(10, 2, 100, 0.95)
    centre, se = 8 / 102, math.sqrt(13 - 64 / 102) / 102
    assert lo == pytest.approx(centre - 1.959964 * se, abs=1e-6)
    assert hi == pytest.approx(centre + 1.959964 * se, abs=1e-6)


def test_zero_flips_is_not_proof_with_few_items():
    # 60 identical answers cannot show the loss is below 2 points; 250 can.
    assert agresti_min_interval(0, 0, 60)[1] > 0.02
    assert agresti_min_interval(0, 0, 250)[1] < 0.02


def test_holm_orders_and_caps():
    assert holm([0.01, 0.04, 0.03]) == [0.03, 0.06, 0.06]
    assert holm([0.5, 0.9]) == [1.0, 1.0]
    assert holm([]) == []


def test_paired_bootstrap_detects_a_shift_and_not_noise():
    lo, hi, p = paired_bootstrap([0.1 + 0.01 * (i % 5) for i in range(50)])
    assert lo > 0.1 and p < 0.01
    lo, hi, p = paired_bootstrap([(-1) ** i * 0.3 for i in range(50)])
    assert lo < 0 < hi and p > 0.5


def test_three_verdicts():
    assert verdict(drop=0.10, ci_high=0.15, p_adjusted=0.001, tolerance=0.02, confidence=0.95) == "regressed"
    assert verdict(drop=0.00, ci_high=0.015, p_adjusted=1.0, tolerance=0.02, confidence=0.95) == "held"
    assert verdict(drop=0.05, ci_high=0.20, p_adjusted=0.3, tolerance=0.02, confidence=0.95) == "inconclusive"
    # significant but smaller than the tolerance, and not provably within it: inconclusive
    assert verdict(drop=0.015, ci_high=0.025, p_adjusted=0.01, tolerance=0.02, confidence=0.95) == "inconclusive"


def test_judge_applies_holm_across_capabilities():
    # p = 0.0386 alone is significant; among three capabilities Holm lifts it above 0.05.
    marginal = paired_drop([1] * 9 + [0] * 91, [0] * 9 + [0] * 91, binary=True)
    assert marginal.p_value < 0.05
    same = paired_drop([1] * 100, [1] * 100, binary=True)
    alone = judge([marginal])[0]
    together = judge([marginal, same, same])[0]
    assert alone.verdict == "regressed"
    assert together.p_adjusted == pytest.approx(min(1, 3 * marginal.p_value))


def test_inconclusive_says_how_many_items_would_decide():
    small = paired_drop([1] * 30, [1] * 30, binary=True)
    [j] = judge([small])
    assert j.verdict == "inconclusive"
    assert j.items_needed and j.items_needed > 30
    # with that many identical items the verdict is held
    bigger = paired_drop([1] * j.items_needed, [1] * j.items_needed, binary=True)
    assert judge([bigger])[0].verdict == "held"
    assert items_to_decide(small, 0.02, 0.95) == j.items_needed


def test_paired_drop_counts_flips_and_rejects_misaligned():
    d = paired_drop([1, 1, 0, 0, 1], [0, 1, 1, 0, 1], binary=True)
    assert (d.forgotten, d.learned, d.drop) == (1, 1, 0.0)
    with pytest.raises(ValueError):
        paired_drop([1, 0], [1], binary=True)
