"""The probe audit: what a capability scores with no knowledge of the skill, next to a model's score.

A probe can only show forgetting if knowing the skill is what earns its score.
Log-likelihood multiple choice rewards the choice with the fewest or most common
tokens, and a format checker may pass an empty answer; on such a probe a
fine-tune that wrecks the skill keeps the score. The audit measures, per
capability, the *floors* that need no knowledge of the skill:

* ``random weights``: a model with M's config and tokenizer and seeded random
  weights (nothing downloaded), asked exactly as M is;
* choice probes: ``no question`` (M scores the choices after a neutral context,
  so only how common each answer is counts), and always picking the shortest or
  longest choice, by tokens and by bytes (ties split evenly: the expected score
  of a random tie-break);
* generate probes: fixed degenerate answers run through the probe's own
  checker: empty, whitespace, the prompt echoed, a refusal, one fixed word, a
  long ramble.

Two tests turn the numbers into a flag. **Floor above chance**: the highest floor
lies more than :data:`FLOOR_POINTS` (or, for few items, the sampling noise of
guessing) above the chance level: the probe leaks its answers and needs fixing
whatever the model. **Margin too small**: a model that lost the skill entirely
would still score about the floor, so the largest drop this capability can show
is M's margin over the floor; compare calls a drop *regressed* only when it is
larger than the tolerance and outside noise, so a margin below the tolerance
plus the half-width of M's own confidence interval cannot carry a verdict.
Perplexity probes have no floor (no answer to guess) and are listed for
completeness.

Scoring goes through the scorer seam (:mod:`forgetcheck.suites.asking`); the
floors that need no model (:func:`text_floors`) need only a tokenizer.

Floors are kept in the result cache, one entry per capability, keyed by the
model's identity (:func:`audit_model_key`) and the probe's fingerprint (so by the
suite's, which is made of them: an audit run with ``--capability`` serves any suite
holding that probe), under the kind ``probe-audit/AUDIT_VERSION``. ``compare``
reads them to warn when a capability of its suite failed its audit
(:func:`audit_capabilities`), and measures them itself only with ``--audit``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Callable

from forgetcheck.analysis.stats import wilson_interval
from forgetcheck.analysis.verdicts import chance_level, check_judging
from forgetcheck.comparison import BINARY_METRICS
from forgetcheck.errors import BadInput
from forgetcheck.options import DEFAULTS
from forgetcheck.scoring.hf import HFScorer
from forgetcheck.suites.asking import answer_is_right, choice_requests, score_probe, use_chat
from forgetcheck.suites.suite import Item, Probe, Suite, load_suite

SCHEMA = "forgetcheck.audit/1"
AUDIT_VERSION = 1  # bump when a floor changes meaning: cached floors of another version are not read
CACHE_KIND = f"probe-audit/{AUDIT_VERSION}"
FLOOR_POINTS = 0.05  # a floor this far above chance is a leak, however many items
NEUTRAL_CONTEXT = "Answer:"  # the question left out: only the choices' own likelihood counts
REFUSAL = "I'm sorry, but I can't help with that."
ONE_WORD = "Yes"
RAMBLE = (
    "Well, that is a really interesting question, and there are many different ways to think about it. "
    "Some people would say one thing and other people would say something else entirely, so in the end "
    "it depends on the situation, on the context and on what exactly you mean by it. In general it is "
    "important to consider all of the options carefully, to take your time, to talk to the people around "
    "you and to remember that every case is a little bit different from the others. ") * 2
# name -> the answer it gives to an item; the answers a generate probe must not pass
DEGENERATE_ANSWERS: dict[str, Callable[[Item], str]] = {
    "empty answer": lambda item: "",
    "whitespace": lambda item: " \n\t ",
    "prompt echoed": lambda item: item.prompt,
    "fixed refusal": lambda item: REFUSAL,
    "one fixed word": lambda item: ONE_WORD,
    "long ramble": lambda item: RAMBLE,
}


@dataclass
class Floor:
    """One knowledge-free score of a capability; ``needs_model`` is False for tokenizer-only floors."""

    name: str
    score: float
    needs_model: bool = False


@dataclass
class CapabilityAudit:
    """A capability's floors next to the model's score, and whether it can carry a verdict.

    ``margin`` is the model's score minus the highest floor; ``needed_margin`` the
    tolerance plus the half-width of the model's own confidence interval;
    ``floor_limit`` the highest floor still counted as chance. ``problems`` says in
    words why the capability is flagged (empty when it is sound).
    """

    name: str
    kind: str
    metric: str
    n: int
    chance: float | None
    model_score: float
    floors: list[Floor] = field(default_factory=list)
    highest_floor: Floor | None = None
    margin: float | None = None
    needed_margin: float | None = None
    floor_limit: float | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def flagged(self) -> bool:
        return bool(self.problems)


@dataclass
class Audit:
    """The audit of one suite against one model (plain data; see :mod:`forgetcheck.report.audit`)."""

    suite: str
    model: str
    tolerance: float
    confidence: float
    seed: int
    capabilities: list[CapabilityAudit]
    schema: str = SCHEMA

    def flagged(self) -> list[CapabilityAudit]:
        return [cap for cap in self.capabilities if cap.flagged]


def probe_chance(probe: Probe) -> float | None:
    """What guessing scores on a probe, as a comparison's verdict counts it; None for perplexity."""
    if probe.kind == "perplexity":
        return None
    return chance_level(probe.kind, [len(item.choices) for item in probe.items], probe.info.get("chance"))


