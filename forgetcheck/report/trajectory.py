"""How ``forgetcheck trajectory`` shows forgetting over training: terminal table, Markdown and one plot.

Reads only the plain dict :func:`forgetcheck.workflows.trajectory.summarise` returns
(``trajectory.json``). Forgetting is shown the way the comparison chart shows drops:
in points for shares of items right, and in nats/token ×100 for perplexity, which puts
both on one axis with one tolerance line. Fit parameters are printed in the report's
raw units (0–1, nats/token), as stored in the JSON.
"""

from __future__ import annotations

import io
import os

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from forgetcheck.report.chart import DPI, VERDICT_COLOUR
from forgetcheck.files import write_atomic
from forgetcheck.report.markdown import VERDICT_EMOJI, escape_untrusted
from forgetcheck.report.text import perplexity_text
from forgetcheck.analysis.fits import power_law

MEANING = ("A fitted curve describes this run's checkpoints and nothing more: it is a summary of what was measured, "
           "not a law of this model. Reading it beyond the last checkpoint (how much more a longer run would "
           "forget) is a guess, and with few checkpoints a poor one. The first regressed step is the first "
           "checkpoint at which the drop was both significant and above the tolerance; forgetting may have begun "
           "earlier, below what the suite can detect.")
FITS_UNITS = "raw units: 0–1 for shares of items right, nats/token for perplexity; N is the step"
UNIT_SHOWN = {"points": "points", "nats/token": "nats/token ×100", "score": "score"}


def amount(cap: dict, value: float | None) -> str:
    """A forgetting or gain as shown: points, or nats/token ×100 for perplexity."""
    return "—" if value is None else f"{_number(value, cap['unit']):+.1f}"


def _number(value: float, unit: str) -> float:
    return value * (1 if unit == "score" else 100)


def base_text(cap: dict) -> str:
    if cap["unit"] == "points":
        return f"{cap['base_score'] * 100:.1f}%"
    if cap.get("base_perplexity") is not None:
        return f"ppl {perplexity_text(cap['base_perplexity'])}"
    return f"{cap['base_score']:.3f}"


def first_regressed_text(cap: dict) -> str:
    if cap["learned"]:
        return ""
    return f"step {cap['first_regressed']['step']}" if cap["first_regressed"] else "never"


def fit_text(fit: dict) -> str:
    """One fit in a line: its parameters and R², or why there is none."""
    if not fit["fitted"]:
        return f"not fitted ({fit['reason']})"
    if "beta" in fit:
        text = f"A={fit['A']:.4g} β={fit['beta']:.3g} B={fit['B']:+.4g}"
    else:
        text = f"S_0={fit['S_0']:.4g} S_inf={fit['S_inf']:.4g} τ={fit['tau']:.4g}"
    caveats = [why for flag, why in ((fit["exact"], "3 points: exact by construction"),
                                     (fit["at_edge"], "at the edge of the search range: not pinned down")) if flag]
    return f"{text} R²={fit['r2']:.3f}" + "".join(f" ({why})" for why in caveats)


def render_text(data: dict) -> str:
    """The capability × step table (forgetting, ``*`` where regressed), the learned skill, the fits."""
    steps = data["steps"]
    forgetting = [c for c in data["capabilities"] if not c["learned"]]
    learned = [c for c in data["capabilities"] if c["learned"]]
    lines = ["forgetting by step: base − checkpoint in points (* regressed; perplexity rows: nats/token ×100)"]
    lines += _table(forgetting, steps, ["capability", "base", *map(str, steps), "first regressed"])
    kl = [row["kl"] for row in data["checkpoints"]]
    if any(value is not None for value in kl):  # label-free drift: no probe needed, so it sees what they miss
        lines += ["", "KL(base ‖ checkpoint) on the base's own samples, nats/token: " + " · ".join(
            f"step {step} {'—' if value is None else f'{value:.3f}'}" for step, value in zip(steps, kl))]
    if learned:
        lines += ["", "learned: gain over the base (points; perplexity rows: nats/token ×100)"]
        lines += _table(learned, steps, ["capability", "base", *map(str, steps), ""], gain=True)
    early = [c["name"] for c in forgetting if c["first_regressed"] and c["first_regressed"]["step"] == steps[0]]
    if early:
        lines += ["", f"already regressed at the first checkpoint (step {steps[0]}): {', '.join(early)}; "
                      "save earlier checkpoints to see when the forgetting started"]
    # Curves through noise say nothing; the terminal shows the fits of what moved, trajectory.md has them all.
    shown = [c for c in data["capabilities"] if c["learned"] or c["first_regressed"]]
    if shown:
        lines += ["", "fits from the base (step 0) over the checkpoints, in raw units (0–1, or nats/token for "
                      "perplexity); every capability's are in trajectory.md:"]
        width = max(len(c["name"]) for c in shown)
        for cap in shown:
            fits = cap["fits"]
            lines.append(f"  {cap['name']:<{width}}  power law {fit_text(fits['power_law'])}")
            lines.append(f"  {'':<{width}}  retention {fit_text(fits['retention'])}")
    if data["tradeoff"]:
        lines += ["", *tradeoff_lines(data)]
    return "\n".join(lines) + "\n"


