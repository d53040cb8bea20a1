"""The Comparison: plain data that every renderer and integration reads.

A Comparison holds everything a run found — which models, which settings, the
per-item paired scores, the per-capability verdicts, label-free drift, timings and
counts — and nothing that needs a model to read. Every part is a plain dataclass
here, so a renderer never reads a field by a string key. Saved as ``report.json`` it
can be re-rendered, re-posted or re-judged with other thresholds later
(``forgetcheck report``). Serialisation lives in :func:`to_dict` / :func:`from_dict`
and nowhere else.

A report.json is untrusted input: it may come from a pull request's artifact. So
:func:`from_dict` checks every field against the type declared here (a number must be
a finite number, not a string or a bool; an int must be an int of sane size; text is
text of bounded length without lone surrogates), and each dataclass checks its own
ranges in ``__post_init__``. A bad field is one :class:`BadInput` line naming its
path, e.g. ``report.json: capabilities[3].n: expected an integer, got "12"``.

>>> cap = CapabilityResult(name="arithmetic", kind="generate", metric="exact_match",
...     n=3, base_score=1.0, candidate_score=2/3, drop=1/3, ci_low=-0.1, ci_high=0.8,
...     p_value=1.0, p_adjusted=1.0, verdict="inconclusive", forgotten=1, learned=0)
>>> cap.verdict
'inconclusive'
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any

from forgetcheck.errors import BadInput

SCHEMA_VERSION = 2
# Version 1 reports lack the chance-level fields; they read as if none applied.
READABLE_SCHEMAS = (1, 2)

# "at-chance": the base does no better than guessing, so the capability can show no
# forgetting either way; it is reported, never counted as held.
VERDICTS = ("regressed", "held", "inconclusive", "at-chance")
FLIPS = ("forgotten", "learned", "same")
# Metrics scored 0 or 1 per item: shown as a share of items right with drops in points,
# tested with exact McNemar, and counted as forgotten/learned flips. Defined here once,
# because scoring, verdicts, overlap and every renderer must agree on them.
BINARY_METRICS = frozenset({"acc", "acc_norm", "exact_match", "regex_match", "check_pass"})

# Bounds on what a report.json may hold; a real run stays far inside each.
MAX_INT = 10**15
MAX_TEXT = 100_000  # characters in one string (a long few-shot prompt is a few thousand)
MAX_DEPTH = 8  # nesting inside free-form fields (settings.probes)
# Float rounding in sums of shares may pass 1 by an ulp; a range check must not fail on it.
_SLACK = 1e-9


def _check(ok: bool, name: str, message: str, value: Any) -> None:
    """Raise the ValueError ``from_dict`` turns into ``report.json: path.name: message``."""
    if not ok:
        raise ValueError(f"{name}: {message}, got {_shown(value)}")


def _at_least(value: float | None, low: float, name: str) -> None:
    if value is not None:
        _check(value >= low, name, f"must be at least {low:g}", value)


def _share(value: float | None, name: str) -> None:
    """A probability or a share of items: between 0 and 1."""
    if value is not None:
        _check(-_SLACK <= value <= 1 + _SLACK, name, "must be between 0 and 1", value)


@dataclass
class ModelInfo:
    """One side of the comparison.

    spec: the model as the user gave it (path, ``org/name@rev``, ``.gguf`` file).
    source: ``folder``, ``hub``, ``gguf`` or ``adapter``.
    resolved: the commit sha (Hub) or a content hash of the files (local).
    adapter: True when this side is a PEFT adapter applied to the base.
    adapter_base: the adapter's declared ``base_model_name_or_path``, if any.
    """

    spec: str
    source: str
    resolved: str
    adapter: bool = False
    adapter_base: str | None = None


@dataclass
class ItemResult:
    """One probe item scored on both sides.

    Scores are on the probe's metric, higher is better (for perplexity probes the
    score is the mean log-likelihood per token, so "higher is better" still holds).
    flip is ``forgotten`` / ``learned`` / ``same`` for 0/1 metrics, None otherwise.
    n_options: k for a k-option choice item. pair: the id of the same fact asked in
    the other kind. forgetting: for a forgotten generation item with a choice twin,
    ``knowledge kept`` or ``knowledge lost`` (``forgetcheck.analysis.diagnosis``). recovered:
    for a forgotten generation item re-asked with a few examples, whether the
    candidate then answered right (``forgetcheck.workflows.recovery``). difficulty:
    the item's ``difficulty`` as the suite records it (core uses easy / medium / hard).
    """

    capability: str
    item_id: str
    base_score: float
    candidate_score: float
    flip: str | None = None
    prompt: str | None = None
    expected: str | None = None
    base_answer: str | None = None
    candidate_answer: str | None = None
    subcategory: str | None = None
    n_options: int | None = None
    pair: str | None = None
    forgetting: str | None = None
    recovered: bool | None = None
    difficulty: str | None = None

    def __post_init__(self) -> None:
        _check(self.flip is None or self.flip in FLIPS, "flip", f"must be one of {', '.join(FLIPS)}", self.flip)
        _at_least(self.n_options, 0, "n_options")


@dataclass(frozen=True)
class ChanceAdjusted:
    """Forgetting and backward transfer with the part guessing explains taken out.

    Fractions of all items: ``forgetting`` (right before, wrong after) and
    ``backward_transfer`` (wrong before, right after) as counted; ``*_chance``
    what a model that either knows an item or guesses uniformly among k options
    would show by luck; ``*_true`` the rest (never below 0); ``*_max`` the ceiling,
    the share of items the model knows beyond guessing before (for forgetting) or
    after (for backward transfer). Computed by ``forgetcheck.analysis.stats.chance_adjusted``.

    >>> ChanceAdjusted(0.1, 0.05, 0.02, 0.02, 0.08, 0.03, 0.7, 0.6).forgetting_true
    0.08
    """

    forgetting: float
    backward_transfer: float
    forgetting_chance: float
    backward_transfer_chance: float
    forgetting_true: float
    backward_transfer_true: float
    forgetting_max: float
    backward_transfer_max: float

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _share(getattr(self, f.name), f.name)


@dataclass
class SubcategoryResult:
    """The paired drop in one sub-category of a capability: a breakdown to read, with no verdict.

    name: the sub-category as the suite names it. n: items in it. base_score,
    candidate_score, drop (base − candidate) and its interval [ci_low, ci_high] are
    on the capability's metric, as in :class:`CapabilityResult`; forgotten / learned
    count flipped items (None where the metric has no flips).

    >>> SubcategoryResult("multiply", n=40, base_score=0.7, candidate_score=0.6, drop=0.1,
    ...     ci_low=0.0, ci_high=0.2, forgotten=6, learned=2).drop
    0.1
    """

    name: str
    n: int
    base_score: float
    candidate_score: float
    drop: float
    ci_low: float
    ci_high: float
    forgotten: int | None = None
    learned: int | None = None

    def __post_init__(self) -> None:
        for name in ("n", "forgotten", "learned"):
            _at_least(getattr(self, name), 0, name)


@dataclass
class CapabilityResult:
    """The verdict for one capability.

    drop is base − candidate on the capability's metric (positive = forgotten),
    with a paired confidence interval [ci_low, ci_high] at the run's confidence.
    p_adjusted is Holm-corrected across the capabilities of the run.
    items_needed: for an inconclusive verdict, roughly how many items in total would
    decide it if the observed drop and spread held (None when it cannot be told).
    extra: other metrics worth showing (``acc_norm``, ``perplexity``), each as
    ``{"base": x, "candidate": y}``.
    chance: the score guessing alone gets (mean 1/k for choice items, 0 for free
    generation; None for perplexity).
    at_chance: why the base cannot show forgetting here, when verdict is ``at-chance``.
    chance_adjusted: for k-option items, forgetting and backward transfer with the
    part explained by guessing taken out (:class:`ChanceAdjusted`).
    subcategories: the same paired drop per sub-category (:class:`SubcategoryResult`;
    no verdict of their own: they are read as a breakdown, not tested).
    difficulties: the same breakdown per item difficulty (easy, medium, hard first,
    then any other the suite names); empty when the items record fewer than two.
    audit: ``passed`` or ``failed`` when a probe audit of this capability against the
    base was found (``forgetcheck probes audit``, or ``compare --audit``), else None;
    audit_problems: why it failed, in words (a floor above chance, a margin too small).
    detectable_drop: the smallest drop this run would have found with 80% power,
    given its item count and how many answers changed (``forgetcheck.analysis.stats``).
    diagnosis: whether forgotten answers lost the knowledge or only the format,
    from their multiple-choice twins (``forgetcheck.analysis.diagnosis``).
    dataset: where the items came from when they are a real dataset, so cards and
    reports can name it: ``id`` (Hub dataset id), and where known ``config``,
    ``split``, ``revision`` (pinned commit) and ``task`` (the lm-eval task name).
    None for forgetcheck's own probes.
    """

    name: str
    kind: str
    metric: str
    n: int
    base_score: float
    candidate_score: float
    drop: float
    ci_low: float
    ci_high: float
    p_value: float
    p_adjusted: float
    verdict: str
    forgotten: int | None
    learned: int | None
    items_needed: int | None = None
    note: str | None = None
    extra: dict[str, dict[str, float]] = field(default_factory=dict)
    chance: float | None = None
    at_chance: str | None = None
    chance_adjusted: ChanceAdjusted | None = None
    subcategories: list[SubcategoryResult] = field(default_factory=list)
    detectable_drop: float | None = None
    diagnosis: str | None = None
    dataset: dict[str, str] | None = None
    difficulties: list[SubcategoryResult] = field(default_factory=list)
    audit: str | None = None
    audit_problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        _check(self.audit in (None, "passed", "failed"), "audit", "must be passed or failed", self.audit)
        _check(self.verdict in VERDICTS, "verdict", f"must be one of {', '.join(VERDICTS)}", self.verdict)
        for name in ("n", "forgotten", "learned", "items_needed"):
            _at_least(getattr(self, name), 0, name)
        for name in ("p_value", "p_adjusted", "chance"):
            _share(getattr(self, name), name)
        if is_proportion(self):
            for name in ("base_score", "candidate_score"):
                _share(getattr(self, name), name)


@dataclass
class Settings:
    """How the run was made; enough to reproduce it and to judge it again.

    tolerance: the drop that counts as forgetting; confidence: the level of every
    interval. suites and probes: what was asked, with content hashes. recovery_shots:
    examples used to re-ask forgotten answers (0: not re-asked). kl_samples: base
    samples for label-free drift (0: not measured).
    """

    dtype: str
    device: str
    tolerance: float
    confidence: float
    suites: list[dict[str, str]] = field(default_factory=list)
    chat_template: str = "auto"
    batch_tokens: int | None = None
    probes: list[dict[str, Any]] = field(default_factory=list)
    recovery_shots: int = 0
    kl_samples: int = 0

    def __post_init__(self) -> None:
        _share(self.tolerance, "tolerance")
        _share(self.confidence, "confidence")
        for name in ("batch_tokens", "recovery_shots", "kl_samples"):
            _at_least(getattr(self, name), 0, name)


@dataclass
class SampleDriftGroup:
    """Label-free drift over one group of the base's own samples.

    name: ``all`` for every sample, ``open`` for the neutral openers, else the
    capability whose questions prompted them. n: samples. kl: mean per-token
    KL(base ‖ candidate), nats/token, with its bootstrap interval [kl_ci_low,
    kl_ci_high]; logprob_drop: the mean log-likelihood drop of the sampled tokens
    (base − candidate), with [logprob_drop_ci_low, logprob_drop_ci_high].
    """

    name: str
    n: int
    kl: float
    kl_ci_low: float
    kl_ci_high: float
    logprob_drop: float
    logprob_drop_ci_low: float
    logprob_drop_ci_high: float

    def __post_init__(self) -> None:
        _at_least(self.n, 0, "n")


@dataclass
class SampleDrift:
    """Label-free drift: how far the candidate moved on text the base samples itself.

    Not weight drift (``forgetcheck drift`` compares weights); this one scores the
    base's samples under both models (``forgetcheck.workflows.label_free``).
    samples, seed, temperature, max_new_tokens, top_k: everything that decides the
    samples and the numbers. overall: all samples as one group; groups: per prompt group.

    >>> group = SampleDriftGroup("all", 8, 0.02, 0.01, 0.03, 0.05, 0.02, 0.08)
    >>> SampleDrift(8, 0, 1.0, 48, 256, overall=group, groups=[group]).overall.kl
    0.02
    """

    samples: int
    seed: int
    temperature: float
    max_new_tokens: int
    top_k: int
    overall: SampleDriftGroup
    groups: list[SampleDriftGroup] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("samples", "temperature", "max_new_tokens", "top_k"):
            _at_least(getattr(self, name), 0, name)


@dataclass
class Counts:
    """How much of the run came from the cache, was scored or loaded: counts, not seconds.

    cached_items and scored_items: item scores (both sides) read from the result cache
    or computed now; scored_items_this_process: this process's share when several
    processes split the scoring (None in one process); models_loaded: model weights
    opened (0 when everything was cached); padding_efficiency: real tokens over
    padded tokens in the batches scored (None when nothing was padded). None means
    the report does not say.

    >>> Counts(cached_items=0, scored_items=540, models_loaded=1).scored_items
    540
    """

    cached_items: int | None = None
    scored_items: int | None = None
    scored_items_this_process: int | None = None
    models_loaded: int | None = None
    padding_efficiency: float | None = None

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            _at_least(getattr(self, f.name), 0, f.name)
        _share(self.padding_efficiency, "padding_efficiency")


def split_counts(timings: dict[str, float]) -> tuple[dict[str, float], Counts]:
    """Seconds and counts apart: older runs (and the timing code) keep both in one dict.

    >>> seconds, counts = split_counts({"load_s": 1.5, "models_loaded": 2})
    >>> seconds, counts.models_loaded, counts.scored_items
    ({'load_s': 1.5}, 2, None)
    """
    names = {f.name for f in dataclasses.fields(Counts)}
    seconds = {step: value for step, value in timings.items() if step not in names}
    return seconds, Counts(**{step: value for step, value in timings.items() if step in names})


@dataclass
class Comparison:
    """A finished comparison of a candidate with its base.

    timings: seconds per step (``load_s``, ``base_s`` ...). counts: what was cached,
    scored and loaded (:class:`Counts`). label_free: label-free drift on the base's
    own samples (:class:`SampleDrift`, ``"drift"`` in report.json); None when the
    run skipped it (``--kl-samples 0``).
    """

    base: ModelInfo
    candidate: ModelInfo
    settings: Settings
    capabilities: list[CapabilityResult]
    verdict: str
    items: list[ItemResult] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    counts: Counts = field(default_factory=Counts)
    warnings: list[str] = field(default_factory=list)
    label_free: SampleDrift | None = field(default=None, metadata={"json": "drift"})
    forgetcheck_version: str = ""
    created_at: str = ""
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        _check(self.verdict in VERDICTS, "verdict", f"must be one of {', '.join(VERDICTS)}", self.verdict)

    def regressed(self) -> list[str]:
        return [c.name for c in self.capabilities if c.verdict == "regressed"]

    def inconclusive(self) -> list[str]:
        return [c.name for c in self.capabilities if c.verdict == "inconclusive"]

    def at_chance(self) -> list[str]:
        return [c.name for c in self.capabilities if c.verdict == "at-chance"]


def utc_timestamp() -> str:
    """Now, as ``created_at`` records it: UTC, to the second."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def overall_verdict(capabilities: list[CapabilityResult]) -> str:
    """regressed if any capability regressed, else inconclusive if any is, else held.

    Capabilities at chance measured nothing, so they neither hold nor fail a run;
    a run where every capability is at chance is inconclusive.
    """
    verdicts = {c.verdict for c in capabilities}
    for v in ("regressed", "inconclusive"):
        if v in verdicts:
            return v
    if verdicts == {"at-chance"}:
        return "inconclusive"
    return "held"


