"""Paired statistics and the three-way verdict: pure functions, no model, no I/O.

Why paired: base and candidate answer the *same* items, and most of the variance
between items (some are easy, some hard) is shared by both models. Comparing the
two accuracies as if they came from different samples throws that away and needs
several times more items to see the same loss. So every test here works on the
per-item pairs:

* 0/1 scores (a choice or an exact match): only the discordant items carry
  information — ``forgotten`` (base right, candidate wrong) and ``learned`` (the
  reverse). The test is the exact McNemar test (a binomial test on the discordant
  items); the interval on the drop is the Agresti–Min (2005) adjusted Wald
  interval for a paired difference of proportions, which adds half an item to each
  cell so that zero flips still gives an honest, non-zero width (zero flips in 60
  items does not prove a loss below 2 points).
* continuous scores (log-likelihood per token): a paired bootstrap over items.

Testing many capabilities at once, some would look significant by luck, so the
p-values are Holm-corrected across the capabilities of a run.

The verdict has three outcomes, never two:

* ``regressed``: the drop is significant (Holm-adjusted p below 1 − confidence)
  and the drop itself is larger than the tolerance;
* ``held``: the upper confidence bound of the drop is below the tolerance — the
  loss, if any, is provably small;
* ``inconclusive``: neither; :func:`items_to_decide` says roughly how many items
  would tell.

A fourth label guards the other three: a capability on which the *base* does no
better than guessing (``at-chance``, see :func:`measures_nothing`) cannot show
forgetting, so it is never counted as held.

Raw flips overstate forgetting on k-option items: an item the base got right by a
lucky guess and the candidate gets wrong by an unlucky one is not knowledge lost.
:func:`chance_adjusted` subtracts what guessing alone would produce (Harmon et al.
2025, "Mapping Post-Training Forgetting in Language Models at Scale").
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from statistics import NormalDist
from typing import Sequence

from forgetcheck.comparison import ChanceAdjusted


@dataclass(frozen=True)
class PairedDrop:
    """The drop (base − candidate) on one capability, with its uncertainty.

    >>> d = paired_drop([1, 1, 1, 0], [1, 0, 1, 0], binary=True)
    >>> d.drop, d.forgotten, d.learned
    (0.25, 1, 0)
    """

    n: int
    base_score: float
    candidate_score: float
    drop: float
    ci_low: float
    ci_high: float
    p_value: float
    forgotten: int | None
    learned: int | None
    spread: float  # per-item standard deviation of the difference, for sample-size estimates


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def mcnemar_exact(forgotten: int, learned: int) -> float:
    """Two-sided exact McNemar p-value from the two discordant counts.

    >>> mcnemar_exact(0, 0)
    1.0
    >>> round(mcnemar_exact(10, 0), 5)
    0.00195
    """
    m = forgotten + learned
    if m == 0:
        return 1.0
    k = min(forgotten, learned)
    # P(X <= k) for X ~ Binomial(m, 1/2), summed exactly in log space for large m.
    tail = sum(math.exp(math.lgamma(m + 1) - math.lgamma(i + 1) - math.lgamma(m - i + 1) - m * math.log(2)) for i in range(k + 1))
    return min(1.0, 2 * tail)


def agresti_min_interval(forgotten: int, learned: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Interval for the paired drop (forgotten − learned) / n; Agresti & Min (2005).

    >>> lo, hi = agresti_min_interval(0, 0, 100)
    >>> round(lo, 4), round(hi, 4)
    (-0.0192, 0.0192)
    """
    b, c, m = forgotten + 0.5, learned + 0.5, n + 2
    centre = (b - c) / m
    var = ((b + c) - (b - c) ** 2 / m) / m**2
    half = _z(confidence) * math.sqrt(max(var, 0.0))
    return max(centre - half, -1.0), min(centre + half, 1.0)


def paired_bootstrap(differences: Sequence[float], confidence: float = 0.95, n_boot: int = 2000, seed: int = 0) -> tuple[float, float, float]:
    """Percentile interval and two-sided p-value for the mean of paired differences.

    The p-value counts bootstrap means at least as far from the observed mean as
    the observed mean is from zero (the bootstrap distribution shifted to the null).

    >>> paired_bootstrap([0.0] * 10)
    (0.0, 0.0, 1.0)
    """
    n = len(differences)
    mean = sum(differences) / n
    rng = random.Random(seed)
    means = sorted(sum(differences[rng.randrange(n)] for _ in range(n)) / n for _ in range(n_boot))
    alpha = 1 - confidence
    lo = means[int(math.floor(alpha / 2 * (n_boot - 1)))]
    hi = means[int(math.ceil((1 - alpha / 2) * (n_boot - 1)))]
    if all(d == differences[0] for d in differences):
        # No spread: every resample equals the mean; a zero mean is no evidence at all.
        return lo, hi, 1.0 if mean == 0 else 0.0
    extreme = sum(1 for x in means if abs(x - mean) >= abs(mean))
    return lo, hi, (extreme + 1) / (n_boot + 1)


