"""Orchestration: resolve both models, score the suite on each, judge, return a Comparison.

``compare()`` is the library form of ``forgetcheck compare``; the CLI only parses
options and renders. The steps run in one direction: open the pair of models
(:mod:`forgetcheck.models.weights`), score the suite on the base and then on the
candidate through the result cache (:mod:`forgetcheck.results.runner`), measure
label-free drift on the base's own samples (:mod:`forgetcheck.workflows.label_free`),
judge (:mod:`forgetcheck.analysis.verdicts`), re-ask forgotten answers
(:mod:`forgetcheck.workflows.recovery`) and put it all in a :class:`Comparison`.

``compare_many()`` does the same for several candidates against one base in one
run: the base is scored once, adapters share its loaded weights
(:func:`forgetcheck.models.weights.open_candidates`), and every capability ×
candidate test is judged as one family (Holm across all of them).
"""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import replace
from typing import Callable

from forgetcheck.version import __version__
from forgetcheck.analysis.verdicts import CapabilityInfo, judge_candidates, judge_items
from forgetcheck.errors import BadInput
from forgetcheck.comparison import (
    CapabilityResult, Comparison, ItemResult, ModelInfo, Settings, overall_verdict, split_counts, utc_timestamp)
from forgetcheck.models import parallel
from forgetcheck.models.specs import ModelSpec
from forgetcheck.models.weights import open_candidates, open_pair
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
    suite_obj = _suite(suite, options)
    pair = open_pair(base, candidate, dtype=options.dtype, device=options.device, device_map=options.device_map,
                     batch_tokens=options.batch_tokens, allow_pickle=options.allow_pickle,
                     trust_remote_code=options.trust_remote_code, progress=options.progress, timings=timings)
    for message in pair.notes:
        note(message)
    store = _result_cache(options.cache, note)
    base_spec, cand_spec, device_name = pair.base_spec, pair.cand_spec, pair.device
    base_key = model_key(base_spec.resolved, adapter=None, adapter_disabled=cand_spec.adapter,
                         dtype=pair.dtype_name, device=device_name, label=base, batch_tokens=options.batch_tokens)
    cand_key = _candidate_key(base_spec, cand_spec, candidate, pair.dtype_name, device_name, options)
    counts = SuiteCounts()
    chat_template = options.chat_template
    drift = _label_free_drift(suite_obj, options, store, base_key, cand_key, pair.same_tokenizer)
    timings["resolve_s"] = time.perf_counter() - started

    base_scores = _score_suite(suite_obj, pair.base, chat_template, timings, "base_s", store, base_key, counts)
    audits = _base_audits(suite_obj, pair.base, base_scores, store, base_spec, pair.dtype_name, device_name, base,
                          options, timings)
    with _phase(timings, "drift_s"):
        drift.prepare(pair.base)  # the base's side, while it is loaded
    pair.free_base()
    cand_scores = _score_suite(suite_obj, pair.candidate, chat_template, timings, "candidate_s", store, cand_key,
                               counts)
    with _phase(timings, "drift_s"):
        drift_summary = drift.measure(pair.candidate)
    if not drift.n:
        timings.pop("drift_s", None)
    _padding_efficiency(timings, pair.base, pair.candidate)
    timings["cached_items"] = counts.cached
    timings["scored_items"] = counts.scored
    if parallel.launched():
        timings["scored_items_this_process"] = counts.scored_here

    items, infos = paired_items(suite_obj, base_scores, cand_scores)
    capabilities = judge_items(items, infos, options.tolerance, options.confidence)
    if options.recovery_shots:
        # Every process takes part: the re-asked items are scored (and sharded) like the suite's.
        with _phase(timings, "recovery_s"):
            if recover(suite_obj, items, pair.candidate, shots=options.recovery_shots, chat_override=chat_template,
                       cache=store, model_key=cand_key):
                # Judge again so each capability's diagnosis counts the recovered answers.
                capabilities = judge_items(items, infos, options.tolerance, options.confidence,
                                           options.recovery_shots)
    capabilities = _mark_audits(capabilities, audits)
    for message in _audit_warnings(audits):
        note(message)
    timings["total_s"] = time.perf_counter() - started
    settings_record = _settings(suite_obj, options, pair.dtype_name, device_name, pair.base.batch_tokens)
    return _comparison(base_spec, cand_spec, settings_record, capabilities, items, timings, warnings, drift_summary)