def to_dict(comparison: Comparison) -> dict[str, Any]:
    """The JSON form of a Comparison (``report.json``), schema first.

    Counts the report does not know are left out rather than written as null.
    """
    data = dataclasses.asdict(comparison)
    data["counts"] = {name: value for name, value in data["counts"].items() if value is not None}
    data = {_json_name(f): data[f.name] for f in dataclasses.fields(Comparison)}
    return {"schema_version": data.pop("schema_version"), **data}


def from_dict(data: Any, source: str = "report.json") -> Comparison:
    """Read back what :func:`to_dict` wrote, checking every field; a bad one is a :class:`BadInput`.

    Counts that older reports kept in ``timings`` move to ``counts``. Keys this
    version does not know are ignored at the top level (a newer report stays
    readable) and refused inside, where they mean a wrong shape.

    >>> from_dict({"schema_version": 2, "base": {}})
    Traceback (most recent call last):
    ...
    forgetcheck.errors.BadInput: report.json: base.spec: missing
    """
    if not isinstance(data, dict):
        raise BadInput(f"{source}: not a forgetcheck report (expected a JSON object, got {_shown(data)})")
    version = data.get("schema_version")
    if type(version) is not int or version not in READABLE_SCHEMAS:
        raise BadInput(
            f"{source}: schema_version {_shown(version)} is not supported (this forgetcheck "
            f"reads version {SCHEMA_VERSION}); re-run `forgetcheck compare`"
        )
    known = {_json_name(f) for f in dataclasses.fields(Comparison)}
    data = {key: value for key, value in data.items() if key in known}
    data["schema_version"] = SCHEMA_VERSION  # older versions are read as the current one
    try:
        comparison = _record(Comparison, data, "")
    except _Bad as exc:
        raise BadInput(f"{source}: {exc}") from None
    judged = {item.capability for item in comparison.items}
    for k, cap in enumerate(comparison.capabilities):
        if cap.name not in judged:  # re-judging it would have nothing to judge
            raise BadInput(f"{source}: capabilities[{k}]: no items for {_shown(cap.name)} in items; "
                           "the report is incomplete")
    comparison.timings, moved = split_counts(comparison.timings)
    comparison.counts = dataclasses.replace(moved, **{
        f.name: getattr(comparison.counts, f.name) for f in dataclasses.fields(Counts)
        if getattr(comparison.counts, f.name) is not None})
    return comparison


