"""Orchestration: resolve both models, score the suite on each, judge, return a Comparison.

``compare()`` is the library form of ``forgetcheck compare``; the CLI only parses
options and renders. ``judge_items()`` turns aligned per-item scores into verdicts
and is shared with ``forgetcheck report``, which re-judges a saved report with
other thresholds without loading a model.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from typing import Callable

import torch

from forgetcheck import __version__
from forgetcheck.models import parallel
from forgetcheck.results.store import ResultCache, SuiteCounts, content_hash, model_key, score_suite
from forgetcheck.comparison import CapabilityResult, Comparison, ItemResult, ModelInfo, Settings, overall_verdict
from forgetcheck.analysis.diagnosis import classify_forgotten, diagnose
from forgetcheck.errors import BadInput
from forgetcheck.models.loading import (
    attach_adapter, check_device_map, check_loadable, choose_device, choose_dtype, load_tokenizer,
    load_weights)
from forgetcheck.suites.asking import BINARY_METRICS, expected_text, render_prompt, use_chat
from forgetcheck.workflows.recovery import recover
from forgetcheck.workflows.label_free import (
    DEFAULT_SAMPLES,
    base_reference,
    cached_samples,
    drift_prompts,
    sample_from_base,
    score_drift,
    settings_for,
    summarise,
)
from forgetcheck.scoring.hf import HFScorer
from forgetcheck.models.specs import ModelSpec, resolve, same_model_name
from forgetcheck.analysis.stats import chance_adjusted, judge, measures_nothing, paired_drop
from forgetcheck.suites.suite import Suite, load_suite, reference_probe


@dataclass
class CapabilityInfo:
    """What judging needs to know about a capability besides its scores."""

    name: str
    kind: str
    metric: str
    extra: dict[str, dict[str, float]]
    note: str | None = None
    chance: float | None = None  # declared by the probe; otherwise 1/k for choice items, 0 for generation


def judge_items(items: list[ItemResult], capabilities: list[CapabilityInfo], tolerance: float,
                confidence: float, recovery_shots: int | None = None) -> list[CapabilityResult]:
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
    classify_forgotten(items)
    results = []
    for cap, mine, j in zip(capabilities, groups, judge(drops, tolerance, confidence)):
        d = j.drop
        binary = cap.metric in BINARY_METRICS
        chance = _chance_level(cap, mine) if binary else None
        base_scores = [i.base_score for i in mine]
        at_chance = measures_nothing(base_scores, chance, confidence) if chance is not None else None
        verdict = "at-chance" if at_chance and j.verdict != "regressed" else j.verdict
        results.append(CapabilityResult(
            name=cap.name, kind=cap.kind, metric=cap.metric, n=d.n, base_score=d.base_score,
            candidate_score=d.candidate_score, drop=d.drop, ci_low=d.ci_low, ci_high=d.ci_high,
            p_value=d.p_value, p_adjusted=j.p_adjusted, verdict=verdict, forgotten=d.forgotten,
            learned=d.learned, items_needed=j.items_needed if verdict == "inconclusive" else None, note=cap.note,
            extra=cap.extra, chance=chance, at_chance=at_chance, chance_adjusted=_chance_adjusted(mine),
            subcategories=_subcategories(mine, binary, confidence), detectable_drop=j.detectable,
            diagnosis=diagnose(mine, recovery_shots)))
    return results


def _chance_level(cap: CapabilityInfo, items: list[ItemResult]) -> float:
    """What guessing scores: as the probe declares, else mean 1/k over choice items; free generation 0."""
    if cap.chance is not None:
        return cap.chance
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
    infos = [CapabilityInfo(c.name, c.kind, c.metric, c.extra, c.note, c.chance) for c in comparison.capabilities]
    capabilities = judge_items(comparison.items, infos, tolerance, confidence, comparison.settings.recovery_shots)
    settings = replace(comparison.settings, tolerance=tolerance, confidence=confidence)
    return replace(comparison, capabilities=capabilities, settings=settings, verdict=overall_verdict(capabilities))


def compare(base: str, candidate: str, suite: str | Suite = "core", *, tolerance: float = 0.02,
            confidence: float = 0.95, dtype: str = "auto", device: str = "auto", chat_template: str | None = None,
            batch_tokens: int | None = None, allow_pickle: bool = False, trust_remote_code: bool = False,
            progress: bool = True, warn: Callable[[str], None] | None = None,
            cache: bool | str | ResultCache = True, device_map: str | None = None,
            kl_samples: int = DEFAULT_SAMPLES, recovery_shots: int = 3, reference: str | None = None) -> Comparison:
    """Compare CANDIDATE with BASE on a suite; see the README for the options.

    When the candidate is a PEFT adapter, the base is loaded once and scored with
    the adapter disabled. Both sides use the same dtype, prompts and batches.
    ``cache``: True keeps per-item results in the default result cache
    (``FORGETCHECK_CACHE``), a path or :class:`ResultCache` picks another, False
    scores everything afresh and stores nothing. Weights load only when something
    must be scored (``timings["models_loaded"]``): a rerun found in the cache loads none.
    ``kl_samples``: sequences the base samples for label-free drift (0 skips it).
    ``recovery_shots``: examples given when forgotten answers are asked again (0 skips it).
    ``reference``: a text file whose paragraphs become one more perplexity capability.
    """
    timings: dict[str, float] = {}
    warnings: list[str] = []

    def note(message: str) -> None:
        warnings.append(message)
        if warn:
            warn(message)

    started = time.perf_counter()
    suite_obj = suite if isinstance(suite, Suite) else load_suite(suite)
    if reference:
        suite_obj = replace(suite_obj, probes=[*suite_obj.probes, reference_probe(reference)])
    base_spec = resolve(base, allow_pickle=allow_pickle)
    cand_spec = resolve(candidate, allow_pickle=allow_pickle)
    if base_spec.adapter:
        raise BadInput(f"base {base!r} is a PEFT adapter; BASE must be a full model (the adapter goes in CANDIDATE)")
    if cand_spec.adapter and cand_spec.adapter_base and not same_model_name(cand_spec.adapter_base, base_spec):
        note(f"the adapter {candidate!r} was trained on {cand_spec.adapter_base!r}, but BASE is {base!r}; "
             "if that is not the same model, this comparison means little")
    device_name = parallel.start(choose_device(device))
    torch_dtype = choose_dtype(dtype, device_name)
    placement = check_device_map(device_map, device_name)
    if device_map and not placement:
        note(f"--device-map {device_map} only spreads a model over GPUs; on {device_name} it is ignored")
    store = _result_cache(cache, note)
    dtype_name = str(torch_dtype).replace("torch.", "")
    base_key = model_key(base_spec.resolved, adapter=cand_spec.resolved if cand_spec.adapter else None,
                         adapter_disabled=cand_spec.adapter, dtype=dtype_name, device=device_name, label=base,
                         batch_tokens=batch_tokens)
    cand_key = model_key(base_spec.resolved if cand_spec.adapter else cand_spec.resolved,
                         adapter=cand_spec.resolved if cand_spec.adapter else None, adapter_disabled=False,
                         dtype=dtype_name, device=device_name, label=candidate, batch_tokens=batch_tokens)
    counts = SuiteCounts()
    # Label-free drift runs once, in the process that writes the report.
    drifter = _Drift(suite_obj, chat_template, store, base_key, cand_key,
                     kl_samples if parallel.is_main() else 0, confidence, timings)
    # Tokenizers now: item keys and prompts need them, and they refuse an unsafe model even when nothing
    # loads. Weights only when a forward pass needs them, so a fully cached rerun loads none.
    base_tok = load_tokenizer(base_spec, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code)
    if cand_spec.adapter:
        check_loadable(cand_spec, allow_pickle=allow_pickle, trust_remote_code=False)
        cand_tok = base_tok
    else:
        cand_tok = load_tokenizer(cand_spec, allow_pickle=allow_pickle, trust_remote_code=trust_remote_code)
        if cand_tok.get_vocab() != base_tok.get_vocab():
            note("the candidate's tokenizer differs from the base's; scores are comparable only per item text")
    timings["resolve_s"] = time.perf_counter() - started
    weights = _Weights(base_spec, cand_spec, timings, dtype=torch_dtype, device=device_name,
                       allow_pickle=allow_pickle, trust_remote_code=trust_remote_code, device_map=placement)

    def scorer_for(tokenizer, label, load, context=None):
        return HFScorer(None, tokenizer, device=device_name, batch_tokens=batch_tokens, context_manager=context,
                        progress=progress, label=label, load=load)

    # The base pass of an adapter comparison runs on the one loaded model with the adapter switched off.
    base_context = weights.adapter_off if cand_spec.adapter else None
    base_scorer = scorer_for(base_tok, "base", weights.base, base_context)
    base_scores = _score_suite(suite_obj, base_scorer, chat_template, timings, "base_s", store, base_key, counts)
    drifter.prepare(base_scorer, base_context or contextlib.nullcontext)  # the base's side, while it is loaded
    if not cand_spec.adapter:
        # Free the base (if it was loaded) before the candidate loads: one model in memory at a time.
        base_scorer.model = None
    cand_scorer = scorer_for(cand_tok, "candidate", weights.candidate)
    cand_scores = _score_suite(suite_obj, cand_scorer, chat_template, timings, "candidate_s", store, cand_key,
                               counts)
    drift = drifter.measure(cand_scorer)
    padded = base_scorer.padded_tokens + cand_scorer.padded_tokens
    if padded:
        timings["padding_efficiency"] = (base_scorer.real_tokens + cand_scorer.real_tokens) / padded
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
                n_options=len(item.choices) if probe.kind == "choice" else None, pair=getattr(item, "pair", None)))
        extra = {key: {"base": b.extra[key], "candidate": c.extra[key]} for key in b.extra}
        infos.append(CapabilityInfo(probe.name, probe.kind, probe.metric, extra, chance=probe.info.get("chance")))
    capabilities = judge_items(items, infos, tolerance, confidence)
    if recovery_shots:
        # Every process takes part: the re-asked items are scored (and sharded) like the suite's.
        with _phase(timings, "recovery_s"):
            if recover(suite_obj, items, cand_scorer, shots=recovery_shots, chat_override=chat_template,
                       cache=store, model=cand_key):
                # Judge again so each capability's diagnosis counts the recovered answers.
                capabilities = judge_items(items, infos, tolerance, confidence, recovery_shots)
    timings["total_s"] = time.perf_counter() - started
    settings = Settings(
        dtype=str(torch_dtype).replace("torch.", ""), device=device_name, tolerance=tolerance, confidence=confidence,
        suites=[{"name": suite_obj.name, "hash": suite_obj.fingerprint(), "source": suite_obj.source}],
        chat_template=chat_template or "per probe", batch_tokens=base_scorer.batch_tokens,
        probes=[{"name": p.name, "kind": p.kind, "metric": p.metric, "items": len(p.items), "hash": p.fingerprint(),
                 **p.info} for p in suite_obj.probes], recovery_shots=recovery_shots, kl_samples=kl_samples)
    return Comparison(
        base=_model_info(base_spec), candidate=_model_info(cand_spec), settings=settings, capabilities=capabilities,
        verdict=overall_verdict(capabilities), items=items, timings=timings, warnings=warnings, drift=drift,
        forgetcheck_version=__version__, created_at=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))


def merge_for_candidate(wrapped, placement: str | None = None) -> bool:
    """Merge a plain LoRA adapter into the base weights for the candidate's passes; True if it did.

    Unmerged, every adapted layer adds two small matmuls to each call; merged, the
    candidate runs as fast as the base. Call it only after the last base pass: a
    forward under ``disable_adapter`` makes PEFT unmerge each layer again (correct,
    but W + ΔW − ΔW leaves the base weights changed in their last bits).
    The adapter stays unmerged, and scores come from PEFT's own layers, for other
    adapter types and LoRA variants (DoRA, aLoRA, ...), quantized weights, weights a
    device map spreads out, weights tied to another parameter (merging would change
    both, e.g. the input embedding with the output head), and any dtype but float32:
    rounding ΔW into half-precision weights can move scores by more than the 1e-4
    that scores are held to.
    """
    from peft import PeftType
    from peft.tuners.lora import LoraLayer
    from peft.tuners.tuners_utils import BaseTunerLayer

    model = wrapped.base_model.model
    config = wrapped.peft_config[wrapped.active_adapter]
    if (config.peft_type != PeftType.LORA or placement or getattr(model, "hf_device_map", None)
            or getattr(model, "hf_quantizer", None) is not None):
        return False
    uses = Counter(id(p) for _, p in model.named_parameters(remove_duplicate=False))
    for layer in model.modules():
        if not isinstance(layer, BaseTunerLayer):
            continue
        weight = getattr(layer.get_base_layer(), "weight", None)
        if (not isinstance(layer, LoraLayer) or layer.lora_variant or weight is None
                or weight.dtype != torch.float32 or uses[id(weight)] > 1):
            return False
    wrapped.merge_adapter()
    return True


class _Drift:
    """Label-free drift inside a comparison (see forgetcheck.workflows.label_free), cached like any score.

    The base's samples are cached under the base's key; the KL results under the pair
    of keys. With two full models the base's side (samples and its compact reference)
    is taken in :meth:`prepare` while the base is loaded, the candidate's in :meth:`measure`.
    """

    def __init__(self, suite, chat_override, store, base_key, cand_key, n, confidence, timings):
        self.suite, self.chat_override, self.store, self.n = suite, chat_override, store, n
        self.base_key, self.confidence, self.timings = base_key, confidence, timings
        self.settings = settings_for(n)
        self.sample_key = content_hash(["self-samples", self.settings, suite.fingerprint(), chat_override])
        self.pair = {**cand_key, "key": content_hash([base_key["key"], cand_key["key"]]),
                     "label": f"{cand_key['label']} vs {base_key['label']}"}
        self.samples = self.reference = self.result = None

    def prepare(self, base_scorer, context) -> None:
        if not self.n:
            return
        with _phase(self.timings, "drift_s"):
            self._prepare(base_scorer, context)

    def _prepare(self, base_scorer, context) -> None:
        found = self.store.get_many(self.pair["key"], [self.sample_key], "drift") if self.store else {}
        if found:
            self.result = found[self.sample_key]["values"]
        else:
            def render(probe, text):
                chat = base_scorer.has_chat_template if probe is None else use_chat(probe, base_scorer,
                                                                                    self.chat_override)
                return render_prompt(text, chat, base_scorer)

            def make():
                prompts = drift_prompts(self.suite, render, self.n, self.settings["seed"])
                return sample_from_base(base_scorer.model, base_scorer, prompts, seed=self.settings["seed"],
                                        context=context)

            self.samples = cached_samples(self.store, self.base_key, self.sample_key, make)
            self.reference = base_reference(self.samples, _forward(base_scorer.model, context),
                                            pad_id=base_scorer.pad_id, device=base_scorer.device)

    def measure(self, cand_scorer) -> dict | None:
        """The drift section of the report; :meth:`prepare` has run on the base's side."""
        if not self.n:
            return None
        if self.result is None:
            with _phase(self.timings, "drift_s"):
                kls, drops = score_drift(self.samples, self.reference, _forward(cand_scorer.model),
                                         pad_id=cand_scorer.pad_id, device=cand_scorer.device)
            self.result = {"groups": self.samples.groups, "kls": kls, "drops": drops}
            if self.store:
                self.store.put_many(self.pair, {self.sample_key: {"score": sum(kls) / len(kls), "answer": None,
                                                                  "values": self.result}})
        return {**self.settings, **summarise(self.result["groups"], self.result["kls"], self.result["drops"],
                                             self.confidence)}