def compare_many(base: str, candidates: list[str], suite: str | Suite = "core", options: CompareOptions | None = None,
                 *, warn: Callable[[str], None] | None = None, **settings) -> dict[str, Comparison]:
    """Compare several CANDIDATES (adapters, checkpoints, full models) with one BASE in one run.

    Returns each candidate's :class:`Comparison`, keyed by its label
    (:func:`candidate_labels`) in the order given. Each is what :func:`compare`
    would give for that candidate alone, score for score, except that the p-values
    are Holm-adjusted across every capability × candidate test, so the chance of any
    false "regressed" in the whole run stays at 1 − confidence. The base is scored
    once; adapters are switched by name on the one loaded base; full models load one
    at a time, each freed before the next. Each report's timings and counts include
    the shared base pass.
    """
    options = (options or DEFAULTS).with_overrides(**settings)
    if len(candidates) < 2:
        raise BadInput("compare_many needs two or more candidates; for one, use compare()")
    labels = candidate_labels(candidates)
    timings: dict[str, float] = {}
    shared: list[str] = []

    def note(message: str, into: list[str]) -> None:
        into.append(message)
        if warn:
            warn(message)

    started = time.perf_counter()
    suite_obj = _suite(suite, options)
    models = open_candidates(base, list(candidates), dtype=options.dtype, device=options.device,
                             device_map=options.device_map, batch_tokens=options.batch_tokens,
                             allow_pickle=options.allow_pickle, trust_remote_code=options.trust_remote_code,
                             progress=options.progress, timings=timings)
    for message in models.notes:
        note(message, shared)
    own_warnings = [[] for _ in candidates]
    for k, messages in enumerate(models.candidate_notes):
        for message in messages:
            note(f"{labels[k]}: {message}", own_warnings[k])
    store = _result_cache(options.cache, lambda message: note(message, shared))
    dtype_name, device_name, chat_template = models.dtype_name, models.device, options.chat_template
    base_key = model_key(models.base_spec.resolved, adapter=None, adapter_disabled=models.has_adapters,
                         dtype=dtype_name, device=device_name, label=base, batch_tokens=options.batch_tokens)
    cand_keys = [_candidate_key(models.base_spec, spec, candidate, dtype_name, device_name, options)
                 for spec, candidate in zip(models.specs, candidates)]
    drifts = [_label_free_drift(suite_obj, options, store, base_key, key, same)
              for key, same in zip(cand_keys, models.same_tokenizer)]
    timings["resolve_s"] = time.perf_counter() - started

    base_counts = SuiteCounts()
    base_scores = _score_suite(suite_obj, models.base, chat_template, timings, "base_s", store, base_key, base_counts)
    audits = _base_audits(suite_obj, models.base, base_scores, store, models.base_spec, dtype_name, device_name,
                          base, options, timings)
    for message in _audit_warnings(audits):  # the audit is the base's: said once, kept in every candidate's report
        note(message, shared)
    with _phase(timings, "drift_s"):
        prepared = None
        for drift in drifts:  # the base's samples and reference are made once and shared
            drift.prepare(models.base, base_side=prepared)
            prepared = drift if drift.samples is not None else prepared
    models.done_with_base()

    runs: list = [None] * len(candidates)
    for k in models.scoring_order():
        # The loaders count into the timings they are given: each candidate's own, then merged with the base's.
        own = models.weights.timings = {"load_s": 0.0, "models_loaded": 0}
        counts = SuiteCounts()
        scorer = models.candidates[k]
        cand_scores = _score_suite(suite_obj, scorer, chat_template, own, "candidate_s", store, cand_keys[k], counts)
        with _phase(own, "drift_s"):
            drift_summary = drifts[k].measure(scorer)
        items, infos = paired_items(suite_obj, base_scores, cand_scores)
        if options.recovery_shots:
            judge_items(items, infos, options.tolerance, options.confidence)  # marks the forgotten items
            with _phase(own, "recovery_s"):
                recover(suite_obj, items, scorer, shots=options.recovery_shots, chat_override=chat_template,
                        cache=store, model_key=cand_keys[k])
        _padding_efficiency(own, models.base, scorer)
        own.update(cached_items=base_counts.cached + counts.cached, scored_items=base_counts.scored + counts.scored)
        if parallel.launched():
            own["scored_items_this_process"] = base_counts.scored_here + counts.scored_here
        models.done_with(k)
        runs[k] = (items, infos, own, drift_summary)

    judged = judge_candidates([(items, infos) for items, infos, _, _ in runs], options.tolerance, options.confidence,
                              options.recovery_shots)
    tests = sum(len(infos) for _, infos, _, _ in runs)
    settings_record = _settings(suite_obj, options, dtype_name, device_name, models.base.batch_tokens)
    total = time.perf_counter() - started
    comparisons = {}
    for k, (label, spec, capabilities) in enumerate(zip(labels, models.specs, judged)):
        items, _, own, drift_summary = runs[k]
        together = (f"judged together with {len(candidates) - 1} other candidate(s) against the same base: p_adjusted "
                    f"is Holm-corrected across all {tests} capability × candidate tests (`forgetcheck report` on the "
                    "run's folder re-judges them together; on this file alone, as a single comparison)")
        step_times = {**timings}
        for step, value in own.items():
            step_times[step] = step_times.get(step, 0) + value if step in ("load_s", "models_loaded", "drift_s") \
                else value
        step_times["total_s"] = total
        capabilities = _mark_audits(capabilities, audits)
        comparisons[label] = _comparison(models.base_spec, spec, settings_record, capabilities, items, step_times,
                                         [*shared, *own_warnings[k], together], drift_summary)
    return comparisons


