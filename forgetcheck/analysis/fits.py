"""Curves fitted to forgetting over training: a power law in steps and an exponential retention.

Pure functions over (step, value) lists, no model and no I/O, so the trajectory
workflow fits them and every renderer draws them from the same definition.
Kalajdzievski (2024) finds forgetting after N fine-tuning steps well described by a
power law A·N^β + B; a retention curve that decays to a floor is the other common
reading. Each fit searches its shape parameter on a grid (least squares for the
linear part) and says when the best value sits at the edge of its range, because a
fit at the edge is a guess, not a measurement.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

POWER_LAW = "forgetting(N) = A·N^β + B"
RETENTION = "score(N) = S_inf + (S_0 − S_inf)·exp(−N/τ)"
BETA_RANGE = (1e-3, 10.0)
TAU_RANGE = (1e-3, 1e3)
GRID_POINTS = 400


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