# Reading: each value checked against the type its dataclass field declares.

class _Bad(Exception):
    """A field that does not fit; the message starts with the field's path."""


class NotANumber:
    """What ``NaN``, ``Infinity`` and ``-Infinity`` in a report's JSON parse to, so the
    field that holds one is named (``json.loads(text, parse_constant=NotANumber)``)."""

    def __init__(self, text: str):
        self.text = text


def _json_name(f: dataclasses.Field) -> str:
    return f.metadata.get("json", f.name)


@functools.cache
def _fields(cls: type) -> list[tuple[str, str, Any, bool]]:
    """(attribute, JSON key, declared type, required) per field of a dataclass."""
    hints = typing.get_type_hints(cls)
    required = dataclasses.MISSING
    return [(f.name, _json_name(f), hints[f.name],
             f.default is required and f.default_factory is required) for f in dataclasses.fields(cls)]


def _record(cls: type, value: Any, path: str) -> Any:
    if not isinstance(value, dict):
        raise _Bad(f"{path or 'report'}: expected an object, got {_shown(value)}")
    fields = _fields(cls)
    names = {key for _, key, _, _ in fields}
    for key in value:
        if key not in names:
            raise _Bad(f"{_join(path, key)}: unknown field; is this a forgetcheck report of another version?")
    kwargs = {}
    for name, key, kind, required in fields:
        if key in value:
            kwargs[name] = _read(kind, value[key], _join(path, key))
        elif required:
            raise _Bad(f"{_join(path, key)}: missing")
    try:
        return cls(**kwargs)
    except ValueError as exc:  # a range check in __post_init__, which names the field
        raise _Bad(f"{path + '.' if path else ''}{exc}") from None