def paired_drop(base: Sequence[float], candidate: Sequence[float], *, binary: bool, confidence: float = 0.95, seed: int = 0) -> PairedDrop:
    """Drop = mean(base) − mean(candidate), its interval and p-value; see module doc."""
    if len(base) != len(candidate):
        raise ValueError(f"base has {len(base)} scores, candidate {len(candidate)}; they must be aligned")
    n = len(base)
    if n == 0:
        raise ValueError("no items to compare")
    diffs = [b - c for b, c in zip(base, candidate)]
    drop = sum(diffs) / n
    mean_d = drop
    spread = math.sqrt(sum((d - mean_d) ** 2 for d in diffs) / max(n - 1, 1))
    if binary:
        forgotten = sum(1 for b, c in zip(base, candidate) if b > c)
        learned = sum(1 for b, c in zip(base, candidate) if c > b)
        lo, hi = agresti_min_interval(forgotten, learned, n, confidence)
        p = mcnemar_exact(forgotten, learned)
    else:
        forgotten = learned = None
        lo, hi, p = paired_bootstrap(diffs, confidence, seed=seed)
    return PairedDrop(n, sum(base) / n, sum(candidate) / n, drop, lo, hi, p, forgotten, learned, spread)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the input order.

    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = round(running, 12)
    return adjusted


def verdict(drop: float, ci_high: float, p_adjusted: float, tolerance: float, confidence: float) -> str:
    """regressed / held / inconclusive; see the module docstring for the rule."""
    if p_adjusted < 1 - confidence and drop > tolerance:
        return "regressed"
    if ci_high < tolerance:
        return "held"
    return "inconclusive"


def items_to_decide(result: PairedDrop, tolerance: float, confidence: float, n_tests: int = 1) -> int | None:
    """Roughly how many items in total would turn an inconclusive result into a verdict.

    Assumes the observed drop and per-item spread stay as they are and the interval
    shrinks as 1/sqrt(n). If the drop is below the tolerance, that is the n at which
    the upper bound falls below it (held); if above, the n at which the drop becomes
    significant at the Bonferroni level (regressed, a slight overestimate of Holm).
    None when no number of items would decide it (the drop sits on the tolerance).
    """
    # Agresti–Min adds a pseudo-count, so even zero spread shrinks only like 1/n; use
    # at least one flip's worth of spread for the estimate.
    spread = max(result.spread, 1 / math.sqrt(max(result.n, 1)))
    gap = abs(tolerance - result.drop)
    if gap < 1e-9:
        return None
    if result.drop < tolerance:
        z = _z(confidence)
    else:
        z = _z(1 - (1 - confidence) / max(n_tests, 1))
        gap = result.drop
    needed = math.ceil((z * spread / gap) ** 2)
    return max(needed, result.n + 1)


def detectable_drop(result: PairedDrop, confidence: float = 0.95, n_tests: int = 1, power: float = 0.8) -> float:
    """The smallest drop this run would call significant with probability ``power``.

    So "held" never hides a test too small to see anything. For 0/1 scores it is
    the McNemar normal approximation: a drop d among n items, with a share p of items
    changing answer either way, is found when d·sqrt(n) ≥ (z_α + z_β)·sqrt(p); a
    drop of d needs at least d of the items to change, so p is at least d. For
    continuous scores, (z_α + z_β)·sd/sqrt(n). α is Bonferroni over the run's
    capabilities (slightly conservative for Holm), two-sided like the test. The
    exact McNemar test is a little more cautious than this approximation: at 400
    items and 6% churn, simulation finds the drop in ~75% of runs, not 80%.

    >>> same = paired_drop([1.0] * 400, [1.0] * 400, binary=True)
    >>> round(detectable_drop(same), 4)   # no answer changed: (1.96 + 0.84)**2 / 400
    0.0196
    """
    n = max(result.n, 1)
    z = _z(1 - (1 - confidence) / max(n_tests, 1)) + NormalDist().inv_cdf(power)
    if result.forgotten is None or result.learned is None:
        return z * result.spread / math.sqrt(n)
    changing = (result.forgotten + result.learned) / n
    # Solve d = z·sqrt(max(changing, d)/n): the larger of the two branches.
    return max(z * math.sqrt(changing / n), z * z / n)


@dataclass(frozen=True)
class Judgement:
    """One capability's drop, adjusted p-value and verdict."""

    drop: PairedDrop
    p_adjusted: float
    verdict: str
    items_needed: int | None
    detectable: float