def pick_score(items: list[Item], sizes: list[list[int]], pick: Callable[[list[int]], int]) -> float:
    """Mean score of always choosing the choice whose size ``pick`` selects, ties split evenly.

    >>> pick_score([Item(id="a", choices=("x", "yy"), target=0)], [[1, 2]], min)
    1.0
    >>> pick_score([Item(id="a", choices=("x", "y"), target=0)], [[1, 1]], min)
    0.5
    """
    total = 0.0
    for item, size in zip(items, sizes):
        chosen = [k for k, s in enumerate(size) if s == pick(size)]
        total += (item.target in chosen) / len(chosen)
    return total / len(items)


def text_floors(probe: Probe, scorer) -> list[Floor]:
    """The floors that need no model, only the tokenizer behind ``scorer`` (none for perplexity)."""
    if probe.kind == "generate":
        return [Floor(name, sum(answer_is_right(item, answer(item), probe.match) for item in probe.items)
                      / len(probe.items)) for name, answer in DEGENERATE_ANSWERS.items()]
    if probe.kind != "choice":
        return []
    chat = use_chat(probe, scorer)
    continuations = [[cont for _, cont in choice_requests(probe, item, chat, scorer)] for item in probe.items]
    tokens = [[len(scorer.encode_continuation(cont)) for cont in conts] for conts in continuations]
    raw_bytes = [[len(choice.encode()) for choice in item.choices] for item in probe.items]
    return [Floor("shortest (tokens)", pick_score(probe.items, tokens, min)),
            Floor("longest (tokens)", pick_score(probe.items, tokens, max)),
            Floor("shortest (bytes)", pick_score(probe.items, raw_bytes, min)),
            Floor("longest (bytes)", pick_score(probe.items, raw_bytes, max))]


def no_question_floor(probe: Probe, scorer) -> Floor:
    """The model's accuracy when it sees the choices after a neutral context instead of the question."""
    blind = Probe(name=probe.name, kind="choice", metric=probe.metric, chat_template=probe.chat_template,
                  target_delimiter=probe.target_delimiter,
                  items=[Item(id=item.id, prompt=NEUTRAL_CONTEXT, choices=item.choices, target=item.target)
                         for item in probe.items])
    scores = score_probe(blind, scorer, label="audit: no question")
    return Floor("no question", mean(scores.scores), needs_model=True)