def _table(caps: list[dict], steps: list[int], header: list[str], gain: bool = False) -> list[str]:
    rows = [header]
    for cap in caps:
        values = [-v for v in cap["forgetting"]] if gain else cap["forgetting"]
        cells = [amount(cap, v) + ("*" if verdict == "regressed" and not gain else " ")
                 for v, verdict in zip(values, cap["verdict"])]
        rows.append([cap["name"], base_text(cap), *cells, first_regressed_text(cap)])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return ["  ".join(cell.ljust(w) if i in (0, len(row) - 1) else cell.rjust(w)
                      for i, (cell, w) in enumerate(zip(row, widths))).rstrip() for row in rows]


def tradeoff_lines(data: dict) -> list[str]:
    trade = data["tradeoff"]
    head = (f"learning vs forgetting: gain on {', '.join(trade['learned'])} ({UNIT_SHOWN[trade['gain_unit']]}) / "
            f"mean forgetting of {', '.join(trade['others']) or 'no other measured capability'}"
            + (f" ({UNIT_SHOWN[trade['forgetting_unit']]})" if trade["others"] else ""))
    return [head, "  " + " · ".join(f"step {s}: {_scaled(g, trade['gain_unit'])} / "
                                    f"{_scaled(f, trade['forgetting_unit'])}"
                                    for s, g, f in zip(data["steps"], trade["gain"], trade["forgetting"]))]


def _scaled(value: float | None, unit: str | None) -> str:
    return amount({"unit": unit}, value)


