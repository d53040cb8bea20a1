"""Paired statistics and the three-way verdict: pure functions, no model, no I/O.

Why paired: base and candidate answer the *same* items, and most of the variance
between items (some are easy, some hard) is shared by both models. Comparing the
two accuracies as if they came from different samples throws that away and needs
several times more items to see the same loss. So every test here works on the
per-item pairs:

* 0/1 scores (a choice or an exact match): only the discordant items carry
  information — ``forgotten`` (base right, candidate wrong) and ``learned`` (the
  reverse). The test is the exact McNemar test (a binomial test on the discordant
  items). The interval on the drop is Tango's (1998) score interval for a paired
  difference of proportions, with a half-item continuity correction
  (:func:`score_interval`). Its variance is taken where each tested drop puts it,
  so zero flips does not make it collapse: a drop of 2 points loses no answer at
  all in 0.98¹⁰⁰ = 13% of 100-item runs, so 100 identical answers cannot prove
  the drop is below 2 points. The Agresti–Min interval used before said they
  could (13% false "held" against 2.5% nominal); the score interval needs 236
  identical items for that claim (any valid test needs at least 183).
* continuous scores (log-likelihood per token): the t interval and t-test below
  :data:`BOOTSTRAP_FROM` items, a paired bootstrap over items from there on. The
  percentile bootstrap ignores that the spread is itself estimated, which matters
  at small n: at 8 items it rejects a true "no drop" 11% of the time against 5%
  nominal; its excess falls under a quarter point only from about 200 items
  (simulated 5.3% at 200, 5.65% at 100, 6.2% at 30).

What each verdict claims, and how often it may be wrong:

* ``regressed``: the drop is significant (Holm-adjusted p below 1 − confidence)
  and the observed drop is larger than the tolerance. Holm across the capabilities
  of a run keeps the chance of *any* false "regressed" line at 1 − confidence.
* ``held``: the upper end of the drop's interval is below the tolerance — the loss,
  if any, is provably small. One-sided, so each held line is wrong at most
  (1 − confidence)/2 = 2.5% of the time when the true drop is at the tolerance
  (simulated for 0/1 scores: at most 2.4% over 20–1000 items and 0–20% churn).
* ``inconclusive``: neither; :func:`items_to_decide` says roughly how many items
  would tell, and :func:`detectable_drop` how large a drop this run could have
  called regressed (never below the tolerance).

How "held" is controlled across the capabilities of one run: by intersection–union,
not by Holm. The claim a gate acts on is the run's "held" (every measured
capability held, nothing regressed or inconclusive). That claim is false when at
least one capability truly dropped by the tolerance or more; it is then made only
if that capability's own test says held, which happens at most 2.5% of the time —
so the run's "held" errs at most 2.5%, with no correction for the number of
capabilities (Berger 1982). Simulated with 12 capabilities of 400 items, one at
the tolerance: 0 of 2000 runs held. The price of not correcting is that the
held *lines* are per-capability claims: if all 12 capabilities sat exactly at the
tolerance, one line or more would read held in 16% of runs (33% with Agresti–Min),
while the run itself would not hold. Holm on the held tests would close that at a
cost a suite cannot pay: identical models would need 444 items per capability
instead of 236 to hold 11 capabilities at 2 points, so the built-in core suite
(250–370 items) could never pass a self-comparison.

A fourth label guards the other three: a capability on which the *base* does no
better than guessing (``at-chance``, see :func:`measures_nothing`) cannot show
forgetting, so it is never counted as held.

Raw flips overstate forgetting on k-option items: an item the base got right by a
lucky guess and the candidate gets wrong by an unlucky one is not knowledge lost.
:func:`chance_adjusted` subtracts what guessing alone would produce (Harmon et al.
2025, "Mapping Post-Training Forgetting in Language Models at Scale").

Every error rate quoted here is checked by a seeded simulation in
tests/test_stats_simulations.py.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache
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

    No longer used for verdicts: with few flips its upper end is too low (see
    :func:`score_interval`); kept so the simulation tests can show the difference.

    >>> lo, hi = agresti_min_interval(0, 0, 100)
    >>> round(lo, 4), round(hi, 4)
    (-0.0192, 0.0192)
    """
    b, c, m = forgotten + 0.5, learned + 0.5, n + 2
    centre = (b - c) / m
    var = ((b + c) - (b - c) ** 2 / m) / m**2
    half = _z(confidence) * math.sqrt(max(var, 0.0))
    return max(centre - half, -1.0), min(centre + half, 1.0)


