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
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from statistics import NormalDist
from typing import Sequence


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


@dataclass(frozen=True)
class Judgement:
    """One capability's drop, adjusted p-value and verdict."""

    drop: PairedDrop
    p_adjusted: float
    verdict: str
    items_needed: int | None


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
        judgements.append(Judgement(d, p_adj, v, needed))
    return judgements
