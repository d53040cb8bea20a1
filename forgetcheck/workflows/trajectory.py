"""Forgetting over training: find a run's checkpoints, score each against the base, fit curves to the result.

``forgetcheck trajectory`` answers "when did forgetting start?". Each checkpoint is
an ordinary :func:`forgetcheck.workflows.compare.compare` against the base, so every number
here is one a ``compare`` run would give; the base's scores come from the result
cache from the second checkpoint on (its cache key does not name the candidate).
:func:`summarise` turns the comparisons into one plain dict (``trajectory.json``):
per capability the score and the forgetting (the report's ``drop``) at each step,
the verdicts, the first checkpoint judged ``regressed`` and two fitted curves.

The fits describe this run's checkpoints and nothing more:

- the shifted power law Kalajdzievski (2024, arXiv 2401.05605) found for forgetting
  against update steps, ``forgetting(N) = A·N^β + B`` (his steps-only form, with the
  number of tuned parameters fixed);
- an exponential approach to a floor for comparison, ``score(N) = S_inf + (S_0 −
  S_inf)·exp(−N/τ)``.

Both are linear in all parameters but one (β, τ), so each is fitted by ordinary
least squares for the linear ones inside a one-dimensional search over the other:
a log-spaced grid, then golden-section refinement around the best grid point. No
scipy needed, and the search range is part of the answer (a β at its edge is said).
The base is fitted too, as step 0 (forgetting 0, its own score): it anchors both
curves, so a capability already forgotten by the first checkpoint gives a steep
curve instead of a flat one with meaningless parameters. A law with three
parameters needs three points (the base and two checkpoints); with exactly three
it passes through them all.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Callable

from forgetcheck.analysis.fits import fit_power_law, fit_retention
from forgetcheck.comparison import CapabilityResult, Comparison, is_perplexity, is_proportion, overall_verdict
from forgetcheck.errors import BadInput
from forgetcheck.models.specs import HUB_ID
from forgetcheck.options import CompareOptions
from forgetcheck.suites.suite import Suite, load_suite

CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)$")
MODEL_FILES = ("config.json", "adapter_config.json")
# Search ranges of the non-linear parameter: β as is, τ relative to the last step.


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """One checkpoint of the run: what to load and where in training it sits.

    step_from: how the step was found, ``name`` (``checkpoint-N``), ``trainer_state``
    (its ``global_step``) or ``position`` (1..n in the order given).
    """

    spec: str
    step: int
    step_from: str


def find_checkpoints(specs: list[str]) -> list[Checkpoint]:
    """The checkpoints named on the command line, sorted by step.

    One folder holding ``checkpoint-*`` subfolders (the Hugging Face Trainer's
    output folder) stands for all of them; otherwise each argument is one checkpoint.
    """
    if not specs:
        raise BadInput("no checkpoints given; pass checkpoint folders or a Trainer output folder holding checkpoint-*")
    if len(specs) == 1 and Path(specs[0]).expanduser().is_dir():
        folder = Path(specs[0]).expanduser()
        found = sorted(p for p in folder.iterdir() if p.is_dir() and CHECKPOINT_NAME.match(p.name))
        if found:
            specs = [str(p) for p in found]
        elif not any((folder / name).exists() for name in MODEL_FILES):
            raise BadInput(f"{specs[0]}: no checkpoint-* subfolders and not a model or adapter folder; pass a Trainer "
                           "output folder or the checkpoints themselves")
    checkpoints = [_checkpoint(spec, position) for position, spec in enumerate(specs, start=1)]
    steps = [c.step for c in checkpoints]
    repeated = sorted({s for s in steps if steps.count(s) > 1})
    if repeated:
        which = "; ".join(f"step {s}: " + ", ".join(c.spec for c in checkpoints if c.step == s) for s in repeated)
        raise BadInput(f"two checkpoints at the same step ({which}); each checkpoint must sit at its own step")
    return sorted(checkpoints, key=lambda c: c.step)


def _checkpoint(spec: str, position: int) -> Checkpoint:
    path = Path(spec).expanduser()
    if not path.exists():
        if not HUB_ID.match(spec):
            raise BadInput(f"checkpoint {spec!r}: no such file or folder (give a checkpoint folder, a .gguf file or "
                           "a Hub id like org/name@revision)")
        return Checkpoint(spec, position, "position")
    named = CHECKPOINT_NAME.match(path.name)
    if named:
        return Checkpoint(spec, int(named.group(1)), "name")
    step = _global_step(path / "trainer_state.json") if path.is_dir() else None
    return Checkpoint(spec, position, "position") if step is None else Checkpoint(spec, step, "trainer_state")


def _global_step(state: Path) -> int | None:
    """``global_step`` from a Trainer's trainer_state.json, when there is a usable one."""
    try:
        step = json.loads(state.read_text(encoding="utf-8")).get("global_step")
    except (OSError, ValueError, AttributeError):
        return None
    return step if isinstance(step, int) and not isinstance(step, bool) and step >= 0 else None


