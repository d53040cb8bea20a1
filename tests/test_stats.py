"""The verdict's statistics on worked examples, no model involved."""

import math

import pytest

from forgetcheck.analysis.stats import (
    agresti_min_interval, holm, items_to_decide, judge, mcnemar_exact, paired_bootstrap, paired_drop, score_interval,
    student_t_critical, student_t_two_sided, t_interval, verdict,
)


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
    # A 2-point drop shows no flip in 0.98**100 = 13% of 100-item runs, so 100 identical
    # answers cannot show the loss is below 2 points (Agresti-Min said they could); 250 can.
    assert agresti_min_interval(0, 0, 100)[1] < 0.02
    assert paired_drop([1] * 100, [1] * 100, binary=True).ci_high > 0.02
    assert score_interval(0, 0, 250)[1] < 0.02


def test_score_interval_worked_example_with_no_flips():
    # With no flips the learned share under "drop = d" is 0, so the half-corrected score
    # statistic is (0.5 - n·d) / sqrt(n·d·(1-d)); setting it to -z gives a quadratic in d.
    n, z = 1000, 1.959964
    a, b, c = n * n + z * z * n, n + z * z * n, 0.25
    upper = (b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    assert score_interval(0, 0, n) == (pytest.approx(-upper, abs=1e-9), pytest.approx(upper, abs=1e-9))


def test_score_interval_with_flips():
    lo, hi = score_interval(10, 2, 100)
    assert 0 < lo < 8 / 100 < hi < 0.2
    assert score_interval(100, 0, 100)[1] == 1.0 and score_interval(0, 100, 100)[0] == -1.0


def test_student_t_known_values():
    assert student_t_two_sided(2.0, 10) == pytest.approx(0.0733880, abs=1e-6)
    assert student_t_two_sided(1.0, 1) == pytest.approx(0.5, abs=1e-12)
    assert student_t_two_sided(0.0, 5) == 1.0
    assert student_t_critical(0.95, 7) == pytest.approx(2.364624, abs=1e-6)
    assert student_t_critical(0.99, 2) == pytest.approx(9.924843, abs=1e-6)


def test_t_interval_worked_example():
    diffs = [0.1, -0.1, 0.3, 0.1]  # mean 0.1, sd sqrt(0.08/3)
    lo, hi, p = t_interval(diffs)
    se = math.sqrt(0.08 / 3) / 2
    assert (lo, hi) == (pytest.approx(0.1 - 3.182446 * se, abs=1e-6), pytest.approx(0.1 + 3.182446 * se, abs=1e-6))
    assert p == pytest.approx(student_t_two_sided(0.1 / se, 3))
    assert t_interval([0.0] * 5) == (0.0, 0.0, 1.0)


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


# --- chance-adjusted forgetting (Harmon et al. 2025) on worked vectors ----------------

from forgetcheck.analysis.verdicts import CapabilityInfo, judge_items  # noqa: E402
from forgetcheck.comparison import ItemResult, overall_verdict  # noqa: E402
from forgetcheck.analysis.stats import chance_adjusted, measures_nothing, wilson_interval  # noqa: E402


def _vectors(n, right_before, forgotten, learned):
    """0/1 vectors of length n: right_before right before; of those `forgotten` lost,
    and `learned` of the wrong ones gained."""
    base = [1] * right_before + [0] * (n - right_before)
    cand = list(base)
    for i in range(forgotten):
        cand[i] = 0
    for i in range(learned):
        cand[right_before + i] = 1
    return base, cand


def test_issue_worked_example_four_options_80_to_70():
    # 4 options, 80% before, 70% after, 10% raw forgetting: F_chance 0.02, F_true 0.08.
    base, cand = _vectors(100, 80, 10, 0)
    r = chance_adjusted(base, cand, [4] * 100)
    assert r.forgetting == pytest.approx(0.10)
    assert r.forgetting_chance == pytest.approx(0.2 / 3 * 0.3)
    assert r.forgetting_chance == pytest.approx(0.02)
    assert r.forgetting_true == pytest.approx(0.08)
    assert r.forgetting_max == pytest.approx((4 * 0.8 - 1) / 3)
    assert r.backward_transfer == 0
    assert r.backward_transfer_chance == pytest.approx(0.2 * 0.3 / 3)
    assert r.backward_transfer_true == 0  # max(0 - 0.02, 0)
    assert r.backward_transfer_max == pytest.approx((4 * 0.7 - 1) / 3)


def test_two_options_with_learning():
    # k=2, 60% -> 60% with 10 forgotten and 10 learned of 100.
    base, cand = _vectors(100, 60, 10, 10)
    r = chance_adjusted(base, cand, [2] * 100)
    assert (r.forgetting, r.backward_transfer) == (pytest.approx(0.1), pytest.approx(0.1))
    assert r.forgetting_chance == pytest.approx(0.4 * 0.4)  # (1-a_pre)/(k-1)*(1-a_post)
    assert r.forgetting_true == 0  # 10% raw is all explainable by guessing at 60% on 2 options
    assert r.forgetting_max == pytest.approx(0.2) and r.backward_transfer_max == pytest.approx(0.2)


def test_all_raw_forgetting_of_a_perfect_model_is_true_forgetting():
    base, cand = _vectors(50, 50, 5, 0)
    r = chance_adjusted(base, cand, [5] * 50)
    assert r.forgetting_chance == 0 and r.forgetting_true == pytest.approx(0.1)
    assert r.forgetting_max == pytest.approx(1.0)


def test_mixed_option_counts_are_weighted_by_group():
    b4, c4 = _vectors(100, 80, 10, 0)
    b2, c2 = _vectors(100, 60, 10, 10)
    mixed = chance_adjusted(b4 + b2, c4 + c2, [4] * 100 + [2] * 100)
    f4 = chance_adjusted(b4, c4, [4] * 100).forgetting_true
    f2 = chance_adjusted(b2, c2, [2] * 100).forgetting_true
    assert mixed.forgetting_true == pytest.approx((f4 + f2) / 2)


def test_chance_adjusted_rejects_bad_input():
    with pytest.raises(ValueError):
        chance_adjusted([1], [1], [1])
    with pytest.raises(ValueError):
        chance_adjusted([1, 0], [1], [4, 4])


def test_wilson_interval_known_values():
    lo, hi = wilson_interval(8, 10, 0.95)
    assert (lo, hi) == (pytest.approx(0.4902, abs=1e-4), pytest.approx(0.9433, abs=1e-4))


def test_measures_nothing_at_chance_and_at_floor():
    assert "no better than guessing" in measures_nothing([1] * 28 + [0] * 72, 0.25)
    assert measures_nothing([1] * 60 + [0] * 40, 0.25) is None
    # free generation: 0 right is at chance; 1 of 300 right is above it but too little to lose
    assert "no better than guessing" in measures_nothing([0] * 300, 0.0)
    assert "beyond guessing" in measures_nothing([1] * 4 + [0] * 296, 0.0)
    assert measures_nothing([1] * 30 + [0] * 270, 0.0) is None


def _items(name, base, cand, k):
    return [ItemResult(name, f"{name}-{i}", float(b), float(c), n_options=k, subcategory=f"s{i % 2}")
            for i, (b, c) in enumerate(zip(base, cand))]


def test_a_capability_at_chance_is_not_counted_as_held():
    guessing = _items("guessing", [1] * 25 + [0] * 75, [1] * 25 + [0] * 75, 4)  # 25% on 4 options, no flips
    known = _items("known", [1] * 250 + [0] * 50, [1] * 250 + [0] * 50, 4)
    infos = [CapabilityInfo("guessing", "choice", "acc", {}), CapabilityInfo("known", "choice", "acc", {})]
    caps = judge_items(guessing + known, infos, tolerance=0.05, confidence=0.95)
    assert [c.verdict for c in caps] == ["at-chance", "held"]
    assert caps[0].chance == pytest.approx(0.25) and "guessing" in caps[0].at_chance
    assert caps[1].at_chance is None
    assert overall_verdict(caps) == "held"
    assert overall_verdict(caps[:1]) == "inconclusive"  # nothing measured at all
    # the breakdown by sub-category and the chance-adjusted numbers come along
    assert [s.name for s in caps[1].subcategories] == ["s0", "s1"]
    assert caps[1].chance_adjusted.forgetting == 0


def test_regressed_stays_regressed_even_near_chance():
    # base 30% on 4 options (not clearly above chance at n=100), candidate forgets all 30
    items = _items("shaky", [1] * 30 + [0] * 70, [0] * 100, 4)
    caps = judge_items(items, [CapabilityInfo("shaky", "choice", "acc", {})], 0.02, 0.95)
    assert caps[0].verdict == "regressed" and caps[0].at_chance


def test_detectable_drop_shrinks_with_items_and_grows_with_churn():
    from forgetcheck.analysis.stats import detectable_drop

    quiet = paired_drop([1.0] * 250, [1.0] * 250, binary=True)
    z = 1.959964 + 0.841621
    assert detectable_drop(quiet) == pytest.approx(z * z / 250, rel=1e-5)
    base, cand = _vectors(250, 200, 20, 20)  # 16% of answers change, no net drop
    churny = paired_drop(base, cand, binary=True)
    assert detectable_drop(churny) == pytest.approx(z * math.sqrt(0.16 / 250), rel=1e-5)
    assert detectable_drop(churny) > detectable_drop(quiet)
    bigger = paired_drop(*_vectors(1000, 800, 80, 80), binary=True)
    assert detectable_drop(bigger) == pytest.approx(detectable_drop(churny) / 2, rel=1e-5)
    # more capabilities in the run: a stricter alpha, so a larger detectable drop
    assert detectable_drop(churny, n_tests=10) > detectable_drop(churny)
    continuous = paired_drop([0.0] * 100, [0.1, -0.1] * 50, binary=False)
    assert detectable_drop(continuous) == pytest.approx(z * continuous.spread / 10, rel=1e-5)


def test_simulated_power_matches_detectable_drop():
    """At the detectable drop, McNemar finds the loss in about 80% of simulated runs."""
    import random

    from forgetcheck.analysis.stats import detectable_drop

    rng = random.Random(1)
    n = 400
    probe = paired_drop(*_vectors(n, 300, 12, 12), binary=True)  # 6% of answers change
    d = detectable_drop(probe)
    p_forget, p_learn = (0.06 + d) / 2, (0.06 - d) / 2  # same churn, net drop d
    hits = 0
    for _ in range(400):
        draws = [rng.random() for _ in range(n)]
        f = sum(x < p_forget for x in draws)
        lrn = sum(p_forget <= x < p_forget + p_learn for x in draws)
        hits += mcnemar_exact(f, lrn) < 0.05
    assert 0.65 < hits / 400 < 0.9  # ~0.74: the exact test is a little conservative


def test_forgotten_answers_are_told_format_from_knowledge():
    # 10 recall items forgotten; the multiple-choice twins of 7 are still right on the candidate.
    choice = [ItemResult("facts", f"mc-{i}", 1.0, 1.0 if i < 7 else 0.0, n_options=4) for i in range(10)]
    choice += [ItemResult("facts", f"mc-x{i}", 1.0, 1.0, n_options=4) for i in range(290)]
    recall = [ItemResult("recall", f"gen-{i}", 1.0, 0.0, pair=f"mc-{i}") for i in range(10)]
    recall += [ItemResult("recall", f"gen-x{i}", 1.0, 1.0, pair=f"mc-x{i}") for i in range(290)]
    infos = [CapabilityInfo("facts", "choice", "acc", {}), CapabilityInfo("recall", "generate", "exact_match", {})]
    caps = judge_items(choice + recall, infos, 0.02, 0.95)
    assert [i.forgetting for i in recall[:10]] == ["knowledge kept"] * 7 + ["knowledge lost"] * 3
    assert all(i.forgetting is None for i in choice)
    assert caps[1].diagnosis == ("mostly format: 7 of 10 forgotten answers with a multiple-choice twin are "
                                 "still ranked first there")
    assert caps[0].diagnosis is None


def test_a_known_skill_is_never_at_chance_and_a_sliver_of_knowledge_is():
    from forgetcheck.analysis.stats import measures_nothing

    assert measures_nothing([1] * 99 + [0], 0.25) is None
    assert "beyond guessing" in measures_nothing([1] * 12 + [0] * 288, 0.0)  # 4% known


def test_the_examples_in_the_stats_docstrings_run():
    import doctest

    import forgetcheck.analysis.stats as stats

    assert doctest.testmod(stats).failed == 0