def judge_capability(probe: Probe, model_score: float, floors: list[Floor], tolerance: float,
                     confidence: float) -> CapabilityAudit:
    """Highest floor, margin and the two flags (see the module docstring) for one capability."""
    chance = probe_chance(probe)
    n = len(probe.items)
    cap = CapabilityAudit(name=probe.name, kind=probe.kind, metric=probe.metric, n=n, chance=chance,
                          model_score=model_score, floors=floors)
    if not floors or probe.metric not in BINARY_METRICS or chance is None:
        return cap
    # On a tie the floor that needs no model is named: it is the plainer explanation of the score.
    cap.highest_floor = max(floors, key=lambda f: (f.score, not f.needs_model))
    cap.margin = model_score - cap.highest_floor.score
    low, high = wilson_interval(round(model_score * n), n, confidence)
    cap.needed_margin = tolerance + (high - low) / 2
    # Guessing alone strays from chance by about z standard errors with n items; a floor
    # within that (or within FLOOR_POINTS) is no evidence of a leak.
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    cap.floor_limit = chance + max(FLOOR_POINTS, z * math.sqrt(chance * (1 - chance) / n))
    top = cap.highest_floor
    if top.score > cap.floor_limit:
        cap.problems.append(f"floor above chance: {top.name} scores {top.score:.1%} (chance {chance:.1%}, "
                            f"limit {cap.floor_limit:.1%})")
    if cap.margin < cap.needed_margin:
        cap.problems.append(f"margin too small: {cap.margin:+.1%} over {top.name}, needs "
                            f"{cap.needed_margin:.1%} (tolerance {tolerance:.1%} + the score's CI half-width)")
    return cap


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def audit_suite(suite_name: str, model_spec: str, *, tolerance: float = DEFAULTS.tolerance,
                confidence: float = DEFAULTS.confidence, seed: int = 0, capabilities: tuple[str, ...] = (),
                dtype: str = "auto", device: str = "auto", batch_tokens: int | None = None, allow_pickle: bool = False,
                trust_remote_code: bool = False, progress: bool = True, files_anywhere: bool = False,
                task_code: bool = False, cache: bool = True) -> Audit:
    """Audit ``suite_name`` (a built-in name or a path) against the model ``model_spec``.

    Floors found in the result cache are reused and new ones are stored (``cache`` False: neither).
    """
    from forgetcheck.models.specs import resolve
    from forgetcheck.models.weights import open_model
    from forgetcheck.results.store import ResultCache

    check_judging(tolerance, confidence)
    suite = pick_capabilities(load_suite(suite_name, files_anywhere=files_anywhere, task_code=task_code), capabilities)
    spec = resolve(model_spec, allow_pickle=allow_pickle)
    if spec.adapter:
        raise BadInput(f"--model {model_spec!r} is a PEFT adapter; audit its base model, or merge the adapter first")
    opened = open_model(spec, dtype=dtype, device=device, batch_tokens=batch_tokens, allow_pickle=allow_pickle,
                        trust_remote_code=trust_remote_code, progress=progress)
    scorer = opened.scorer
    model_scores = {probe.name: mean(score_probe(probe, scorer, label="audit: model").scores)
                    for probe in suite.probes}
    store = ResultCache() if cache else None
    key = audit_model_key(spec.resolved, opened.dtype_name, opened.device, model_spec, batch_tokens)
    audited = audit_capabilities(suite, scorer, model_scores, store, key, run=True, tolerance=tolerance,
                                 confidence=confidence, seed=seed, progress=progress)
    results = [audited.get(probe.name) or judge_capability(probe, model_scores[probe.name], [], tolerance, confidence)
               for probe in suite.probes]
    return Audit(suite=suite.name, model=model_spec, tolerance=tolerance, confidence=confidence, seed=seed,
                 capabilities=results)


