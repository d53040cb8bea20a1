"""How ``forgetcheck drift`` shows weight drift: a terminal table, Markdown and a chart.

Reads only the plain dict that :func:`forgetcheck.workflows.weight_drift.measure` returns.
Module names come from the model's own code or files, so they are escaped like any
other untrusted text in Markdown.
"""

from __future__ import annotations

import io
import os

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from forgetcheck.files import write_atomic
from forgetcheck.report.markdown import escape_untrusted

MEANING = ("A large Fisher-weighted change marks where the fine-tune moved weights the base's own predictions "
           "depend on: the likeliest source of forgetting, and the first place to look or regularise. It is a "
           "risk, not a proof; the probes decide whether anything was forgotten.")


def _fisher(value) -> str:
    return "—" if value is None else f"{value:.3g}"


def render_text(drift: dict, top: int = 10) -> str:
    rows = [("matrix", "layer", "module", "params", "rel. change", "Fisher-weighted")]
    for m in drift["matrices"][:top]:
        rows.append((m["name"][-48:], m["layer"], m["module"], f"{m['params']:,}", f"{m['relative_change']:.4f}",
                     _fisher(m["fisher_change"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) if i < 3 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in rows]
    layers = ", ".join(f"{g['layer']} ({_fisher(g['fisher_change'])})" for g in drift["layers"][:5])
    modules = ", ".join(f"{g['module']} ({_fisher(g['fisher_change'])})" for g in drift["modules"][:5])
    return "\n".join([*lines, "", f"layers most at risk: {layers}", f"module types most at risk: {modules}"]) + "\n"


def render_markdown(drift: dict, top: int = 15) -> str:
    base = escape_untrusted(drift["base"]["spec"], 200)
    cand = escape_untrusted(drift["candidate"]["spec"], 200)
    settings = drift["settings"]
    lines = [f"## forgetcheck drift: where {cand} moved away from {base}", "",
             "| matrix | layer | module | params | relative change ‖ΔW‖/‖W‖ | Fisher-weighted change ΣF·ΔW² |",
             "|---|---|---|---:|---:|---:|"]
    for m in drift["matrices"][:top]:
        lines.append(f"| {escape_untrusted(m['name'], 120)} | {escape_untrusted(m['layer'], 20)} | "
                     f"{escape_untrusted(m['module'], 60)} | {m['params']:,} | {m['relative_change']:.4f} | "
                     f"{_fisher(m['fisher_change'])} |")
    lines += ["", "| layer | matrices | relative change | Fisher-weighted change |", "|---|---:|---:|---:|"]
    for g in drift["layers"]:
        lines.append(f"| {escape_untrusted(g['layer'], 20)} | {g['matrices']} | {g['relative_change']:.4f} | "
                     f"{_fisher(g['fisher_change'])} |")
    lines += ["", MEANING, "",
              f"<sub>Diagonal Fisher from {settings['fisher_samples']} sequences the base sampled itself "
              f"(seed {settings['seed']}, {settings['dtype']}). Relative change is the Frobenius norm of the update "
              "over that of the base weights.</sub>"]
    return "\n".join(lines) + "\n"


def write_chart(drift: dict, path: str | os.PathLike) -> None:
    """Per layer: relative change (left) and Fisher-weighted change (right)."""
    layers = sorted(drift["layers"], key=lambda g: (not g["layer"].isdigit(), int(g["layer"]) if g["layer"].isdigit()
                                                   else 0, g["layer"]))
    names = [g["layer"] for g in layers]
    figure = Figure(figsize=(11, 4), dpi=120, layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2)
    left.bar(names, [g["relative_change"] for g in layers], color="#1565c0")
    left.set_title("relative change ‖ΔW‖/‖W‖ per layer", fontsize=10)
    fisher = [g["fisher_change"] or 0.0 for g in layers]
    right.bar(names, fisher, color="#c62828")
    right.set_title("Fisher-weighted change ΣF·ΔW² per layer (risk to old skills)", fontsize=10)
    for axes in (left, right):
        axes.set_xlabel("layer")
        axes.tick_params(axis="x", labelsize=8)
    figure.suptitle(f"forgetcheck drift: {drift['candidate']['spec'][-60:]}".replace("$", r"\$"), fontsize=11)
    png = io.BytesIO()
    figure.savefig(png, format="png")
    write_atomic(path, png.getvalue())
