"""Orchestration: resolve both models, score the suite on each, judge, return a Comparison.

``compare()`` is the library form of ``forgetcheck compare``; the CLI only parses
options and renders. ``judge_items()`` turns aligned per-item scores into verdicts
and is shared with ``forgetcheck report``, which re-judges a saved report with
other thresholds without loading a model.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import asdict, dataclass, replace
from typing import Callable

from forgetcheck import __version__
from forgetcheck.comparison import CapabilityResult, Comparison, ItemResult, ModelInfo, Settings, overall_verdict
from forgetcheck.errors import BadInput
from forgetcheck.loading import attach_adapter, choose_device, choose_dtype, load_model
from forgetcheck.probing import BINARY_METRICS, expected_text, score_probe
from forgetcheck.scoring.hf import HFScorer
from forgetcheck.specs import ModelSpec, resolve, same_model_name
from forgetcheck.stats import chance_adjusted, judge, measures_nothing, paired_drop
from forgetcheck.suite import Suite, load_suite


@dataclass
class CapabilityInfo:
    """What judging needs to know about a capability besides its scores."""

    name: str
    kind: str
    metric: str
    extra: dict[str, dict[str, float]]
    note: str | None = None


def judge_items(items: list[ItemResult], capabilities: list[CapabilityInfo], tolerance: float,
                confidence: float) -> list[CapabilityResult]:
    """Per-capability paired drop, Holm correction and verdict; flips set on the items.

    Also the chance level (a base at chance turns the verdict to ``at-chance``
    unless it regressed), chance-adjusted forgetting for k-option items, and the
    per-sub-category breakdown.
    """
    if not 0 <= tolerance < 1:
        raise BadInput(f"--tolerance {tolerance}: use an absolute drop between 0 and 1 (e.g. 0.02 = 2 points)")
    if not 0.5 <= confidence < 1:
        raise BadInput(f"--confidence {confidence}: use a level between 0.5 and 1 (e.g. 0.95)")
    drops, groups = [], []
    for cap in capabilities:
        mine = [i for i in items if i.capability == cap.name]
        binary = cap.metric in BINARY_METRICS
        for item in mine:
            item.flip = _flip(item) if binary else None
        groups.append(mine)
        drops.append(paired_drop([i.base_score for i in mine], [i.candidate_score for i in mine],
                                 binary=binary, confidence=confidence))
    results = []
    for cap, mine, j in zip(capabilities, groups, judge(drops, tolerance, confidence)):
        d = j.drop
        binary = cap.metric in BINARY_METRICS
        chance = _chance_level(cap, mine) if binary else None
        base_scores = [i.base_score for i in mine]
        at_chance = measures_nothing(base_scores, chance, tolerance, confidence) if chance is not None else None
        verdict = "at-chance" if at_chance and j.verdict != "regressed" else j.verdict
        results.append(CapabilityResult(
            name=cap.name, kind=cap.kind, metric=cap.metric, n=d.n, base_score=d.base_score,
            candidate_score=d.candidate_score, drop=d.drop, ci_low=d.ci_low, ci_high=d.ci_high,
            p_value=d.p_value, p_adjusted=j.p_adjusted, verdict=verdict, forgotten=d.forgotten,
            learned=d.learned, items_needed=j.items_needed if verdict == "inconclusive" else None, note=cap.note,
            extra=cap.extra, chance=chance, at_chance=at_chance, chance_adjusted=_chance_adjusted(mine),
            subcategories=_subcategories(mine, binary, confidence)))
    return results


def _chance_level(cap: CapabilityInfo, items: list[ItemResult]) -> float:
    """What guessing scores: mean 1/k over choice items; free generation guesses nothing."""
    if cap.kind != "choice":
        return 0.0
    options = [i.n_options for i in items if i.n_options]
    return sum(1 / k for k in options) / len(options) if options else 0.0


def _chance_adjusted(items: list[ItemResult]) -> dict[str, float] | None:
    """Harmon et al.'s chance-adjusted forgetting, for capabilities whose items all have k options."""
    if not items or any(not i.n_options or i.n_options < 2 for i in items):
        return None
    result = chance_adjusted([i.base_score for i in items], [i.candidate_score for i in items],
                             [i.n_options for i in items])
    return asdict(result)


