"""The terminal table, and the way every renderer writes a score, a drop and an outcome.

``render_text`` is what a person sees at the end of ``forgetcheck compare``: one
aligned row per capability and a summary line, plain text with no colour codes so it
reads the same in a terminal and in a CI log, and fits 100 columns. The small
formatters above it (``score_text``, ``drop_text``, ``outcome_line`` ...) are shared
with the Markdown report and the chart, so no two outputs ever disagree on how a
number is shown. Scores on 0/1 metrics are shown as percentages and drops in points;
perplexity capabilities score the mean log-likelihood per token, so their drop is in
nats/token and their score is shown as the perplexity stored in ``extra``.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from forgetcheck.comparison import (
    CapabilityResult,
    Comparison,
    SubcategoryResult,
    is_perplexity,
    is_proportion,
    overall_verdict,
)

WIDTH = 100
GAP = "  "
NAMES_SHOWN = 6

# Terminal escape sequences (in a capability name, or in any field of a report.json
# someone handed over) must not reach the terminal; nor bidi overrides, which make
# text read differently from what it is.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def score_text(cap: CapabilityResult, side: str, row: SubcategoryResult | None = None) -> str:
    """One side's score as a person reads it; side is ``"base"`` or ``"candidate"``.

    ``row``: a sub-category of ``cap``, shown in ``cap``'s unit.
    """
    of = row or cap
    value = of.base_score if side == "base" else of.candidate_score
    if is_proportion(cap):
        return f"{value * 100:.1f}%"
    if is_perplexity(cap):
        perplexity = cap.extra.get("perplexity", {}).get(side) if row is None else None
        if perplexity is not None:
            return f"ppl {perplexity_text(perplexity)}"
        return f"{value:.3f} nat"
    return f"{value:.3f}"


def perplexity_text(perplexity: float) -> str:
    # Perplexities range from ~2 to thousands; keep about four significant digits.
    if perplexity < 100:
        return f"{perplexity:.2f}"
    if perplexity < 1000:
        return f"{perplexity:.1f}"
    return f"{perplexity:.0f}"


def drop_text(cap: CapabilityResult, nats: str = "nats/token", row: SubcategoryResult | None = None) -> str:
    """The drop and its CI: ``+4.0 pts [+1.2, +6.9]``; ``nats`` names the perplexity unit.

    ``row``: a sub-category of ``cap``, shown in ``cap``'s unit.
    """
    of = row or cap
    if is_proportion(cap):
        return f"{of.drop * 100:+.1f} pts [{of.ci_low * 100:+.1f}, {of.ci_high * 100:+.1f}]"
    unit = f" {nats}" if is_perplexity(cap) else ""
    return f"{of.drop:+.3f}{unit} [{of.ci_low:+.3f}, {of.ci_high:+.3f}]"


def flips_text(result: CapabilityResult | SubcategoryResult) -> str:
    """``forgotten / learned`` item counts; a dash where the metric has no flips."""
    if result.forgotten is None or result.learned is None:
        return "—"
    return f"{result.forgotten} / {result.learned}"


def tolerance_text(comparison: Comparison, nats: str = "nats/token") -> str:
    """The tolerance in the units of the capabilities the run actually has."""
    tolerance = comparison.settings.tolerance
    units = []
    if any(is_proportion(c) for c in comparison.capabilities):
        units.append(f"{tolerance * 100:.1f} pts")
    if any(is_perplexity(c) for c in comparison.capabilities):
        units.append(f"{tolerance:.3f} {nats}")
    return ", ".join(units) if units else f"{tolerance:g}"


def plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def outcome_line(comparison: Comparison, name: Callable[[str], str] = str) -> str:
    """The outcome in one plain sentence; ``name`` formats each capability name.

    >>> from forgetcheck.comparison import ModelInfo, Settings
    >>> outcome_line(Comparison(ModelInfo("b", "hub", "1"), ModelInfo("c", "hub", "2"),
    ...     Settings("bf16", "cpu", 0.02, 0.95), [], "held"))
    'no capabilities were compared'
    """
    regressed = comparison.regressed()
    undecided = comparison.inconclusive()
    at_chance = comparison.at_chance()
    total = len(comparison.capabilities)
    if not total:
        return "no capabilities were compared"
    if len(at_chance) == total:
        return "nothing measured — the base is at chance on every capability"
    if regressed:
        count = plural(len(regressed), "capability", "capabilities")
        return f"{count} regressed ({_names(regressed, name)})"
    if undecided:
        count = plural(len(undecided), "capability", "capabilities")
        return (
            f"inconclusive — nothing regressed, but {count} could not be decided "
            f"({_names(undecided, name)})"
        )
    measured = total - len(at_chance)
    held = f"all {measured} capabilities" if measured > 1 else "1 capability"
    if at_chance:
        held = f"{held} measured"
    return f"nothing regressed ({held} held)"


def _names(names: list[str], name: Callable[[str], str]) -> str:
    shown = ", ".join(name(n) for n in names[:NAMES_SHOWN])
    hidden = len(names) - NAMES_SHOWN
    return shown + (f" and {hidden} more" if hidden > 0 else "")


def verdict_counts(comparison: Comparison, skip: tuple[str, ...] = ()) -> str:
    """``1 regressed · 2 held · 1 inconclusive``, leaving out verdicts nobody got."""
    parts = []
    for verdict in ("regressed", "held", "inconclusive", "at-chance"):
        count = sum(c.verdict == verdict for c in comparison.capabilities)
        if count and verdict not in skip:
            parts.append(f"{count} {verdict}")
    return " · ".join(parts)


def verdict_text(cap: CapabilityResult) -> str:
    """The verdict as the table shows it: REGRESSED shouts, at-chance says why it is there."""
    if cap.verdict == "regressed":
        return "REGRESSED"
    if cap.verdict == "at-chance":
        return "at chance"
    return cap.verdict


def render_text(comparison: Comparison) -> str:
    """The aligned terminal table and a one-line summary; the table fits 100 columns."""
    # The long "forgotten/learned" header goes on two lines so names keep their room.
    header = [
        ("", "", "", "", "", "forgot/", ""),
        ("capability", "n", "base", "candidate", "drop [CI]", "learned", "verdict"),
    ]
    rows = [
        # Every cell filtered, whatever its type: a report.json is not always ours.
        tuple(_CONTROL.sub("?", str(cell)) for cell in (
            cap.name,
            cap.n,
            score_text(cap, "base"),
            score_text(cap, "candidate"),
            drop_text(cap, nats="nat"),
            flips_text(cap),
            verdict_text(cap),
        ))
        for cap in comparison.capabilities
    ]
    columns = len(header[1])
    widths = [max(len(row[i]) for row in [*header, *rows]) for i in range(columns)]
    # Long capability names give way first so the table keeps to 100 columns.
    room = WIDTH - sum(widths[1:]) - len(GAP) * (columns - 1)
    widths[0] = max(min(widths[0], room), len("capability"))
    right_aligned = {1, 2, 3, 5}
    lines = []
    for row in [*header, *rows]:
        cells = []
        for i, cell in enumerate(row):
            cell = _clip(cell, widths[i])
            cells.append(cell.rjust(widths[i]) if i in right_aligned else cell.ljust(widths[i]))
        lines.append(GAP.join(cells).rstrip())
    return "\n".join([*lines, "", *drift_lines(comparison), *audit_lines(comparison), summary_line(comparison)]) + "\n"


def audit_lines(comparison: Comparison) -> list[str]:
    """One note per capability that failed its probe audit: its verdict may not show forgetting."""
    return [_CONTROL.sub("?", f"note: {cap.name} failed its probe audit ({'; '.join(cap.audit_problems)})")
            for cap in comparison.capabilities if cap.audit == "failed"]


def drift_lines(comparison: Comparison) -> list[str]:
    """One line on label-free drift, when the run measured it."""
    if not comparison.label_free:
        return []
    d = comparison.label_free.overall
    return [_CONTROL.sub("?", f"drift on {d.n} base samples: KL {d.kl:.4f} nat/token [{d.kl_ci_low:.4f}, "
                              f"{d.kl_ci_high:.4f}] · log-lik drop {d.logprob_drop:+.4f} nat/token")]


def summary_line(comparison: Comparison) -> str:
    """The last line of the table: outcome, the other verdicts' counts, the tolerance."""
    outcome = outcome_line(comparison)
    if not comparison.capabilities:
        return f"forgetcheck: {outcome}"
    # The outcome already speaks for the capabilities with the overall verdict.
    others = verdict_counts(comparison, skip=(overall_verdict(comparison.capabilities),))
    settings = comparison.settings
    others = others.replace("at-chance", "at chance")
    line = f"forgetcheck: {outcome}" + (f" · {others}" if others else "")
    tolerance = tolerance_text(comparison, nats="nat")
    judged_by = f" · tolerance {tolerance}, {settings.confidence:.0%} CI"
    # The settings are the part a reader can most easily do without.
    if len(line + judged_by) <= WIDTH:
        line += judged_by
    return _CONTROL.sub("?", line)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
