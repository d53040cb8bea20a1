"""chart.png: the comparison at a glance, one row per capability.

The left panel is the answer to "what was forgotten": each capability's drop
(base − candidate) as a dot with its confidence interval, coloured by verdict, next
to the zero line and the tolerance line. 0/1 metrics are in points and perplexity
capabilities in nats/token ×100, which puts both on one axis with the same tolerance
line (a 0.02 tolerance is 2 points and 2 hundredths of a nat). The right panel shows
where the scores sit, base → candidate, for 0/1 metrics in percent; perplexity rows
state their perplexities in words there because their scale has no place on a
percent axis.

It draws on a bare ``Figure`` with the Agg canvas rather than through pyplot, so
writing a chart neither switches the caller's matplotlib backend (a notebook keeps
its own) nor leaves a figure registered in pyplot to leak.
"""

from __future__ import annotations

import io
import os
import textwrap

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from forgetcheck.comparison import CapabilityResult, Comparison, is_perplexity, is_proportion, overall_verdict
from forgetcheck.files import write_atomic
from forgetcheck.report.text import outcome_line, score_text

VERDICT_COLOUR = {"regressed": "#c62828", "held": "#2e7d32", "inconclusive": "#e69500", "at-chance": "#9e9e9e"}
BASE_COLOUR = "#616161"
ROW_INCHES = 0.42
DPI = 120


def render_chart(comparison: Comparison) -> bytes:
    """The comparison drawn as PNG bytes: one row per capability, its drop and interval against the tolerance."""
    capabilities = comparison.capabilities
    rows = max(len(capabilities), 1)
    figure = Figure(figsize=(11, max(3.0, 1.9 + ROW_INCHES * rows)), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)  # renders with Agg without touching pyplot or the global backend
    verdict = overall_verdict(capabilities) if capabilities else "inconclusive"
    title = f"forgetcheck: {outcome_line(comparison, name=_label)}"
    title = textwrap.shorten(title, width=90, placeholder=" …")
    figure.suptitle(title, color=VERDICT_COLOUR[verdict], fontweight="bold", fontsize=12)
    if not capabilities:
        axes = figure.subplots()
        axes.axis("off")
        axes.text(0.5, 0.5, "(nothing to draw)", ha="center", va="center", color=BASE_COLOUR)
    else:
        drop_axes, score_axes = figure.subplots(1, 2, sharey=True, width_ratios=[3, 2])
        _draw_drops(drop_axes, comparison)
        _draw_scores(score_axes, capabilities)
        _legend(figure)
    png = io.BytesIO()
    figure.savefig(png, format="png")
    return png.getvalue()


def write_chart(comparison: Comparison, path: str | os.PathLike) -> None:
    """chart.png for ``comparison`` at ``path``, written atomically."""
    write_atomic(path, render_chart(comparison))


def _label(name: str) -> str:
    # A "$" pair would switch matplotlib into math mode, or fail to parse.
    return name.replace("$", r"\$")


def _scale(cap: CapabilityResult) -> float:
    return 100.0 if is_proportion(cap) or is_perplexity(cap) else 1.0