def with_learned(suite: Suite, learned: str | None, *, files_anywhere: bool = False) -> tuple[Suite, list[str]]:
    """The suite to score and the names of the capabilities that measure the skill being taught.

    ``learned`` is a capability of the suite, or a probe/suite YAML (any file
    ``--suite`` takes) whose probes are added to the suite, so they are scored on
    the same checkpoints in the same pass.
    """
    if not learned:
        return suite, []
    names = [p.name for p in suite.probes]
    if learned in names:
        return suite, [learned]
    if not Path(learned).expanduser().exists():
        raise BadInput(f"--learned {learned!r}: not a capability of suite {suite.name!r} ({', '.join(names)}) nor a "
                       "probe or suite YAML file")
    extra = load_suite(str(Path(learned).expanduser()), files_anywhere=files_anywhere)
    clash = [p.name for p in extra.probes if p.name in names]
    if clash:
        raise BadInput(f"--learned {learned}: probe {clash[0]!r} is already in suite {suite.name!r}; rename it in "
                       f"{extra.source}, or pass --learned {clash[0]} to use the suite's own")
    return dataclasses.replace(suite, probes=[*suite.probes, *extra.probes]), [p.name for p in extra.probes]


def score_checkpoints(base: str, checkpoints: list[Checkpoint], suite: Suite, options: CompareOptions, *,
                      echo: Callable[[str], None] = lambda line: None,
                      each: Callable[[Checkpoint, Comparison], None] = lambda checkpoint, comparison: None,
                      warn: Callable[[str], None] | None = None) -> list[Comparison]:
    """Compare every checkpoint with the base, in step order; ``each`` sees every comparison as it is done.

    ``options.cache`` must be a result cache (True or a :class:`~forgetcheck.results.store.ResultCache`):
    it is what lets the base be scored only once. Diagnosis by re-asking is not needed
    per checkpoint, so ``recovery_shots`` is 0.
    """
    if options.cache is False or options.cache is None:
        raise ValueError("score_checkpoints needs a result cache: it is what scores the base only once")
    from forgetcheck.workflows.compare import compare

    comparisons = []
    for number, checkpoint in enumerate(checkpoints, start=1):
        echo(f"checkpoint {number}/{len(checkpoints)}: step {checkpoint.step} · {checkpoint.spec}")
        comparison = compare(base, checkpoint.spec, suite, options.with_overrides(recovery_shots=0), warn=warn)
        each(checkpoint, comparison)
        comparisons.append(comparison)
    return comparisons


def forgetting_only(comparison: Comparison, learned: list[str]) -> Comparison:
    """The comparison without the learned capabilities: those are meant to change, and never fail a run."""
    kept = [c for c in comparison.capabilities if c.name not in learned]
    return dataclasses.replace(comparison, capabilities=kept, verdict=overall_verdict(kept))


