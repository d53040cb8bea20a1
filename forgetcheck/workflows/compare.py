"""Orchestration: resolve both models, score the suite on each, judge, return a Comparison.

``compare()`` is the library form of ``forgetcheck compare``; the CLI only parses
options and renders. The steps run in one direction: open the pair of models
(:mod:`forgetcheck.models.weights`), score the suite on the base and then on the
candidate through the result cache (:mod:`forgetcheck.results.runner`), measure
label-free drift on the base's own samples (:mod:`forgetcheck.workflows.label_free`),
judge (:mod:`forgetcheck.analysis.verdicts`), re-ask forgotten answers
(:mod:`forgetcheck.workflows.recovery`) and put it all in a :class:`Comparison`.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace
from typing import Callable

from forgetcheck.version import __version__
from forgetcheck.analysis.verdicts import CapabilityInfo, judge_items
from forgetcheck.comparison import (
    CapabilityResult, Comparison, ItemResult, ModelInfo, Settings, overall_verdict, split_counts, utc_timestamp)
from forgetcheck.models import parallel
from forgetcheck.models.specs import ModelSpec
from forgetcheck.models.weights import open_pair
from forgetcheck.options import DEFAULTS, CompareOptions
from forgetcheck.results.keys import model_key
from forgetcheck.results.runner import SuiteCounts, score_suite
from forgetcheck.results.store import ResultCache
from forgetcheck.suites.asking import expected_text, render_prompt, use_chat
from forgetcheck.suites.suite import Suite, load_suite, reference_probe
from forgetcheck.workflows.audit import audit_capabilities, audit_model_key, mean
from forgetcheck.workflows.label_free import LabelFreeDrift
from forgetcheck.workflows.recovery import recover


def compare(base: str, candidate: str, suite: str | Suite = "core", options: CompareOptions | None = None, *,
            warn: Callable[[str], None] | None = None, **settings) -> Comparison:
    """Compare CANDIDATE with BASE on a suite; see :class:`~forgetcheck.options.CompareOptions` and the README.

    ``options`` holds every setting (defaults: :data:`forgetcheck.options.DEFAULTS`);
    keyword ``settings`` override single fields, e.g. ``compare(b, c, kl_samples=0)``.
    When the candidate is a PEFT adapter, the base is loaded once and scored with
    the adapter disabled. Both sides use the same dtype, prompts and batches.
    Weights load only when something must be scored (``counts.models_loaded``):
    a rerun found in the cache loads none.
    """
    options = (options or DEFAULTS).with_overrides(**settings)
    timings: dict[str, float] = {}
    warnings: list[str] = []

    def note(message: str) -> None:
        warnings.append(message)
        if warn:
            warn(message)

    started = time.perf_counter()
    suite_obj = suite if isinstance(suite, Suite) else load_suite(suite, files_anywhere=options.files_outside_suite)
    if options.reference:
        suite_obj = replace(suite_obj, probes=[*suite_obj.probes, reference_probe(options.reference)])
    pair = open_pair(base, candidate, dtype=options.dtype, device=options.device, device_map=options.device_map,
                     batch_tokens=options.batch_tokens, allow_pickle=options.allow_pickle,
                     trust_remote_code=options.trust_remote_code, progress=options.progress, timings=timings)
    for message in pair.notes:
        note(message)
    store = _result_cache(options.cache, note)
    base_spec, cand_spec, device_name = pair.base_spec, pair.cand_spec, pair.device
    adapter = cand_spec.resolved if cand_spec.adapter else None
    base_key = model_key(base_spec.resolved, adapter=adapter, adapter_disabled=cand_spec.adapter,
                         dtype=pair.dtype_name, device=device_name, label=base, batch_tokens=options.batch_tokens)
    cand_key = model_key(base_spec.resolved if cand_spec.adapter else cand_spec.resolved, adapter=adapter,
                         adapter_disabled=False, dtype=pair.dtype_name, device=device_name, label=candidate,
                         batch_tokens=options.batch_tokens)
    counts = SuiteCounts()
    chat_template = options.chat_template
    # Label-free drift runs once, in the process that writes the report, and only where both sides share
    # a vocabulary (it compares next-token distributions token by token).
    drift = LabelFreeDrift(suite_obj, chat_template, store, base_key, cand_key,
                           options.kl_samples if parallel.is_main() and pair.same_tokenizer else 0, options.confidence,
                           render=lambda scorer, probe, text: _render(scorer, probe, text, chat_template))
    timings["resolve_s"] = time.perf_counter() - started

    base_scores = _score_suite(suite_obj, pair.base, chat_template, timings, "base_s", store, base_key, counts)
    with _phase(timings, "audit_s"):  # the base's probe audit: read from the cache, measured only when asked
        audits = audit_capabilities(
            suite_obj, pair.base, {name: mean(s.scores) for name, s in base_scores.items()}, store,
            audit_model_key(base_spec.resolved, pair.dtype_name, device_name, base, options.batch_tokens),
            run=options.audit, tolerance=options.tolerance, confidence=options.confidence, progress=options.progress)
    if not options.audit:
        timings.pop("audit_s")
    with _phase(timings, "drift_s"):
        drift.prepare(pair.base)  # the base's side, while it is loaded
    pair.free_base()
    cand_scores = _score_suite(suite_obj, pair.candidate, chat_template, timings, "candidate_s", store, cand_key,
                               counts)
    with _phase(timings, "drift_s"):
        drift_summary = drift.measure(pair.candidate)
    if not drift.n:
        timings.pop("drift_s", None)
    padded = pair.base.padded_tokens + pair.candidate.padded_tokens
    if padded:
        timings["padding_efficiency"] = (pair.base.real_tokens + pair.candidate.real_tokens) / padded
    timings["cached_items"] = counts.cached
    timings["scored_items"] = counts.scored
    if parallel.launched():
        timings["scored_items_this_process"] = counts.scored_here

    items, infos = [], []
    for probe in suite_obj.probes:
        b, c = base_scores[probe.name], cand_scores[probe.name]
        for k, item in enumerate(probe.items):
            items.append(ItemResult(
                capability=probe.name, item_id=item.id, base_score=b.scores[k], candidate_score=c.scores[k],
                prompt=item.prompt or item.text[:300], expected=expected_text(probe, item),
                base_answer=b.answers[k], candidate_answer=c.answers[k], subcategory=item.subcategory,
                n_options=len(item.choices) if probe.kind == "choice" else None, pair=getattr(item, "pair", None),
                difficulty=item.difficulty))
        extra = {key: {"base": b.extra[key], "candidate": c.extra[key]} for key in b.extra}
        infos.append(CapabilityInfo(probe.name, probe.kind, probe.metric, extra, chance=probe.info.get("chance"),
                                    dataset=probe.info.get("dataset")))
    capabilities = judge_items(items, infos, options.tolerance, options.confidence)
    if options.recovery_shots:
        # Every process takes part: the re-asked items are scored (and sharded) like the suite's.
        with _phase(timings, "recovery_s"):
            if recover(suite_obj, items, pair.candidate, shots=options.recovery_shots, chat_override=chat_template,
                       cache=store, model_key=cand_key):
                # Judge again so each capability's diagnosis counts the recovered answers.
                capabilities = judge_items(items, infos, options.tolerance, options.confidence,
                                           options.recovery_shots)
    capabilities = _with_audits(capabilities, audits, note)
    timings["total_s"] = time.perf_counter() - started
    settings_record = Settings(
        dtype=pair.dtype_name, device=device_name, tolerance=options.tolerance, confidence=options.confidence,
        suites=[{"name": suite_obj.name, "hash": suite_obj.fingerprint(), "source": suite_obj.source}],
        chat_template=chat_template or "per probe", batch_tokens=pair.base.batch_tokens,
        probes=[{"name": p.name, "kind": p.kind, "metric": p.metric, "items": len(p.items), "hash": p.fingerprint(),
                 **p.info} for p in suite_obj.probes], recovery_shots=options.recovery_shots,
        kl_samples=options.kl_samples)
    seconds, run_counts = split_counts(timings)  # the loaders count into timings; the report keeps them apart
    return Comparison(
        base=_model_info(base_spec), candidate=_model_info(cand_spec), settings=settings_record,
        capabilities=capabilities, verdict=overall_verdict(capabilities), items=items, timings=seconds,
        counts=run_counts, warnings=warnings, label_free=drift_summary, forgetcheck_version=__version__,
        created_at=utc_timestamp())


def _with_audits(capabilities: list[CapabilityResult], audits: dict, note: Callable[[str], None]):
    """Each capability with its audit's outcome; a warning for each one that failed."""
    marked = []
    for cap in capabilities:
        audit = audits.get(cap.name)
        if audit is not None:
            cap = replace(cap, audit="failed" if audit.flagged else "passed", audit_problems=list(audit.problems))
            if audit.flagged:
                note(f"{cap.name} failed its probe audit against the base ({'; '.join(audit.problems)}): its "
                     "verdict may not show forgetting (forgetcheck probes audit explains the floors)")
        marked.append(cap)
    return marked