def _forward(model, context=contextlib.nullcontext):
    def run(ids, mask):
        with torch.no_grad(), context():
            return model(input_ids=ids, attention_mask=mask).logits
    return run


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


class _Weights:
    """The weights of a comparison, loaded the first time a forward pass needs them.

    Each scorer is given :meth:`base` or :meth:`candidate` as its loader, so a
    rerun that finds every result cached loads no weights at all, and one with a
    cached base loads only what the candidate's side needs. Loads are counted in
    ``timings["models_loaded"]`` and timed in ``timings["load_s"]``.

    With an adapter, base and candidate share one model, the base with the adapter
    attached: the base side runs it with the adapter switched off
    (:meth:`adapter_off`), the candidate side on merged weights where that is exact
    (:func:`merge_for_candidate`). The merge happens when the candidate first asks,
    which is after every base pass: the base's suite and drift reference come first.
    """

    def __init__(self, base_spec: ModelSpec, cand_spec: ModelSpec, timings: dict, **options):
        self.base_spec, self.cand_spec, self.timings, self.options = base_spec, cand_spec, timings, options
        self.adapted = None
        timings["load_s"] = 0.0
        timings["models_loaded"] = 0

    def base(self):
        return self._adapted() if self.cand_spec.adapter else self._load(self.base_spec)

    def candidate(self):
        if not self.cand_spec.adapter:
            return self._load(self.cand_spec)
        model = self._adapted()
        merge_for_candidate(model, self.options["device_map"])
        return model

    def adapter_off(self):
        """The context the adapter comparison's base passes run in."""
        return self._adapted().disable_adapter()

    def _adapted(self):
        if self.adapted is None:
            model = self._load(self.base_spec)
            t = time.perf_counter()
            self.adapted = attach_adapter(model, self.cand_spec, allow_pickle=self.options["allow_pickle"])
            self.timings["load_s"] += time.perf_counter() - t
        return self.adapted

    def _load(self, spec: ModelSpec):
        t = time.perf_counter()
        model = load_weights(spec, **self.options)
        self.timings["load_s"] += time.perf_counter() - t
        self.timings["models_loaded"] += 1
        return model


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