def candidate_labels(candidates: list[str]) -> list[str]:
    """A short, unique, filesystem-safe name per candidate: its folder or file name, or its Hub name@revision.

    A name two candidates share takes its parent folder (or Hub owner) in front, then
    a number. Names of the files a several-candidate report writes at its top are avoided.

    >>> candidate_labels(["runs/a/checkpoint-500", "runs/b/checkpoint-500", "org/model@v2", "x/adapter.gguf"])
    ['a-checkpoint-500', 'b-checkpoint-500', 'model@v2', 'adapter']
    """
    def safe(text: str) -> str:
        text = _UNSAFE_LABEL.sub("-", text).strip("-.")[:80]
        return text or "candidate"

    def parts(spec: str) -> tuple[str, str]:
        repo, at, revision = spec.partition("@") if not spec.startswith((".", "/", "~")) else (spec, "", "")
        pieces = [p for p in repo.replace("\\", "/").split("/") if p not in ("", ".", "..")] or ["candidate"]
        name = pieces[-1].removesuffix(".gguf") + (f"@{revision}" if at else "")
        return safe(name), safe(f"{pieces[-2]}-{name}" if len(pieces) > 1 else name)

    short, longer = zip(*(parts(spec) for spec in candidates)) if candidates else ((), ())
    labels = [s if list(short).count(s) == 1 else longer[k] for k, s in enumerate(short)]
    seen: set[str] = set()
    unique = []
    for label in labels:
        if label.lower() in RESERVED_LABELS:
            label += "-candidate"
        chosen, n = label, 2
        while chosen.lower() in seen:
            chosen, n = f"{label}-{n}", n + 1
        seen.add(chosen.lower())
        unique.append(chosen)
    return unique


# Characters kept in a label: letters, digits and . _ - @; anything else becomes "-".
_UNSAFE_LABEL = re.compile(r"[^A-Za-z0-9._@-]+")
# Files at the top of a several-candidate report folder, and names Windows will not give a folder.
RESERVED_LABELS = frozenset({"report.md", "candidates.json", "con", "prn", "aux", "nul",
                             *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))})


def _suite(suite: str | Suite, options: CompareOptions) -> Suite:
    suite_obj = suite if isinstance(suite, Suite) else load_suite(suite, files_anywhere=options.files_outside_suite,
                                                                 task_code=options.task_code)
    if options.reference:
        suite_obj = replace(suite_obj, probes=[*suite_obj.probes, reference_probe(options.reference)])
    return suite_obj


def _candidate_key(base_spec: ModelSpec, cand_spec: ModelSpec, label: str, dtype: str, device: str,
                   options: CompareOptions) -> dict:
    """The candidate's cache key: an adapter is the base's weights plus the adapter's."""
    adapter = cand_spec.resolved if cand_spec.adapter else None
    return model_key(base_spec.resolved if cand_spec.adapter else cand_spec.resolved, adapter=adapter,
                     adapter_disabled=False, dtype=dtype, device=device, label=label,
                     batch_tokens=options.batch_tokens)