def _score_statistic(forgotten: int, learned: int, n: int, drop: float) -> float:
    """Tango's (1998) score statistic for "the true drop is ``drop``", half an item towards it.

    The variance is taken where the null puts it: at the maximum-likelihood share
    of learned items given that the drop is ``drop`` (the positive root of Tango's
    quadratic). The half-item continuity correction moves the observed difference
    towards the tested drop, so the upper bound errs on the cautious side.
    """
    a = 2 * n
    b = -forgotten - learned + (2 * n - forgotten + learned) * drop
    c = -learned * drop * (1 - drop)
    learned_share = (math.sqrt(max(b * b - 4 * a * c, 0.0)) - b) / (2 * a)
    variance = n * (2 * learned_share + drop * (1 - drop))
    gap = forgotten - learned - n * drop + 0.5
    if variance <= 0:
        return math.copysign(math.inf, gap)
    return gap / math.sqrt(variance)


def _score_upper(forgotten: int, learned: int, n: int, z: float) -> float:
    """The largest drop the score test does not reject at ``z`` (one side)."""
    low, high = (forgotten - learned) / n, 1.0
    if _score_statistic(forgotten, learned, n, high) > -z:
        return 1.0
    # The statistic falls as the tested drop rises, so bisection finds the bound.
    for _ in range(60):
        middle = (low + high) / 2
        if _score_statistic(forgotten, learned, n, middle) > -z:
            low = middle
        else:
            high = middle
    return high