def summarise(checkpoints: list[Checkpoint], comparisons: list[Comparison], learned: list[str],
              settings: dict) -> dict:
    """Everything ``trajectory.json`` holds: per-checkpoint and per-capability series, fits, the trade-off."""
    steps = [c.step for c in checkpoints]
    capabilities = []
    for first in comparisons[0].capabilities:
        series = [_capability(comparison, first.name) for comparison in comparisons]
        regressed = next((c for c, cap in zip(checkpoints, series) if cap.verdict == "regressed"), None)
        scores = [cap.candidate_score for cap in series]
        forgetting = [cap.drop for cap in series]
        capabilities.append({
            "name": first.name, "kind": first.kind, "metric": first.metric, "unit": unit(first),
            "learned": first.name in learned, "measured": first.at_chance is None, "n": first.n,
            "base_score": first.base_score, "base_perplexity": first.extra.get("perplexity", {}).get("base"),
            "score": scores, "forgetting": forgetting,
            "ci_low": [cap.ci_low for cap in series], "ci_high": [cap.ci_high for cap in series],
            "verdict": [cap.verdict for cap in series],
            "first_regressed": None if regressed is None else {"step": regressed.step, "checkpoint": regressed.spec},
            "fits": {"power_law": fit_power_law([0, *steps], [0.0, *forgetting]),
                     "retention": fit_retention([0, *steps], [first.base_score, *scores])},
        })
    rows = []
    for checkpoint, comparison in zip(checkpoints, comparisons):
        judged = forgetting_only(comparison, learned)
        drift = comparison.label_free
        rows.append({"step": checkpoint.step, "checkpoint": checkpoint.spec, "step_from": checkpoint.step_from,
                     "report": f"checkpoints/{checkpoint.step}", "verdict": judged.verdict,
                     "regressed": judged.regressed(), "kl": drift.overall.kl if drift else None,
                     "items_from_cache": comparison.counts.cached_items or 0,
                     "items_scored": comparison.counts.scored_items or 0})
    return {"kind": "forgetcheck-trajectory", "schema_version": 1, "base": dataclasses.asdict(comparisons[0].base),
            "settings": settings, "steps": steps, "checkpoints": rows, "capabilities": capabilities,
            "tradeoff": tradeoff(capabilities) if learned else None}


def _capability(comparison: Comparison, name: str) -> CapabilityResult:
    return next(c for c in comparison.capabilities if c.name == name)


def unit(cap: CapabilityResult) -> str:
    """How forgetting is measured: ``points`` for shares of items right, ``nats/token`` for perplexity."""
    if is_proportion(cap):
        return "points"
    return "nats/token" if is_perplexity(cap) else "score"


def tradeoff(capabilities: list[dict]) -> dict:
    """Learning versus forgetting per checkpoint (Biderman et al. 2024's view of a fine-tune).

    gain: mean improvement over the base on the learned capabilities; forgetting: mean
    forgetting over the other capabilities the base measures (not at chance). Each mean
    is taken over one unit only, points where there are any (else nats/token), since
    a point and a nat are not the same amount; both raw, like the report's drops.
    """
    learned, gain_unit = _one_unit([c for c in capabilities if c["learned"]])
    others, forgetting_unit = _one_unit([c for c in capabilities if not c["learned"] and c["measured"]])
    columns = len(learned[0]["forgetting"])
    gain = [-sum(c["forgetting"][k] for c in learned) / len(learned) for k in range(columns)]
    forgetting = [sum(c["forgetting"][k] for c in others) / len(others) if others else None for k in range(columns)]
    return {"learned": [c["name"] for c in learned], "gain": gain, "gain_unit": gain_unit,
            "others": [c["name"] for c in others], "forgetting": forgetting, "forgetting_unit": forgetting_unit}


def _one_unit(capabilities: list[dict]) -> tuple[list[dict], str | None]:
    for wanted in ("points", "nats/token", "score"):
        chosen = [c for c in capabilities if c["unit"] == wanted]
        if chosen:
            return chosen, wanted
    return [], None