def _subcategories(items: list[ItemResult], binary: bool, confidence: float) -> list[dict]:
    """The paired drop per sub-category; empty when the capability has fewer than two."""
    names = sorted({i.subcategory for i in items if i.subcategory})
    if len(names) < 2:
        return []
    rows = []
    for name in names:
        mine = [i for i in items if i.subcategory == name]
        d = paired_drop([i.base_score for i in mine], [i.candidate_score for i in mine], binary=binary,
                        confidence=confidence)
        rows.append({"name": name, "n": d.n, "base_score": d.base_score, "candidate_score": d.candidate_score,
                     "drop": d.drop, "ci_low": d.ci_low, "ci_high": d.ci_high, "forgotten": d.forgotten,
                     "learned": d.learned})
    return rows


def _flip(item: ItemResult) -> str:
    if item.base_score > item.candidate_score:
        return "forgotten"
    if item.candidate_score > item.base_score:
        return "learned"
    return "same"


def rejudge(comparison: Comparison, tolerance: float | None = None, confidence: float | None = None) -> Comparison:
    """The same comparison judged with other thresholds; no model is loaded."""
    tolerance = comparison.settings.tolerance if tolerance is None else tolerance
    confidence = comparison.settings.confidence if confidence is None else confidence
    infos = [CapabilityInfo(c.name, c.kind, c.metric, c.extra, c.note) for c in comparison.capabilities]
    capabilities = judge_items(comparison.items, infos, tolerance, confidence)
    settings = replace(comparison.settings, tolerance=tolerance, confidence=confidence)
    return replace(comparison, capabilities=capabilities, settings=settings, verdict=overall_verdict(capabilities))


