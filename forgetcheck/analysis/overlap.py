"""Is "these items were forgotten" a property of the data, or of one training run?

Per-item forgetting is noisy: two fine-tunes on the same data with different seeds
forget largely different items (Daga and Ramu 2026 measure a rank correlation of
~0.01 across seeds). ``forgetcheck overlap A.json B.json`` takes two comparisons of
the same base on the same suite and asks, per capability, whether the two runs
forgot the same items more often than two independent draws would:

* Jaccard overlap of the forgotten sets, next to the Jaccard expected if each run
  had forgotten the same *number* of items at random among those the base knew,
  and the hypergeometric p-value of seeing at least the observed overlap by chance;
* the Spearman rank correlation of the per-item drops (base − candidate), which
  also works for continuous scores such as perplexity.

Pure functions over two Comparisons; no model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from forgetcheck.comparison import BINARY_METRICS, Comparison, ItemResult
from forgetcheck.errors import BadInput


@dataclass
class CapabilityOverlap:
    """How two runs' forgetting lines up on one capability.

    n: items in both reports; known: items the base got right in both (where
    forgetting is possible); forgotten_a / forgotten_b / both: forgotten item counts.
    jaccard and jaccard_expected (if the runs were independent), p_value (at least
    this much overlap by chance) are None for continuous metrics; rank_correlation
    (Spearman, of per-item drops) is None when either run's drops are all equal.
    """

    name: str
    n: int
    known: int | None
    forgotten_a: int | None
    forgotten_b: int | None
    both: int | None
    jaccard: float | None
    jaccard_expected: float | None
    p_value: float | None
    rank_correlation: float | None


def overlap(a: Comparison, b: Comparison, sources: tuple[str, str] = ("A", "B")) -> list[CapabilityOverlap]:
    """Per capability present in both comparisons, the overlap of what they forgot."""
    if a.base.resolved != b.base.resolved:
        raise BadInput(f"{sources[0]} and {sources[1]} compare different bases ({a.base.spec} vs {b.base.spec}); "
                       "overlap needs two candidates of the same base")
    shared = [c for c in a.capabilities if c.name in {d.name for d in b.capabilities}]
    if not shared:
        raise BadInput(f"{sources[0]} and {sources[1]} have no capability in common; run both on the same suite")
    results = []
    for cap in shared:
        items_a = {i.item_id: i for i in a.items if i.capability == cap.name}
        items_b = {i.item_id: i for i in b.items if i.capability == cap.name}
        ids = [i for i in items_a if i in items_b]
        if not ids:
            raise BadInput(f"{sources[0]} and {sources[1]}: capability {cap.name!r} has no item ids in common; "
                           "were they run on the same suite version?")
        pairs = [(items_a[i], items_b[i]) for i in ids]
        results.append(_capability(cap.name, cap.metric in BINARY_METRICS, pairs))
    return results


def _capability(name: str, binary: bool, pairs: list[tuple[ItemResult, ItemResult]]) -> CapabilityOverlap:
    drops_a = [x.base_score - x.candidate_score for x, _ in pairs]
    drops_b = [y.base_score - y.candidate_score for _, y in pairs]
    rho = spearman(drops_a, drops_b)
    if not binary:
        return CapabilityOverlap(name, len(pairs), None, None, None, None, None, None, None, rho)
    # Forgetting is only possible where the base was right; the base is the same model,
    # but keep to items it got right in both runs in case dtype noise differs.
    known = [(x, y) for x, y in pairs if x.base_score > 0.5 and y.base_score > 0.5]
    forgot_a = {x.item_id for x, _ in known if x.candidate_score < 0.5}
    forgot_b = {y.item_id for _, y in known if y.candidate_score < 0.5}
    both = len(forgot_a & forgot_b)
    union = len(forgot_a | forgot_b)
    m, k_a, k_b = len(known), len(forgot_a), len(forgot_b)
    return CapabilityOverlap(
        name, len(pairs), m, k_a, k_b, both, both / union if union else None,
        expected_jaccard(m, k_a, k_b), overlap_p_value(m, k_a, k_b, both), rho)


def _hypergeometric(m: int, k_a: int, k_b: int) -> list[tuple[int, float]]:
    """(overlap, probability) when k_b of m items are drawn at random and k_a are marked."""
    total = math.comb(m, k_b)
    low, high = max(0, k_a + k_b - m), min(k_a, k_b)
    return [(k, math.comb(k_a, k) * math.comb(m - k_a, k_b - k) / total) for k in range(low, high + 1)]


def expected_jaccard(m: int, k_a: int, k_b: int) -> float | None:
    """E[Jaccard] of two random subsets of sizes k_a and k_b of m items (exact).

    >>> round(expected_jaccard(100, 10, 10), 4)
    0.0551
    """
    if k_a + k_b == 0 or m == 0:
        return None
    return sum(p * k / (k_a + k_b - k) for k, p in _hypergeometric(m, k_a, k_b))


def overlap_p_value(m: int, k_a: int, k_b: int, both: int) -> float | None:
    """P(overlap ≥ both) for independent random subsets; small means a shared cause.

    >>> overlap_p_value(100, 10, 10, 10) < 1e-12
    True
    """
    if m == 0 or k_a == 0 or k_b == 0:
        return None
    return min(1.0, sum(p for k, p in _hypergeometric(m, k_a, k_b) if k >= both))


def spearman(x: list[float], y: list[float]) -> float | None:
    """Spearman rank correlation with average ranks for ties; None if either is constant.

    >>> spearman([1, 2, 3, 4], [10, 20, 30, 45])
    1.0
    >>> spearman([1, 2, 3, 4], [4, 3, 2, 1])
    -1.0
    """
    rx, ry = _ranks(x), _ranks(y)
    n = len(x)
    mx, my = sum(rx) / n, sum(ry) / n
    sxx = sum((r - mx) ** 2 for r in rx)
    syy = sum((r - my) ** 2 for r in ry)
    if sxx == 0 or syy == 0:
        return None
    return round(sum((a - mx) * (b - my) for a, b in zip(rx, ry)) / math.sqrt(sxx * syy), 12)


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for i in order[start:end + 1]:
            ranks[i] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def summary(results: list[CapabilityOverlap], alpha: float = 0.05) -> str:
    """One sentence a person can act on."""
    tested = [r for r in results if r.p_value is not None]
    if not tested:
        return "No capability had forgotten items in both runs, so there is no overlap to test."
    shared = [r.name for r in tested if r.p_value < alpha]
    if not shared:
        return (f"In none of {len(tested)} capabilities do the two runs forget the same items more than chance "
                "would: which items were forgotten looks like luck of the run, so judge the capability totals, "
                "not single items.")
    return (f"{len(shared)} of {len(tested)} capabilities forget the same items more often than chance "
            f"({', '.join(shared)}): those items point at something the fine-tuning data does, not at luck.")
