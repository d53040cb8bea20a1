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
import math
import re
from pathlib import Path
from typing import Callable

import numpy as np

from forgetcheck.comparison import CapabilityResult, Comparison, overall_verdict
from forgetcheck.errors import BadInput
from forgetcheck.report.text import is_perplexity, is_proportion
from forgetcheck.models.specs import HUB_ID
from forgetcheck.suites.suite import Suite, load_suite

CHECKPOINT_NAME = re.compile(r"^checkpoint-(\d+)$")
MODEL_FILES = ("config.json", "adapter_config.json")
POWER_LAW = "forgetting(N) = A·N^β + B"
RETENTION = "score(N) = S_inf + (S_0 − S_inf)·exp(−N/τ)"
# Search ranges of the non-linear parameter: β as is, τ relative to the last step.
BETA_RANGE = (1e-3, 10.0)
TAU_RANGE = (1e-3, 1e3)
GRID_POINTS = 400


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


def with_learned(suite: Suite, learned: str | None) -> tuple[Suite, list[str]]:
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
    extra = load_suite(str(Path(learned).expanduser()))
    clash = [p.name for p in extra.probes if p.name in names]
    if clash:
        raise BadInput(f"--learned {learned}: probe {clash[0]!r} is already in suite {suite.name!r}; rename it in "
                       f"{extra.source}, or pass --learned {clash[0]} to use the suite's own")
    return dataclasses.replace(suite, probes=[*suite.probes, *extra.probes]), [p.name for p in extra.probes]


def score_checkpoints(base: str, checkpoints: list[Checkpoint], suite: Suite, *, cache,
                      echo: Callable[[str], None] = lambda line: None,
                      each: Callable[[Checkpoint, Comparison], None] = lambda checkpoint, comparison: None,
                      **options) -> list[Comparison]:
    """Compare every checkpoint with the base, in step order; ``each`` sees every comparison as it is done.

    ``cache`` must be a result cache (True or a :class:`~forgetcheck.results.store.ResultCache`):
    it is what lets the base be scored only once. ``options`` go to ``compare()``;
    diagnosis by re-asking is not needed per checkpoint, so ``recovery_shots`` is 0.
    """
    from forgetcheck.workflows.compare import compare

    comparisons = []
    for number, checkpoint in enumerate(checkpoints, start=1):
        echo(f"checkpoint {number}/{len(checkpoints)}: step {checkpoint.step} · {checkpoint.spec}")
        comparison = compare(base, checkpoint.spec, suite, cache=cache, recovery_shots=0, **options)
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
        drift = (comparison.drift or {}).get("overall") or {}
        rows.append({"step": checkpoint.step, "checkpoint": checkpoint.spec, "step_from": checkpoint.step_from,
                     "report": f"checkpoints/{checkpoint.step}", "verdict": judged.verdict,
                     "regressed": judged.regressed(), "kl": drift.get("kl"),
                     "items_from_cache": int(comparison.timings.get("cached_items", 0)),
                     "items_scored": int(comparison.timings.get("scored_items", 0))})
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


def fit_power_law(steps: list[float], forgetting: list[float]) -> dict:
    """Least-squares ``forgetting(N) = A·N^β + B`` with β in :data:`BETA_RANGE`; ``fitted`` False says why not."""
    def curve(n: np.ndarray, log_beta: float) -> np.ndarray:
        return np.column_stack([n ** math.exp(log_beta), np.ones_like(n)])

    def named(log_beta: float, scale: float, coefficients: list[float]) -> dict:
        beta = math.exp(log_beta)
        return {"A": coefficients[0] / scale ** beta, "beta": beta, "B": coefficients[1]}

    return _fit(steps, forgetting, POWER_LAW, BETA_RANGE, "β", curve, named)