def render_markdown(data: dict) -> str:
    steps = data["steps"]
    caps = data["capabilities"]
    base = escape_untrusted(data["base"]["spec"], 200)
    regressed = [c for c in caps if not c["learned"] and c["first_regressed"]]
    title = f"## forgetcheck trajectory: {len(steps)} checkpoints against {base}"
    if regressed:
        first = min(c["first_regressed"]["step"] for c in regressed)
        headline = (f"Forgetting first crossed into **regressed** at step {first}. First regressed step: "
                    + ", ".join(f"{escape_untrusted(c['name'], 80)} {first_regressed_text(c)}"
                                for c in caps if not c["learned"]) + ".")
    else:
        headline = "No capability was judged **regressed** at any checkpoint."
    head = "| capability | base | " + " | ".join(f"step {s}" for s in steps) + " | first regressed |"
    rule = "|---|---:|" + "---:|" * len(steps) + "---|"
    rows = [head, rule]
    for cap in caps:
        values = [-v for v in cap["forgetting"]] if cap["learned"] else cap["forgetting"]
        cells = [amount(cap, v) + (f" {VERDICT_EMOJI['regressed']}" if verdict == "regressed" and not cap["learned"]
                                   else "") for v, verdict in zip(values, cap["verdict"])]
        name = escape_untrusted(cap["name"], 80) + (" (learned: gain)" if cap["learned"] else "")
        rows.append(f"| **{name}** | {base_text(cap)} | " + " | ".join(cells) + f" | {first_regressed_text(cap)} |")
    settings = data["settings"]
    rows += ["", f"<sub>Forgetting = base − checkpoint in points (perplexity capabilities: nats/token ×100); "
                 f"{VERDICT_EMOJI['regressed']} regressed at tolerance {settings['tolerance']:g} and "
                 f"{settings['confidence']:.0%} confidence, Holm-corrected across capabilities per checkpoint. "
                 "Learned capabilities show their gain instead.</sub>"]
    fits = ["| capability | power law A | β | B | R² | retention S_0 | S_inf | τ | R² |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for cap in caps:
        fits.append(f"| {escape_untrusted(cap['name'], 80)} | " + _fit_cells(cap["fits"]["power_law"],
                    ("A", "beta", "B")) + " | " + _fit_cells(cap["fits"]["retention"], ("S_0", "S_inf", "tau")) + " |")
    notes = [f"{escape_untrusted(c['name'], 80)}, {kind.replace('_', ' ')}: {fit.get('note') or fit.get('reason')}."
             for c in caps for kind, fit in c["fits"].items() if fit.get("note") or not fit["fitted"]]
    fits += ["", f"<sub>Power law (Kalajdzievski 2024): {caps[0]['fits']['power_law']['formula']}; exponential "
                 f"retention: {caps[0]['fits']['retention']['formula']}. Fitted by least squares from the base "
                 f"(step 0, forgetting 0) over the checkpoints; {FITS_UNITS}. {' '.join(notes)}</sub>"]
    sections = [title, headline, "\n".join(rows), "### Fits", "\n".join(fits)]
    if data["tradeoff"]:
        sections += ["### Learning versus forgetting", _tradeoff_table(data)]
    sections += ["### What this means", MEANING, "![forgetting over training](trajectory.png)", _checkpoints(data)]
    return "\n\n".join(sections) + "\n"


def _fit_cells(fit: dict, names: tuple[str, str, str]) -> str:
    if not fit["fitted"]:
        return " | ".join(["—"] * 4)
    return " | ".join([*(f"{fit[n]:.4g}" for n in names), f"{fit['r2']:.3f}"])


def _tradeoff_table(data: dict) -> str:
    trade = data["tradeoff"]
    learned = ", ".join(escape_untrusted(n, 80) for n in trade["learned"])
    others = ", ".join(escape_untrusted(n, 80) for n in trade["others"]) or "no other measured capability"
    rows = [f"Gain on {learned} against the mean forgetting of {others}, per checkpoint: the trade-off view "
            "Biderman et al. (2024) use to compare LoRA with full fine-tuning. A better run is higher (learns more) "
            "at less forgetting.", "",
            f"| step | gain ({UNIT_SHOWN[trade['gain_unit']]}) | mean forgetting "
            f"({UNIT_SHOWN.get(trade['forgetting_unit'], '—')}) |", "|---:|---:|---:|"]
    rows += [f"| {s} | {_scaled(g, trade['gain_unit'])} | {_scaled(f, trade['forgetting_unit'])} |"
             for s, g, f in zip(data["steps"], trade["gain"], trade["forgetting"])]
    return "\n".join(rows)


def _checkpoints(data: dict) -> str:
    rows = ["<details>\n<summary>Checkpoints and settings</summary>\n",
            "| step | checkpoint | verdict | report |", "|---:|---|---|---|"]
    for row in data["checkpoints"]:
        rows.append(f"| {row['step']} | {escape_untrusted(row['checkpoint'], 120)} | "
                    f"{VERDICT_EMOJI[row['verdict']]} {row['verdict']} | `{row['report']}/report.md` |")
    settings = ", ".join(f"{k} {escape_untrusted(v, 120) if isinstance(v, str) else v}"
                         for k, v in data["settings"].items())
    rows += ["", f"- {settings}", "\n</details>"]
    return "\n".join(rows)


def write_plot(data: dict, path: str | os.PathLike) -> None:
    """Forgetting over steps per capability with its dashed power-law fit; with a learned skill, the trade-off too."""
    trade = data["tradeoff"]
    figure = Figure(figsize=(12 if trade else 8, 5), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)  # Agg without pyplot, as in report.chart
    if trade:
        curves, tradeoff_axes = figure.subplots(1, 2, width_ratios=[3, 2])
        _draw_tradeoff(tradeoff_axes, data)
    else:
        curves = figure.subplots()
    _draw_curves(curves, data)
    base = data["base"]["spec"][-60:]
    figure.suptitle(f"forgetcheck trajectory: {len(data['steps'])} checkpoints against {base}".replace("$", r"\$"),
                    fontsize=11)
    png = io.BytesIO()
    figure.savefig(png, format="png")
    write_atomic(path, png.getvalue())


def _draw_curves(axes, data: dict) -> None:
    steps = np.asarray([0, *data["steps"]], dtype=float)  # the base is step 0, forgetting 0
    caps = [c for c in data["capabilities"] if not c["learned"] and c["measured"]]
    palette = colormaps["tab10" if len(caps) <= 10 else "tab20"]  # one colour per capability, never repeated
    red = VERDICT_COLOUR["regressed"]
    dense = np.linspace(steps.min(), steps.max(), 200)
    # Fitted curves through noise only clutter the picture: draw them where something regressed.
    fitted = [c for c in caps if c["first_regressed"]] or caps
    for k, cap in enumerate(caps):
        colour, scale = palette(k % palette.N), _number(1.0, cap["unit"])
        values = np.asarray([0.0, *cap["forgetting"]]) * scale
        axes.plot(steps, values, "o-", color=colour, linewidth=2, markersize=6, label=cap["name"].replace("$", r"\$"))
        fit = cap["fits"]["power_law"]
        if fit["fitted"] and cap in fitted:
            axes.plot(dense, [power_law(fit, s) * scale for s in dense], "--", color=colour, linewidth=1.2)
        if cap["first_regressed"]:
            k_first = 1 + data["steps"].index(cap["first_regressed"]["step"])
            axes.plot(steps[k_first], values[k_first], "o", markersize=14, markerfacecolor="none",
                      markeredgecolor=red, markeredgewidth=2, zorder=4)
    axes.axhline(0, color="black", linewidth=0.9)
    axes.axhline(data["settings"]["tolerance"] * 100, color=red, linestyle=":", linewidth=1)
    axes.set_xlabel("training step")
    axes.set_ylabel("forgetting = base − checkpoint (points;\nperplexity: nats/token ×100)")
    axes.set_title("forgetting over training (dashed: fitted power law)", fontsize=10)
    axes.grid(color="#e0e0e0")
    handles, _ = axes.get_legend_handles_labels()
    handles += [Line2D([], [], color="#616161", linestyle="--", label="power-law fit"),
                Line2D([], [], marker="o", linestyle="", markersize=10, markerfacecolor="none",
                       markeredgecolor=red, markeredgewidth=2, label="first regressed"),
                Line2D([], [], color=red, linestyle=":", label="tolerance")]
    axes.legend(handles=handles, fontsize=8, loc="best")


def _draw_tradeoff(axes, data: dict) -> None:
    trade = data["tradeoff"]
    points = [(_number(f, trade["forgetting_unit"]), _number(g, trade["gain_unit"]), s)
              for s, g, f in zip(data["steps"], trade["gain"], trade["forgetting"]) if f is not None]
    if not points:
        axes.axis("off")
        axes.text(0.5, 0.5, "no other measured capability to set against the gain", ha="center", va="center")
        return
    points = [(0.0, 0.0, "base"), *((x, y, f"step {s}") for x, y, s in points)]  # training starts at the origin
    xs, ys, _ = zip(*points)
    axes.plot(xs, ys, "o-", color="#1565c0", linewidth=1.5)
    for x, y, label in points:
        axes.annotate(label, (x, y), xytext=(5, 4), textcoords="offset points", fontsize=8)
    axes.axvline(0, color="black", linewidth=0.9)
    axes.axhline(0, color="black", linewidth=0.9)
    axes.set_xlabel(f"mean forgetting of {len(trade['others'])} other capabilities "
                    f"({UNIT_SHOWN[trade['forgetting_unit']]})")
    axes.set_ylabel(f"gain on {', '.join(trade['learned'])} ({UNIT_SHOWN[trade['gain_unit']]})".replace("$", r"\$"))
    axes.set_title("learning vs forgetting, one point per checkpoint", fontsize=10)
    axes.grid(color="#e0e0e0")