def score_interval(forgotten: int, learned: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Interval for the paired drop (forgotten − learned) / n: Tango's score interval.

    Each end is the drop a one-sided score test at (1 − confidence)/2 just fails to
    reject, with a half-item continuity correction. Unlike a Wald interval it does
    not shrink to nothing when few answers change: no flips in n items bounds the
    drop at about (z²/n), the way an exact binomial bound does ("rule of three").
    The lower end is the upper end with the roles of forgotten and learned swapped.

    >>> [round(x, 4) for x in score_interval(0, 0, 1000)]
    [-0.0048, 0.0048]
    >>> round(score_interval(0, 0, 100)[1], 4)    # not below 2 points: 100 items cannot show it
    0.0461
    """
    z = _z(confidence)
    return -_score_upper(learned, forgotten, n, z), _score_upper(forgotten, learned, n, z)


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


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b), by its continued fraction."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast only below this point
        return 1.0 - _incomplete_beta(b, a, 1 - x)
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1 - x)) / a
    # Lentz's method for 1 / (1 + d1 / (1 + d2 / ...)).
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    value = d
    for m in range(1, 300):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            value *= c * d
        if abs(c * d - 1) < 1e-15:
            break
    return front * value


def student_t_two_sided(t: float, df: float) -> float:
    """P(|T| ≥ |t|) for Student's t with ``df`` degrees of freedom.

    >>> round(student_t_two_sided(2.364624, 7), 5)
    0.05
    """
    return _incomplete_beta(df / 2, 0.5, df / (df + t * t))


@lru_cache(maxsize=256)  # the same few (confidence, df) pairs come back for every capability
def student_t_critical(confidence: float, df: float) -> float:
    """The t with P(|T| ≥ t) = 1 − confidence.

    >>> round(student_t_critical(0.95, 7), 4)
    2.3646
    """
    low, high = 0.0, 1.0
    while student_t_two_sided(high, df) > 1 - confidence:
        high *= 2
    for _ in range(100):
        middle = (low + high) / 2
        if student_t_two_sided(middle, df) > 1 - confidence:
            low = middle
        else:
            high = middle
    return high


def t_interval(differences: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float]:
    """The t interval and two-sided one-sample t-test p-value for the mean of paired differences.

    >>> lo, hi, p = t_interval([0.1, -0.1, 0.3, 0.1])
    >>> round(lo, 4), round(hi, 4), round(p, 4)
    (-0.1598, 0.3598, 0.3081)
    """
    n = len(differences)
    mean = sum(differences) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in differences) / max(n - 1, 1))
    if sd == 0 or n < 2:
        # No spread: the interval is the mean itself, and a zero mean is no evidence at all.
        return mean, mean, 1.0 if mean == 0 else 0.0
    se = sd / math.sqrt(n)
    half = student_t_critical(confidence, n - 1) * se
    return mean - half, mean + half, student_t_two_sided(mean / se, n - 1)


# Below this many items the paired bootstrap is too lenient (its percentile interval
# ignores that the spread itself is estimated); measured by simulation, see
# tests/test_stats_simulations.py and the module docstring.
BOOTSTRAP_FROM = 200


def mean_interval(differences: Sequence[float], confidence: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """Interval and p-value for the mean of continuous paired differences: t below
    :data:`BOOTSTRAP_FROM` items, the paired bootstrap from there on.

    >>> mean_interval([0.1, -0.1, 0.3, 0.1]) == t_interval([0.1, -0.1, 0.3, 0.1])
    True
    """
    if len(differences) < BOOTSTRAP_FROM:
        return t_interval(differences, confidence)
    return paired_bootstrap(differences, confidence, seed=seed)


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
        lo, hi = score_interval(forgotten, learned, n, confidence)
        p = mcnemar_exact(forgotten, learned)
    else:
        forgotten = learned = None
        lo, hi, p = mean_interval(diffs, confidence, seed=seed)
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

    For 0/1 scores the score interval takes its variance at the tolerance, where
    the drop alone makes at least a share ``tolerance`` of the answers change, and
    adds half an item: so n solves n·gap − ½ = z·sqrt(n·var).

    >>> same = paired_drop([1] * 30, [1] * 30, binary=True)
    >>> items_to_decide(same, 0.02, 0.95)     # no flips: held from about 236 items
    236
    """
    gap = abs(tolerance - result.drop)
    if gap < 1e-9:
        return None
    binary = result.forgotten is not None
    if result.drop < tolerance:
        z = _z(confidence)
        spread = max(result.spread, math.sqrt(tolerance * (1 - tolerance))) if binary else result.spread
        correction = 0.5 if binary else 0.0
    else:
        z = _z(1 - (1 - confidence) / max(n_tests, 1))
        gap = result.drop
        # a single flip's worth of spread at least, so a run of identical flips still gets a number
        spread = max(result.spread, 1 / math.sqrt(max(result.n, 1)))
        correction = 0.0
    root = (z * spread + math.sqrt((z * spread) ** 2 + 4 * gap * correction)) / (2 * gap)
    return max(math.ceil(root * root), result.n + 1)


def detectable_drop(result: PairedDrop, confidence: float = 0.95, n_tests: int = 1, power: float = 0.8,
                    tolerance: float = 0.0) -> float:
    """The smallest drop this run would call *regressed* with probability ``power``.

    So "held" never hides a test too small to see anything. A drop is called
    regressed when it is significant and the observed drop exceeds the tolerance,
    so two things must happen together: the drop must clear the significance
    threshold z_α·se, and it must clear the tolerance. The answer is the drop d with
    d = max(tolerance, z_α·se) + z_β·se — never below the tolerance, since a drop
    at or under it is never called regressed, however many items there are.

    se is the standard error of the observed drop. For 0/1 scores, with a share p
    of items changing answer either way, se = sqrt(p/n) (the McNemar normal
    approximation); a drop of d needs at least d of the items to change, so p is
    at least d. For continuous scores, se = sd/sqrt(n). α is Bonferroni over the
    run's capabilities (slightly conservative for Holm), two-sided like the test.
    The exact McNemar test is a little more cautious than this approximation: at
    400 items and 6% churn, simulation finds the drop in ~75% of runs, not 80%.

    >>> same = paired_drop([1.0] * 400, [1.0] * 400, binary=True)
    >>> round(detectable_drop(same), 4)   # no answer changed: (1.96 + 0.84)**2 / 400
    0.0196
    >>> round(detectable_drop(same, tolerance=0.02), 4)   # but only a drop above 2 points is called regressed
    0.0269
    """
    n = max(result.n, 1)
    z_alpha = _z(1 - (1 - confidence) / max(n_tests, 1))
    z_beta = NormalDist().inv_cdf(power)
    changing = None if result.forgotten is None or result.learned is None else (result.forgotten + result.learned) / n

    def needed(drop: float) -> float:
        se = result.spread / math.sqrt(n) if changing is None else math.sqrt(max(changing, drop) / n)
        return max(tolerance, z_alpha * se) + z_beta * se

    # needed() grows more slowly than the drop itself, so the smallest drop that
    # meets it is where the two cross; bisect between the tolerance and far beyond.
    # needed(0) is 0 when nothing changes and there is no tolerance: start just above it.
    low, high = max(tolerance, 1e-12), max(tolerance, 1.0) + needed(1.0)
    if needed(low) <= low:
        return tolerance
    for _ in range(60):
        middle = (low + high) / 2
        if needed(middle) <= middle:
            high = middle
        else:
            low = middle
    return high


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

    >>> same = paired_drop([1.0] * 300, [1.0] * 300, binary=True)
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
        judgements.append(Judgement(d, p_adj, v, needed, detectable_drop(d, confidence, len(drops), tolerance=tolerance)))
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