def audit_model_key(resolved: str, dtype_name: str, device: str, label: str, batch_tokens: int | None) -> dict:
    """The identity an audit is cached under: the full model as compare's base pass keys it, no adapter."""
    from forgetcheck.results.keys import model_key

    return model_key(resolved, adapter=None, adapter_disabled=False, dtype=dtype_name, device=device, label=label,
                     batch_tokens=batch_tokens)


def probe_floors(probe: Probe, scorer, random_scorer) -> list[Floor]:
    """Every floor of one probe: random weights, no question (choice), and the tokenizer-only ones."""
    floors = text_floors(probe, scorer)
    if probe.kind != "perplexity":
        random_score = mean(score_probe(probe, random_scorer, label="audit: random weights").scores)
        floors.insert(0, Floor("random weights", random_score, needs_model=True))
    if probe.kind == "choice":
        floors.insert(1, no_question_floor(probe, scorer))
    return floors


def audit_capabilities(suite: Suite, scorer, model_scores: dict[str, float], store, model_key: dict, *, run: bool,
                       tolerance: float, confidence: float, seed: int = 0,
                       progress: bool = True) -> dict[str, CapabilityAudit]:
    """Each capability's audit against the loaded model behind ``scorer``, by name.

    Floors come from ``store`` where cached; otherwise, when ``run``, they are measured
    (one pass of a random-weights twin, one question-free pass for choice probes) and
    stored. A capability with no cached floors and ``run`` False is left out, as are
    perplexity probes, which have no floor.
    """
    audits: dict[str, CapabilityAudit] = {}
    random_scorer = None
    for probe in suite.probes:
        if probe.kind == "perplexity":
            continue
        entry = f"{probe.fingerprint()}:seed={seed}"
        floors = read_floors(store.get_blob(model_key["key"], entry, CACHE_KIND)) if store else None
        if floors is None and run:
            if random_scorer is None:
                random_scorer = HFScorer(random_twin(scorer.model, seed), scorer.tokenizer, device=scorer.device,
                                         batch_tokens=scorer.batch_tokens, progress=progress)
            floors = probe_floors(probe, scorer, random_scorer)
            if store:
                store.put_blob(model_key, entry, CACHE_KIND, {"floors": [vars(f) for f in floors]})
        if floors is not None:
            audits[probe.name] = judge_capability(probe, model_scores[probe.name], floors, tolerance, confidence)
    return audits


def read_floors(blob: dict | None) -> list[Floor] | None:
    """Floors from a cache entry; None when there is none or it is not the shape this version writes."""
    try:
        floors = [Floor(str(f["name"]), float(f["score"]), bool(f["needs_model"])) for f in blob["floors"]]
    except (TypeError, KeyError, ValueError):
        return None
    return floors if floors and all(0.0 <= f.score <= 1.0 for f in floors) else None


def pick_capabilities(suite: Suite, names: tuple[str, ...]) -> Suite:
    """The suite cut to the named capabilities (all when none are named)."""
    if not names:
        return suite
    known = {p.name for p in suite.probes}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise BadInput(f"--capability {unknown[0]!r}: suite {suite.name!r} has no such probe; "
                       f"it has {', '.join(p.name for p in suite.probes)}")
    return Suite(name=suite.name, probes=[p for p in suite.probes if p.name in names], source=suite.source)


def random_twin(model, seed: int):
    """A model with ``model``'s config (so its architecture and vocabulary) and seeded random weights.

    Built from the config already loaded, so nothing is downloaded; the global
    random state is left as it was, so the audit does not change anything seeded later.
    """
    import torch
    from transformers import AutoModelForCausalLM

    model = model.get_base_model() if hasattr(model, "get_base_model") else model  # a PEFT base pass
    dtype = next(model.parameters()).dtype
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        twin = AutoModelForCausalLM.from_config(model.config, dtype=dtype)
    twin.to(next(model.parameters()).device)
    twin.eval()
    return twin
