"""Verdicts: aligned per-item scores in, one judged result per capability out.

Pure and torch-free: ``compare`` calls :func:`judge_items` after scoring, and
``forgetcheck report`` calls :func:`rejudge` on a saved report.json to judge it again
with other thresholds, in well under a second because nothing here imports a model
library. The statistics themselves (paired drops, Holm, the three-way rule) live in
:mod:`forgetcheck.analysis.stats`; this module decides what is tested together
(capabilities, sub-categories), what guessing alone would score, and which items
flipped.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from forgetcheck.analysis.diagnosis import classify_forgotten, diagnose
from forgetcheck.analysis.stats import chance_adjusted, judge, measures_nothing, paired_drop
from forgetcheck.comparison import (
    BINARY_METRICS,
    CapabilityResult,
    ChanceAdjusted,
    Comparison,
    ItemResult,
    SubcategoryResult,
    overall_verdict,
)
from forgetcheck.errors import BadInput


@dataclass
class CapabilityInfo:
    """What judging needs to know about a capability besides its scores."""

    name: str
    kind: str
    metric: str
    extra: dict[str, dict[str, float]]
    note: str | None = None
    chance: float | None = None  # declared by the probe; otherwise 1/k for choice items, 0 for generation
    dataset: dict[str, str] | None = None  # where the items came from, when a real dataset (CapabilityResult.dataset)


def check_judging(tolerance: float, confidence: float) -> None:
    """Refuse thresholds that cannot judge anything, in one line each."""
    if not 0 <= tolerance < 1:
        raise BadInput(f"--tolerance {tolerance}: use an absolute drop between 0 and 1 (e.g. 0.02 = 2 points)")
    if not 0.5 <= confidence < 1:
        raise BadInput(f"--confidence {confidence}: use a level between 0.5 and 1 (e.g. 0.95)")


def judge_items(items: list[ItemResult], capabilities: list[CapabilityInfo], tolerance: float,
                confidence: float, recovery_shots: int | None = None) -> list[CapabilityResult]:
    """Per-capability paired drop, Holm correction and verdict; flips set on the items.

    Also the chance level (a base at chance turns the verdict to ``at-chance``
    unless it regressed), chance-adjusted forgetting for k-option items, and the
    per-sub-category and per-difficulty breakdowns.
    """
    return judge_candidates([(items, capabilities)], tolerance, confidence, recovery_shots)[0]


def judge_candidates(runs: list[tuple[list[ItemResult], list[CapabilityInfo]]], tolerance: float,
                     confidence: float, recovery_shots: int | None = None) -> list[list[CapabilityResult]]:
    """:func:`judge_items` for several candidates against one base, judged as one family of tests.

    ``runs`` holds each candidate's items and capabilities. Holm runs across every
    capability × candidate test, so the chance of any false "regressed" line in the
    whole run stays at 1 − confidence however many candidates are compared; the
    items-needed and detectable-drop estimates count the same number of tests. With
    one candidate this is exactly :func:`judge_items`.
    """
    check_judging(tolerance, confidence)
    drops, groups = [], []
    for items, capabilities in runs:
        for cap in capabilities:
            mine = [i for i in items if i.capability == cap.name]
            binary = cap.metric in BINARY_METRICS
            for item in mine:
                item.flip = _flip(item) if binary else None
            groups.append(mine)
            drops.append(paired_drop([i.base_score for i in mine], [i.candidate_score for i in mine],
                                     binary=binary, confidence=confidence))
        classify_forgotten(items)
    judged = iter(zip(groups, judge(drops, tolerance, confidence)))
    return [[_capability_result(cap, *next(judged), confidence, recovery_shots) for cap in capabilities]
            for _, capabilities in runs]


def _capability_result(cap: CapabilityInfo, mine: list[ItemResult], j, confidence: float,
                       recovery_shots: int | None) -> CapabilityResult:
    d = j.drop
    binary = cap.metric in BINARY_METRICS
    chance = chance_level(cap.kind, [i.n_options for i in mine if i.n_options], cap.chance) if binary else None
    base_scores = [i.base_score for i in mine]
    at_chance = measures_nothing(base_scores, chance, confidence) if chance is not None else None
    verdict = "at-chance" if at_chance and j.verdict != "regressed" else j.verdict
    return CapabilityResult(
        name=cap.name, kind=cap.kind, metric=cap.metric, n=d.n, base_score=d.base_score,
        candidate_score=d.candidate_score, drop=d.drop, ci_low=d.ci_low, ci_high=d.ci_high,
        p_value=d.p_value, p_adjusted=j.p_adjusted, verdict=verdict, forgotten=d.forgotten,
        learned=d.learned, items_needed=j.items_needed if verdict == "inconclusive" else None, note=cap.note,
        extra=cap.extra, chance=chance, at_chance=at_chance, chance_adjusted=_chance_adjusted(mine),
        subcategories=_breakdown(mine, "subcategory", binary, confidence), detectable_drop=j.detectable,
        diagnosis=diagnose(mine, recovery_shots), dataset=cap.dataset,
        difficulties=_breakdown(mine, "difficulty", binary, confidence))


def chance_level(kind: str, options: list[int], declared: float | None = None) -> float:
    """What guessing scores: as the probe declares, else mean 1/k over k-option items; free generation 0.

    >>> chance_level("choice", [4, 4, 2])
    0.3333333333333333
    >>> chance_level("generate", [], declared=0.5)
    0.5
    """
    if declared is not None:
        return declared
    if kind != "choice":
        return 0.0
    return sum(1 / k for k in options) / len(options) if options else 0.0


def _chance_adjusted(items: list[ItemResult]) -> ChanceAdjusted | None:
    """Harmon et al.'s chance-adjusted forgetting, for capabilities whose items all have k options."""
    if not items or any(not i.n_options or i.n_options < 2 for i in items):
        return None
    return chance_adjusted([i.base_score for i in items], [i.candidate_score for i in items],
                           [i.n_options for i in items])