def compare(base: str, candidate: str, suite: str | Suite = "core", *, tolerance: float = 0.02,
            confidence: float = 0.95, dtype: str = "auto", device: str = "auto", chat_template: str | None = None,
            batch_tokens: int | None = None, allow_pickle: bool = False, trust_remote_code: bool = False,
            progress: bool = True, warn: Callable[[str], None] | None = None) -> Comparison:
    """Compare CANDIDATE with BASE on a suite; see the README for the options.

    When the candidate is a PEFT adapter, the base is loaded once and scored with
    the adapter disabled. Both sides use the same dtype, prompts and batches.
    """
    timings: dict[str, float] = {}
    warnings: list[str] = []

    def note(message: str) -> None:
        warnings.append(message)
        if warn:
            warn(message)

    started = time.perf_counter()
    suite_obj = suite if isinstance(suite, Suite) else load_suite(suite)
    base_spec = resolve(base, allow_pickle=allow_pickle)
    cand_spec = resolve(candidate, allow_pickle=allow_pickle)
    if base_spec.adapter:
        raise BadInput(f"base {base!r} is a PEFT adapter; BASE must be a full model (the adapter goes in CANDIDATE)")
    if cand_spec.adapter and cand_spec.adapter_base and not same_model_name(cand_spec.adapter_base, base_spec):
        note(f"the adapter {candidate!r} was trained on {cand_spec.adapter_base!r}, but BASE is {base!r}; "
             "if that is not the same model, this comparison means little")
    device_name = choose_device(device)
    torch_dtype = choose_dtype(dtype, device_name)
    timings["resolve_s"] = time.perf_counter() - started

    def scorer_for(model, tokenizer, label, context=None):
        return HFScorer(model, tokenizer, device=device_name, batch_tokens=batch_tokens, context_manager=context,
                        progress=progress, label=label)

    t = time.perf_counter()
    base_model, base_tok = load_model(base_spec, dtype=torch_dtype, device=device_name, allow_pickle=allow_pickle,
                                      trust_remote_code=trust_remote_code)
    timings["load_s"] = time.perf_counter() - t
    if cand_spec.adapter:
        wrapped = attach_adapter(base_model, cand_spec, allow_pickle=allow_pickle)
        # One loaded model: the base pass runs with the adapter switched off.
        base_scorer = scorer_for(wrapped, base_tok, "base", wrapped.disable_adapter)
        base_scores = _score_suite(suite_obj, base_scorer, chat_template, timings, "base_s")
        cand_scores = _score_suite(suite_obj, scorer_for(wrapped, base_tok, "candidate"), chat_template, timings,
                                   "candidate_s")
    else:
        base_scorer = scorer_for(base_model, base_tok, "base")
        base_scores = _score_suite(suite_obj, base_scorer, chat_template, timings, "base_s")
        del base_model
        t = time.perf_counter()
        cand_model, cand_tok = load_model(cand_spec, dtype=torch_dtype, device=device_name,
                                          allow_pickle=allow_pickle, trust_remote_code=trust_remote_code)
        timings["load_s"] += time.perf_counter() - t
        if cand_tok.get_vocab() != base_tok.get_vocab():
            note("the candidate's tokenizer differs from the base's; scores are comparable only per item text")
        cand_scores = _score_suite(suite_obj, scorer_for(cand_model, cand_tok, "candidate"), chat_template, timings,
                                   "candidate_s")
    if base_scorer.padded_tokens:
        timings["padding_efficiency"] = base_scorer.real_tokens / base_scorer.padded_tokens

    items, infos = [], []
    for probe in suite_obj.probes:
        b, c = base_scores[probe.name], cand_scores[probe.name]
        for k, item in enumerate(probe.items):
            items.append(ItemResult(
                capability=probe.name, item_id=item.id, base_score=b.scores[k], candidate_score=c.scores[k],
                prompt=item.prompt or item.text[:300], expected=expected_text(probe, item),
                base_answer=b.answers[k], candidate_answer=c.answers[k], subcategory=item.subcategory,
                n_options=len(item.choices) if probe.kind == "choice" else None, pair=getattr(item, "pair", None)))
        extra = {key: {"base": b.extra[key], "candidate": c.extra[key]} for key in b.extra}
        infos.append(CapabilityInfo(probe.name, probe.kind, probe.metric, extra))
    capabilities = judge_items(items, infos, tolerance, confidence)
    timings["total_s"] = time.perf_counter() - started
    settings = Settings(
        dtype=str(torch_dtype).replace("torch.", ""), device=device_name, tolerance=tolerance, confidence=confidence,
        suites=[{"name": suite_obj.name, "hash": suite_obj.fingerprint(), "source": suite_obj.source}],
        chat_template=chat_template or "per probe", batch_tokens=base_scorer.batch_tokens,
        probes=[{"name": p.name, "kind": p.kind, "metric": p.metric, "items": len(p.items), "hash": p.fingerprint(),
                 **p.info} for p in suite_obj.probes])
    return Comparison(
        base=_model_info(base_spec), candidate=_model_info(cand_spec), settings=settings, capabilities=capabilities,
        verdict=overall_verdict(capabilities), items=items, timings=timings, warnings=warnings,
        forgetcheck_version=__version__, created_at=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))


def _score_suite(suite: Suite, scorer: HFScorer, chat_template, timings, key):
    t = time.perf_counter()
    scores = {p.name: score_probe(p, scorer, chat_template) for p in suite.probes}
    timings[key] = time.perf_counter() - t
    return scores


def _model_info(spec: ModelSpec) -> ModelInfo:
    source = "adapter" if spec.adapter and spec.source != "hub" else spec.source
    return ModelInfo(spec=spec.spec, source=source, resolved=spec.resolved, adapter=spec.adapter,
                     adapter_base=spec.adapter_base)


