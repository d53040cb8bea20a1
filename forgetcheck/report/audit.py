"""The probe audit as a terminal table, as Markdown, and as audit.json + audit.md on disk.

Reads only an :class:`~forgetcheck.workflows.audit.Audit`. Capability and floor
names come from a suite file, which may be someone else's: the table drops
control characters and the Markdown escapes them (:func:`escape_untrusted`).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict
from pathlib import Path

from forgetcheck.errors import BadInput
from forgetcheck.report.files import write_atomic
from forgetcheck.report.markdown import escape_untrusted
from forgetcheck.workflows.audit import Audit, CapabilityAudit

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _points(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:+.1f} pt"


def _status(cap: CapabilityAudit) -> str:
    if cap.highest_floor is None:
        return "no floor"
    return "FLAGGED" if cap.flagged else "sound"


def _row(cap: CapabilityAudit, name) -> list[str]:
    """A capability's table cells; ``name`` makes the suite's own text (capability, floor) safe to show."""
    top = cap.highest_floor
    score = _pct(cap.model_score) if top is not None else f"{cap.model_score:.3f}"
    return [name(cap.name), str(cap.n), _pct(cap.chance), f"{_pct(top.score)} {name(top.name)}" if top else "-",
            score, _points(cap.margin), _points(cap.needed_margin), _status(cap)]


def _plain(text: str) -> str:
    return _CONTROL.sub("?", text)


def _markdown(text: str) -> str:
    return escape_untrusted(text, 80)


HEADER = ["capability", "items", "chance", "highest floor", "model", "margin", "needed", "audit"]


def render_audit_text(audit: Audit) -> str:
    """One aligned row per capability, the reasons for each flag, and a summary line."""
    rows = [HEADER] + [_row(cap, _plain) for cap in audit.capabilities]
    widths = [max(len(row[k]) for row in rows) for k in range(len(HEADER))]
    lines = [f"Audit of {_plain(audit.suite)} with {_plain(audit.model)} "
             f"(tolerance {audit.tolerance:.0%}, confidence {audit.confidence:.0%}, random seed {audit.seed})", ""]
    for row in rows:
        lines.append("  ".join(cell.ljust(w) if k in (0, 3, 7) else cell.rjust(w)
                               for k, (cell, w) in enumerate(zip(row, widths))).rstrip())
    for cap in audit.flagged():
        for problem in cap.problems:
            lines.append(f"  {_plain(cap.name)}: {problem}")
    lines.append("")
    lines.append(summary(audit))
    return "\n".join(lines) + "\n"


def summary(audit: Audit) -> str:
    judged = [cap for cap in audit.capabilities if cap.highest_floor is not None]
    flagged = audit.flagged()
    if not flagged:
        return f"every capability with a floor ({len(judged)}) clears it with a margin that can carry a verdict"
    names = ", ".join(_plain(cap.name) for cap in flagged)
    return f"{len(flagged)} of {len(judged)} capabilities flagged: {names}"


def render_audit_markdown(audit: Audit) -> str:
    """The audit as Markdown: the summary table, then every floor of every capability."""
    lines = [f"# Probe audit: {escape_untrusted(audit.suite, 80)} with {escape_untrusted(audit.model, 200)}", "",
             "A floor is what a capability scores with no knowledge of the skill (random weights, the choices "
             "without the question, always the shortest or longest choice, degenerate answers). A capability is "
             "flagged when its highest floor is above chance, or when the model's margin over it is smaller than "
             f"the tolerance ({audit.tolerance:.0%}) plus the half-width of the model's "
             f"{audit.confidence:.0%} interval: then even losing the skill entirely could not show as a regression.",
             "", "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for cap in audit.capabilities:
        lines.append("| " + " | ".join(_row(cap, _markdown)) + " |")
    lines += ["", f"**{escape_untrusted(summary(audit), 2000)}**", "", "## Every floor", ""]
    for cap in audit.capabilities:
        floors = ", ".join(f"{escape_untrusted(f.name, 80)} {_pct(f.score)}" for f in cap.floors) or "none"
        lines.append(f"- **{escape_untrusted(cap.name, 80)}** (model {_pct(cap.model_score) if cap.floors else '-'}): "
                     f"{floors}")
        for problem in cap.problems:
            lines.append(f"  - {escape_untrusted(problem, 300)}")
    return "\n".join(lines) + "\n"


def audit_to_dict(audit: Audit) -> dict:
    data = asdict(audit)
    for cap, raw in zip(audit.capabilities, data["capabilities"]):
        raw["flagged"] = cap.flagged
    return data


def write_audit_folder(audit: Audit, out_dir: str | os.PathLike) -> dict[str, Path]:
    """Write audit.json and audit.md into ``out_dir`` (made if missing), each atomically."""
    folder = Path(out_dir)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(f"--out {out_dir}: cannot create the folder ({exc.strerror or exc}); give a writable folder") from None
    paths = {"json": folder / "audit.json", "markdown": folder / "audit.md"}
    try:
        write_atomic(paths["json"], json.dumps(audit_to_dict(audit), indent=2, ensure_ascii=False) + "\n")
        write_atomic(paths["markdown"], render_audit_markdown(audit))
    except OSError as exc:
        raise BadInput(f"--out {out_dir}: cannot write there ({exc.strerror or exc}); give a writable folder") from None
    return paths