DIFFICULTY_ORDER = ("easy", "medium", "hard")  # core's vocabulary; other names follow, sorted


def _breakdown(items: list[ItemResult], field: str, binary: bool, confidence: float) -> list[SubcategoryResult]:
    """The paired drop per value of an item field (``subcategory``, ``difficulty``); empty with fewer than two."""
    found = {getattr(i, field) for i in items if getattr(i, field)}
    first = DIFFICULTY_ORDER if field == "difficulty" else ()
    names = [n for n in first if n in found] + sorted(found - set(first))
    if len(names) < 2:
        return []
    rows = []
    for name in names:
        mine = [i for i in items if getattr(i, field) == name]
        d = paired_drop([i.base_score for i in mine], [i.candidate_score for i in mine], binary=binary,
                        confidence=confidence)
        rows.append(SubcategoryResult(name=name, n=d.n, base_score=d.base_score, candidate_score=d.candidate_score,
                                      drop=d.drop, ci_low=d.ci_low, ci_high=d.ci_high, forgotten=d.forgotten,
                                      learned=d.learned))
    return rows


def _flip(item: ItemResult) -> str:
    if item.base_score > item.candidate_score:
        return "forgotten"
    if item.candidate_score > item.base_score:
        return "learned"
    return "same"


def rejudge(comparison: Comparison, tolerance: float | None = None, confidence: float | None = None) -> Comparison:
    """The same comparison judged with other thresholds; no model is loaded."""
    return rejudge_candidates([comparison], tolerance, confidence)[0]


def rejudge_candidates(comparisons: list[Comparison], tolerance: float | None = None,
                       confidence: float | None = None) -> list[Comparison]:
    """Several candidates of one run judged again together, Holm across all their tests (see :func:`judge_candidates`).

    Thresholds left as None keep the run's (the first comparison's settings).
    """
    settings = comparisons[0].settings
    tolerance = settings.tolerance if tolerance is None else tolerance
    confidence = settings.confidence if confidence is None else confidence
    runs = [(c.items, [CapabilityInfo(cap.name, cap.kind, cap.metric, cap.extra, cap.note, cap.chance, cap.dataset)
                       for cap in c.capabilities]) for c in comparisons]
    judged = judge_candidates(runs, tolerance, confidence, settings.recovery_shots)
    return [replace(c, capabilities=_with_audits(capabilities, c), verdict=overall_verdict(capabilities),
                    settings=replace(c.settings, tolerance=tolerance, confidence=confidence))
            for c, capabilities in zip(comparisons, judged)]


def _with_audits(capabilities: list[CapabilityResult], judged: Comparison) -> list[CapabilityResult]:
    """The probe audit as it was judged when the comparison ran: it needs the floors, which a report does not keep."""
    audits = {c.name: (c.audit, c.audit_problems) for c in judged.capabilities}
    return [replace(c, audit=audits[c.name][0], audit_problems=audits[c.name][1]) for c in capabilities]