def _read(kind: Any, value: Any, path: str) -> Any:
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return None if value is None else _read(next(a for a in args if a is not type(None)), value, path)
    if dataclasses.is_dataclass(kind):
        return _record(kind, value, path)
    if origin is list:
        if not isinstance(value, list):
            raise _Bad(f"{path}: expected a list, got {_shown(value)}")
        return [_read(args[0], v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise _Bad(f"{path}: expected an object, got {_shown(value)}")
        return {_text(k, path): _read(args[1], v, _join(path, k)) for k, v in value.items()}
    if kind is Any:
        return _plain(value, path, 0)
    if kind is bool:
        if type(value) is not bool:
            raise _Bad(f"{path}: expected true or false, got {_shown(value)}")
        return value
    if kind is int:
        if type(value) is not int or abs(value) > MAX_INT:
            raise _Bad(f"{path}: expected an integer (at most 10^15 in size), got {_shown(value)}")
        return value
    if kind is float:
        if type(value) not in (int, float) or not (abs(value) <= MAX_INT if type(value) is int
                                                   else math.isfinite(value)):
            raise _Bad(f"{path}: expected a finite number, got {_shown(value)}")
        return value
    if kind is str:
        return _text(value, path)
    raise TypeError(f"report field {path} has a type from_dict cannot read: {kind}")  # a bug here, not bad input


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _Bad(f"{path}: expected text, got {_shown(value)}")
    if len(value) > MAX_TEXT:
        raise _Bad(f"{path}: text of {len(value):,} characters, more than the {MAX_TEXT:,} a report holds")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _Bad(f"{path}: text holds a lone surrogate ({_shown(value[exc.start])}), not valid Unicode") from None
    return value


def _plain(value: Any, path: str, depth: int) -> Any:
    """A free-form JSON value (settings.probes entries): bounded depth, finite numbers, valid text."""
    if depth > MAX_DEPTH:
        raise _Bad(f"{path}: nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        return {_text(k, path): _plain(v, _join(path, k), depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, str):
        return _text(value, path)
    if isinstance(value, NotANumber) or (isinstance(value, float) and not math.isfinite(value)):
        raise _Bad(f"{path}: expected a finite number, got {_shown(value)}")
    if type(value) is int and abs(value) > MAX_INT:
        raise _Bad(f"{path}: expected an integer (at most 10^15 in size), got {_shown(value)}")
    return value


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,39}\Z")


def _join(path: str, key: Any) -> str:
    """``path.key``, or ``path["odd key"]`` (ASCII-escaped) for a key that is not a plain name."""
    if isinstance(key, str) and _PLAIN_KEY.match(key):
        return f"{path}.{key}" if path else key
    return f"{path}[{_shown(key)}]"


def _shown(value: Any) -> str:
    """A value as an error line may show it: short, ASCII, no control characters."""
    if isinstance(value, NotANumber):
        return value.text
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return json.dumps(value[:40] + ("…" if len(value) > 40 else ""))
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        return f"an integer of {len(str(abs(value)))} digits"
    return json.dumps(value) if value is None or isinstance(value, (bool, int, float)) else type(value).__name__


def is_proportion(cap: CapabilityResult) -> bool:
    """True when scores are a share of items right (shown as %, drops in points)."""
    return cap.kind != "perplexity" and cap.metric in BINARY_METRICS


def is_perplexity(cap: CapabilityResult) -> bool:
    """True when scores are mean log-likelihood per token (drops in nats/token)."""
    return cap.kind == "perplexity"