def _render(scorer, probe, text: str, chat_override: str | None) -> str:
    """A drift prompt as the model sees it: a probe's own chat setting, or the template when there is no probe."""
    chat = scorer.has_chat_template if probe is None else use_chat(probe, scorer, chat_override)
    return render_prompt(text, chat, scorer)


def _score_suite(suite: Suite, scorer: HFScorer, chat_template, timings, key, store, model, counts):
    with _phase(timings, key):
        return score_suite(suite, scorer, chat_template, store, model, counts)


@contextlib.contextmanager
def _phase(timings: dict, key: str):
    """Add a step's seconds to ``timings[key]``, less any weights loaded during it (those count in ``load_s``)."""
    t, loading = time.perf_counter(), timings.get("load_s", 0.0)
    try:
        yield
    finally:
        spent = time.perf_counter() - t - (timings.get("load_s", 0.0) - loading)
        timings[key] = timings.get(key, 0.0) + spent


def _result_cache(cache: bool | str | ResultCache, warn: Callable[[str], None]) -> ResultCache | None:
    if isinstance(cache, ResultCache):
        return cache
    if cache is False or cache is None:
        return None
    return ResultCache(None if cache is True else cache, warn=warn)


def _model_info(spec: ModelSpec) -> ModelInfo:
    source = "adapter" if spec.adapter and spec.source != "hub" else spec.source
    return ModelInfo(spec=spec.spec, source=source, resolved=spec.resolved, adapter=spec.adapter,
                     adapter_base=spec.adapter_base)