def _settings(suite: Suite, options: CompareOptions, dtype: str, device: str, batch_tokens: int) -> Settings:
    return Settings(
        dtype=dtype, device=device, tolerance=options.tolerance, confidence=options.confidence,
        suites=[{"name": suite.name, "hash": suite.fingerprint(), "source": suite.source}],
        chat_template=options.chat_template or "per probe", batch_tokens=batch_tokens,
        probes=[{"name": p.name, "kind": p.kind, "metric": p.metric, "items": len(p.items), "hash": p.fingerprint(),
                 **p.info} for p in suite.probes], recovery_shots=options.recovery_shots,
        kl_samples=options.kl_samples)


def _comparison(base_spec: ModelSpec, cand_spec: ModelSpec, settings: Settings, capabilities, items, timings,
                warnings, drift_summary) -> Comparison:
    seconds, run_counts = split_counts(timings)  # the loaders count into timings; the report keeps them apart
    return Comparison(
        base=_model_info(base_spec), candidate=_model_info(cand_spec), settings=settings,
        capabilities=capabilities, verdict=overall_verdict(capabilities), items=items, timings=seconds,
        counts=run_counts, warnings=warnings, label_free=drift_summary, forgetcheck_version=__version__,
        created_at=utc_timestamp())


def paired_items(suite: Suite, base_scores: dict, cand_scores: dict) -> tuple[list[ItemResult], list[CapabilityInfo]]:
    """Both sides' per-probe scores as aligned items and what judging needs per capability.

    Shared by :func:`compare` and the training callback
    (:mod:`forgetcheck.integrations.transformers`), so both judge the very same items.
    """
    items, infos = [], []
    for probe in suite.probes:
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
                                    dataset=probe.info.get("dataset"), note=probe.info.get("note")))
    return items, infos


def _base_audits(suite: Suite, scorer, base_scores: dict, store, spec: ModelSpec, dtype: str, device: str,
                 label: str, options: CompareOptions, timings: dict) -> dict:
    """The base's probe audit per capability: read from the cache, measured only with ``options.audit``."""
    with _phase(timings, "audit_s"):
        audits = audit_capabilities(
            suite, scorer, {name: mean(s.scores) for name, s in base_scores.items()}, store,
            audit_model_key(spec.resolved, dtype, device, label, options.batch_tokens),
            run=options.audit, tolerance=options.tolerance, confidence=options.confidence, progress=options.progress)
    if not options.audit:
        timings.pop("audit_s")
    return audits


def _mark_audits(capabilities: list[CapabilityResult], audits: dict) -> list[CapabilityResult]:
    """Each capability with its audit's outcome, where the base has an audit."""
    return [cap if (audit := audits.get(cap.name)) is None else
            replace(cap, audit="failed" if audit.flagged else "passed", audit_problems=list(audit.problems))
            for cap in capabilities]


def _audit_warnings(audits: dict) -> list[str]:
    """A warning for each capability that failed its audit against the base."""
    return [f"{name} failed its probe audit against the base ({'; '.join(audit.problems)}): its verdict may not "
            "show forgetting (forgetcheck probes audit explains the floors)"
            for name, audit in audits.items() if audit.flagged]


def _label_free_drift(suite: Suite, options: CompareOptions, store, base_key: dict, cand_key: dict,
                      same_tokenizer: bool) -> LabelFreeDrift:
    """Label-free drift for one candidate. It runs once, in the process that writes the report, and only where
    both sides share a vocabulary (it compares next-token distributions token by token)."""
    chat = options.chat_template
    return LabelFreeDrift(suite, chat, store, base_key, cand_key,
                          options.kl_samples if parallel.is_main() and same_tokenizer else 0, options.confidence,
                          render=lambda scorer, probe, text: render_drift_prompt(scorer, probe, text, chat))


def _padding_efficiency(timings: dict, base_scorer, cand_scorer) -> None:
    """Real tokens over computed tokens, both sides together, when anything was computed."""
    padded = base_scorer.padded_tokens + cand_scorer.padded_tokens
    if padded:
        timings["padding_efficiency"] = (base_scorer.real_tokens + cand_scorer.real_tokens) / padded


def render_drift_prompt(scorer, probe, text: str, chat_override: str | None) -> str:
    """A drift prompt as the model sees it: a probe's own chat setting, or the template when there is no probe."""
    chat = scorer.has_chat_template if probe is None else use_chat(probe, scorer, chat_override)
    return render_prompt(text, chat, scorer)


def _score_suite(suite: Suite, scorer, chat_template, timings, key, store, model, counts):
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


