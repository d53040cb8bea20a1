"""The Comparison: plain data that every renderer and integration reads.

A Comparison holds everything a run found — which models, which settings, the
per-item paired scores and the per-capability verdicts — and nothing that needs
a model to read. Saved as ``report.json`` it can be re-rendered, re-posted or
re-judged with other thresholds later (``forgetcheck report``). Serialisation
lives in :func:`to_dict` / :func:`from_dict` and nowhere else.

>>> cap = CapabilityResult(name="arithmetic", kind="generate", metric="exact_match",
...     n=3, base_score=1.0, candidate_score=2/3, drop=1/3, ci_low=-0.1, ci_high=0.8,
...     p_value=1.0, p_adjusted=1.0, verdict="inconclusive", forgotten=1, learned=0)
>>> cap.verdict
'inconclusive'
"""

from __future__ import annotations

import dataclasses
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
    candidate then answered right (``forgetcheck.workflows.recovery``).
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
    part explained by guessing taken out (``forgetcheck.analysis.stats.ChanceAdjusted`` fields).
    subcategories: the same paired drop per sub-category (no verdict of their own:
    they are read as a breakdown, not tested).
    detectable_drop: the smallest drop this run would have found with 80% power,
    given its item count and how many answers changed (``forgetcheck.analysis.stats``).
    diagnosis: whether forgotten answers lost the knowledge or only the format,
    from their multiple-choice twins (``forgetcheck.analysis.diagnosis``).
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
    chance_adjusted: dict[str, float] | None = None
    subcategories: list[dict[str, Any]] = field(default_factory=list)
    detectable_drop: float | None = None
    diagnosis: str | None = None

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


@dataclass
class Settings:
    """How the run was made; enough to reproduce it and to judge it again."""

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


@dataclass
class Comparison:
    """A finished comparison of a candidate with its base.

    drift: label-free drift on the base's own samples (``forgetcheck.workflows.label_free``):
    settings, ``overall`` and per-``groups`` KL and log-likelihood drop with
    intervals; None when the run skipped it (``--kl-samples 0``).
    """

    base: ModelInfo
    candidate: ModelInfo
    settings: Settings
    capabilities: list[CapabilityResult]
    verdict: str
    items: list[ItemResult] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    drift: dict[str, Any] | None = None
    forgetcheck_version: str = ""
    created_at: str = ""
    schema_version: int = SCHEMA_VERSION

    def regressed(self) -> list[str]:
        return [c.name for c in self.capabilities if c.verdict == "regressed"]

    def inconclusive(self) -> list[str]:
        return [c.name for c in self.capabilities if c.verdict == "inconclusive"]

    def at_chance(self) -> list[str]:
        return [c.name for c in self.capabilities if c.verdict == "at-chance"]


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
    """The JSON form of a Comparison (``report.json``), schema first."""
    data = dataclasses.asdict(comparison)
    return {"schema_version": data.pop("schema_version"), **data}


def from_dict(data: dict[str, Any], source: str = "report.json") -> Comparison:
    """Read back what :func:`to_dict` wrote; a wrong shape is a :class:`BadInput`."""
    if not isinstance(data, dict):
        raise BadInput(f"{source}: not a forgetcheck report (expected a JSON object)")
    version = data.get("schema_version")
    if version not in READABLE_SCHEMAS:
        raise BadInput(
            f"{source}: schema_version {version!r} is not supported (this forgetcheck "
            f"reads version {SCHEMA_VERSION}); re-run `forgetcheck compare`"
        )
    try:
        return Comparison(
            base=ModelInfo(**data["base"]),
            candidate=ModelInfo(**data["candidate"]),
            settings=Settings(**data["settings"]),
            capabilities=[CapabilityResult(**c) for c in data["capabilities"]],
            verdict=data["verdict"],
            items=[ItemResult(**i) for i in data.get("items", [])],
            timings=data.get("timings", {}),
            warnings=data.get("warnings", []),
            drift=data.get("drift"),
            forgetcheck_version=data.get("forgetcheck_version", ""),
            created_at=data.get("created_at", ""),
            schema_version=SCHEMA_VERSION,  # older versions are read as the current one
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise BadInput(f"{source}: not a valid forgetcheck report ({exc})") from None


def is_proportion(cap: CapabilityResult) -> bool:
    """True when scores are a share of items right (shown as %, drops in points)."""
    return cap.kind != "perplexity" and cap.metric in BINARY_METRICS


def is_perplexity(cap: CapabilityResult) -> bool:
    """True when scores are mean log-likelihood per token (drops in nats/token)."""
    return cap.kind == "perplexity"