def fit_retention(steps: list[float], scores: list[float]) -> dict:
    """Least-squares ``score(N) = S_inf + (S_0 − S_inf)·exp(−N/τ)``; ``fitted`` False says why not."""
    def curve(n: np.ndarray, log_tau: float) -> np.ndarray:
        decay = np.exp(-n / math.exp(log_tau))
        return np.column_stack([decay, 1 - decay])

    def named(log_tau: float, scale: float, coefficients: list[float]) -> dict:
        return {"S_0": coefficients[0], "S_inf": coefficients[1], "tau": scale * math.exp(log_tau)}

    return _fit(steps, scores, RETENTION, TAU_RANGE, "τ", curve, named)


def _fit(steps, values, formula: str, bounds: tuple[float, float], searched: str, curve, named) -> dict:
    """One least-squares fit: ``curve(n, x)`` gives the linear design for the searched parameter's log ``x``.

    Steps are divided by the last one, which keeps N^β and exp(−N/τ) within floating
    point over the whole search range; ``named`` turns the result back into step units.
    """
    problem = _unfittable(steps, values)
    if problem:
        return {"fitted": False, "formula": formula, "reason": problem}
    y = np.asarray(values, dtype=float)
    scale = float(max(steps))
    n = np.asarray(steps, dtype=float) / scale
    x, coefficients, sse = _search(np.log(bounds), lambda value: curve(n, value), y)
    fit = {"fitted": True, "formula": formula, **named(x, scale, coefficients)}
    return _finish(fit, sse, y, searched if _at_edge(math.exp(x), bounds) else None)


def _unfittable(steps: list[float], values: list[float]) -> str | None:
    if len(values) < 3:
        return f"needs at least 3 points (the base and 2 checkpoints), has {len(values)}"
    if not all(math.isfinite(v) for v in values):
        return "a value is not a finite number"
    if max(values) - min(values) <= 1e-12 * max(1.0, max(abs(v) for v in values)):
        return "the series is the same at every checkpoint"
    if max(steps) <= 0:
        return "every step is 0"
    return None


def _search(bounds, design: Callable[[float], np.ndarray], y: np.ndarray):
    """Minimise the least-squares error over one parameter: grid, then golden section around the best point.

    Returns the parameter, the linear coefficients and the sum of squared errors.
    """
    def error(x: float) -> tuple[float, np.ndarray]:
        coefficients = np.linalg.lstsq(design(x), y, rcond=None)[0]
        residual = y - design(x) @ coefficients
        return float(residual @ residual), coefficients

    grid = np.linspace(bounds[0], bounds[1], GRID_POINTS)
    errors = [error(x)[0] for x in grid]
    best = int(np.argmin(errors))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(60):
        left, right = high - ratio * (high - low), low + ratio * (high - low)
        if error(left)[0] <= error(right)[0]:
            high = right
        else:
            low = left
    x = (low + high) / 2
    sse, coefficients = error(x)
    if sse > errors[best]:  # the refinement never does worse than the grid
        x = grid[best]
        sse, coefficients = error(x)
    return x, [float(c) for c in coefficients], sse


def _at_edge(value: float, bounds: tuple[float, float]) -> bool:
    return value <= bounds[0] * 1.05 or value >= bounds[1] / 1.05


def _finish(fit: dict, sse: float, y: np.ndarray, edge: str | None) -> dict:
    """R² and the caveats a reader needs; a fit with a number that is not finite is reported as not fitted.

    ``edge`` names the searched parameter when it ended at the edge of its range.
    """
    total = float(((y - y.mean()) ** 2).sum())
    fit.update(r2=max(0.0, 1 - sse / total), points=int(len(y)), exact=len(y) == 3, at_edge=edge is not None)
    notes = []
    if fit["exact"]:
        notes.append("3 points, 3 parameters: the curve passes through every point, so R² says nothing")
    if edge:
        notes.append(f"{edge} ended at the edge of its search range: the checkpoints do not pin the curve down")
    if notes:
        fit["note"] = "; ".join(notes)
    if not all(math.isfinite(v) for v in fit.values() if isinstance(v, float)):
        return {"fitted": False, "formula": fit["formula"], "reason": "the fit did not converge to finite numbers"}
    return fit


def power_law(fit: dict, step: float) -> float:
    """The fitted forgetting at ``step`` (used to draw the curve)."""
    return fit["A"] * step ** fit["beta"] + fit["B"]