def judge(drops: Sequence[PairedDrop], tolerance: float = 0.02, confidence: float = 0.95) -> list[Judgement]:
    """Holm-correct across capabilities and give each its verdict.

    >>> same = paired_drop([1.0] * 200, [1.0] * 200, binary=True)
    >>> [j.verdict for j in judge([same])]
    ['held']
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    adjusted = holm([d.p_value for d in drops])
    judgements = []
    for d, p_adj in zip(drops, adjusted):
        v = verdict(d.drop, d.ci_high, p_adj, tolerance, confidence)
        needed = items_to_decide(d, tolerance, confidence, len(drops)) if v == "inconclusive" else None
        judgements.append(Judgement(d, p_adj, v, needed, detectable_drop(d, confidence, len(drops))))
    return judgements


def chance_adjusted(base: Sequence[float], candidate: Sequence[float], options: Sequence[int]) -> ChanceAdjusted:
    """Chance-adjusted forgetting and backward transfer for 0/1 scores on k-option items.

    With a = accuracy and k options, the share right by guessing is (1−a)/(k−1), so
    F_chance = (1−a_pre)/(k−1)·(1−a_post), BT_chance = (1−a_pre)·(1−a_post)/(k−1),
    F_true = max(F − F_chance, 0), BT_true = max(BT − BT_chance, 0),
    F_max = max((k·a_pre−1)/(k−1), 0), BT_max = max((k·a_post−1)/(k−1), 0).
    Items with different k are taken group by group and weighted by group size.

    >>> base = [1] * 80 + [0] * 20          # 80% before
    >>> cand = [1] * 70 + [0] * 30          # 70% after: 10 of the 80 forgotten
    >>> r = chance_adjusted(base, cand, [4] * 100)
    >>> round(r.forgetting, 4), round(r.forgetting_chance, 4), round(r.forgetting_true, 4)
    (0.1, 0.02, 0.08)
    """
    n = len(base)
    if not n or len(candidate) != n or len(options) != n:
        raise ValueError("base, candidate and options must be non-empty and of the same length")
    if min(options) < 2:
        raise ValueError("chance adjustment needs items with at least 2 options")
    totals = dict.fromkeys(ChanceAdjusted.__dataclass_fields__, 0.0)
    for k in sorted(set(options)):
        group = [i for i in range(n) if options[i] == k]
        weight = len(group) / n
        pre = sum(base[i] for i in group) / len(group)
        post = sum(candidate[i] for i in group) / len(group)
        f = sum(base[i] > candidate[i] for i in group) / len(group)
        bt = sum(candidate[i] > base[i] for i in group) / len(group)
        f_chance = (1 - pre) / (k - 1) * (1 - post)
        bt_chance = (1 - pre) * (1 - post) / (k - 1)
        values = {
            "forgetting": f, "backward_transfer": bt,
            "forgetting_chance": f_chance, "backward_transfer_chance": bt_chance,
            "forgetting_true": max(f - f_chance, 0.0), "backward_transfer_true": max(bt - bt_chance, 0.0),
            "forgetting_max": max((k * pre - 1) / (k - 1), 0.0), "backward_transfer_max": max((k * post - 1) / (k - 1), 0.0),
        }
        for key, value in values.items():
            totals[key] += weight * value
    return ChanceAdjusted(**totals)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for a proportion; sound near 0 and 1, unlike Wald.

    >>> [round(x, 4) for x in wilson_interval(0, 10)]
    [0.0, 0.2775]
    """
    if n <= 0:
        return 0.0, 1.0
    z = _z(confidence)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(centre - half, 0.0), min(centre + half, 1.0)


FLOOR = 0.05  # at most this share of items known beyond guessing counts as knowing nothing


def measures_nothing(base: Sequence[float], chance: float, confidence: float = 0.95) -> str | None:
    """Why a 0/1 capability cannot show forgetting for this base, or None when it can.

    Two ways a capability measures nothing: the base is not distinguishable from
    guessing (the lower end of its accuracy interval is at or below ``chance``),
    or it knows so few items beyond guessing (at most 5%) that even losing every
    one of them would be a small, barely testable drop. ``chance`` is the mean 1/k
    over items (0 for free generation), or what the probe declares.

    >>> measures_nothing([1] * 30 + [0] * 90, chance=0.25)
    'the base scores 25.0%, no better than guessing (chance 25.0%)'
    >>> measures_nothing([1] * 90 + [0] * 30, chance=0.25) is None
    True
    """
    n = len(base)
    right = int(round(sum(base)))
    accuracy = right / n if n else 0.0
    low, _ = wilson_interval(right, n, confidence)
    if low <= chance:
        return f"the base scores {accuracy:.1%}, no better than guessing (chance {chance:.1%})"
    known = (accuracy - chance) / (1 - chance) if chance < 1 else 0.0
    if known <= FLOOR:
        return (f"the base knows only {known:.1%} of items beyond guessing (score {accuracy:.1%}, chance "
                f"{chance:.1%}), so there is almost nothing to forget")
    return None