def _draw_drops(axes, comparison: Comparison) -> None:
    capabilities = comparison.capabilities
    tolerance = comparison.settings.tolerance * 100
    for row, cap in enumerate(capabilities):
        scale = _scale(cap)
        drop, low, high = cap.drop * scale, cap.ci_low * scale, cap.ci_high * scale
        colour = VERDICT_COLOUR[cap.verdict]
        axes.errorbar(
            drop, row, xerr=[[max(drop - low, 0)], [max(high - drop, 0)]], fmt="o",
            color=colour, markersize=8, elinewidth=2.5, capsize=5, capthick=2, zorder=3,
        )
        axes.annotate(
            f"{drop:+.1f}", (max(high, drop), row), xytext=(6, 0), textcoords="offset points",
            va="center", fontsize=9, color=colour, fontweight="bold",
        )
    axes.axvline(0, color="black", linewidth=0.9, zorder=1)
    red = VERDICT_COLOUR["regressed"]
    axes.axvline(tolerance, color=red, linestyle="--", linewidth=1, zorder=1)
    lows = [min(c.ci_low, c.drop) * _scale(c) for c in capabilities] + [0.0, tolerance]
    highs = [max(c.ci_high, c.drop) * _scale(c) for c in capabilities] + [0.0, tolerance]
    span = max(max(highs) - min(lows), 1.0)
    # Extra room on the right for the value labels printed after each interval.
    left, right = min(lows) - 0.08 * span, max(highs) + 0.18 * span
    axes.set_xlim(left, right)
    axes.axvspan(tolerance, right, color=red, alpha=0.06, zorder=0)
    axes.text(tolerance, -0.6, " tolerance", color=red, fontsize=8, va="bottom")
    axes.set_yticks(range(len(capabilities)))
    axes.set_yticklabels([_row_label(c) for c in capabilities])
    for tick, cap in zip(axes.get_yticklabels(), capabilities):
        tick.set_color(VERDICT_COLOUR[cap.verdict])
    axes.set_ylim(len(capabilities) - 0.4, -0.9)
    axes.set_title("drop with confidence interval  (right of 0 = forgotten)", fontsize=10)
    unit = "points"
    if any(is_perplexity(c) for c in capabilities):
        unit += "; perplexity rows: nats/token ×100"
    axes.set_xlabel(f"drop = base − candidate ({unit})")
    axes.grid(axis="x", color="#e0e0e0", zorder=0)


def _row_label(cap: CapabilityResult) -> str:
    label = _label(cap.name)
    if len(label) > 28:
        label = label[:27] + "…"
    return label + ("\n(nats/token ×100)" if is_perplexity(cap) else "")


def _draw_scores(axes, capabilities: list[CapabilityResult]) -> None:
    for row, cap in enumerate(capabilities):
        colour = VERDICT_COLOUR[cap.verdict]
        if not is_proportion(cap):
            axes.text(
                50, row, f"{score_text(cap, 'base')} → {score_text(cap, 'candidate')}",
                ha="center", va="center", fontsize=9, color="#424242",
            )
            continue
        base, candidate = cap.base_score * 100, cap.candidate_score * 100
        if cap.chance:
            # Where guessing lands: a score near this mark measures nothing.
            axes.plot(cap.chance * 100, row, "|", markersize=14, markeredgewidth=2, color=BASE_COLOUR, zorder=1)
        axes.plot([base, candidate], [row, row], color=colour, linewidth=2, alpha=0.5, zorder=2)
        axes.plot(base, row, "o", markersize=8, markerfacecolor="white",
                  markeredgecolor=BASE_COLOUR, markeredgewidth=1.8, zorder=3)
        axes.plot(candidate, row, "o", markersize=8, color=colour, zorder=4)
    axes.set_xlim(0, 100)
    axes.set_xlabel("score (%)")
    axes.set_title("base ○ → candidate ●", fontsize=10)
    axes.grid(axis="x", color="#e0e0e0", zorder=0)
    axes.tick_params(axis="y", left=False)


def _legend(figure: Figure) -> None:
    handles = [Patch(color=colour, label=verdict.replace("-", " ")) for verdict, colour in VERDICT_COLOUR.items()]
    handles += [
        Line2D([], [], marker="o", linestyle="", markerfacecolor="white",
               markeredgecolor=BASE_COLOUR, markeredgewidth=1.8, label="base"),
        Line2D([], [], marker="o", linestyle="", color="#424242", label="candidate"),
        Line2D([], [], color=VERDICT_COLOUR["regressed"], linestyle="--", label="tolerance"),
        Line2D([], [], marker="|", linestyle="", markersize=10, markeredgewidth=2, color=BASE_COLOUR,
               label="chance"),
    ]
    figure.legend(
        handles=handles, loc="outside lower center", ncols=len(handles), frameon=False, fontsize=9
    )
