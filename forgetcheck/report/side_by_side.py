"""Several candidates against one base, side by side: one column per candidate.

A several-candidate run (``forgetcheck compare BASE CAND1 CAND2 …``) writes each
candidate's full report in its own folder, ``OUT/<label>/``, and at the top of
``OUT`` a ``report.md`` with the table rendered here (also the pull-request comment
and the model-card section for the run) and ``candidates.json``, the index
:func:`read_candidates` reads the run back from. The terminal shows
:func:`render_side_by_side_text`.

Each cell is the drop (base − candidate) with its confidence interval and the
verdict, in the units the single report uses (the formatters of
:mod:`forgetcheck.report.text`). Labels and specs are untrusted like any other text
in a report: in Markdown they go through ``escape_untrusted``, in the terminal
through the control-character filter, and a label read back from ``candidates.json``
must be a plain folder name inside ``OUT``.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from forgetcheck.comparison import CapabilityResult, Comparison, overall_verdict
from forgetcheck.errors import BadInput
from forgetcheck.report.markdown import VERDICT_EMOJI, _name, escape_untrusted
from forgetcheck.report.text import _CONTROL, drop_text, outcome_line, score_text, verdict_text

INDEX = "candidates.json"
INDEX_SCHEMA = 1
# What a label may be when read back: a plain folder name, never a path.
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,79}\Z")


def worst(comparisons: dict[str, Comparison]) -> str:
    """The run's verdict: the worst candidate's (regressed, then inconclusive, then held).

    >>> from forgetcheck.comparison import ModelInfo, Settings
    >>> def run(verdict):
    ...     return Comparison(ModelInfo("b", "hub", "1"), ModelInfo("c", "hub", "2"),
    ...                       Settings("f32", "cpu", 0.02, 0.95), [], verdict)
    >>> worst({"a": run("held"), "b": run("inconclusive")})
    'inconclusive'
    """
    # A run's verdict ranks candidates as a comparison's ranks capabilities.
    return overall_verdict(list(comparisons.values()))


def _rows(comparisons: dict[str, Comparison]) -> list[tuple[CapabilityResult, list[CapabilityResult | None]]]:
    """Each capability (in the first candidate's order) with its result per candidate (None where absent)."""
    by_name = [{cap.name: cap for cap in c.capabilities} for c in comparisons.values()]
    names = list(dict.fromkeys(cap.name for c in comparisons.values() for cap in c.capabilities))
    rows = []
    for name in names:
        results = [caps.get(name) for caps in by_name]
        rows.append((next(r for r in results if r is not None), results))
    return rows


def _tests(comparisons: dict[str, Comparison]) -> int:
    return sum(len(c.capabilities) for c in comparisons.values())


def render_side_by_side_markdown(comparisons: dict[str, Comparison], links: bool = True) -> str:
    """The run's Markdown report: the outcome, one column per candidate, and a line per candidate.

    ``links``: link each candidate's own report.md, beside this one in the report folder
    (not in a comment or a card, where those paths lead nowhere).
    """
    first = next(iter(comparisons.values()))
    verdict = worst(comparisons)
    regressed = [label for label, c in comparisons.items() if c.verdict == "regressed"]
    count = len(comparisons)
    if regressed:
        outcome = f"{len(regressed)} of {count} candidates regressed ({', '.join(map(_label, regressed))})"
    elif verdict == "inconclusive":
        outcome = f"nothing regressed, but not every one of the {count} candidates could be decided"
    else:
        outcome = f"nothing regressed in any of the {count} candidates"
    lines = [
        f"## {VERDICT_EMOJI[verdict]} forgetcheck: {outcome}",
        "",
        f"{count} candidates against base **{escape_untrusted(first.base.spec, limit=120)}**, side by side.",
        "",
        "| capability | n | base | " + " | ".join(_label(label) for label in comparisons) + " |",
        "|---|---:|---:|" + "---|" * count,
    ]
    for cap, results in _rows(comparisons):
        cells = [f"**{_name(cap.name)}**", escape_untrusted(str(cap.n), limit=20), score_text(cap, "base")]
        cells += [_cell(r) for r in results]
        lines.append("| " + " | ".join(cells) + " |")
    settings = first.settings
    lines += [
        "",
        f"<sub>each cell: drop = base − candidate (positive = forgotten) with its {settings.confidence:.0%} paired "
        f"CI, then the verdict · **regressed**: significant after Holm correction across all {_tests(comparisons)} "
        "capability × candidate tests and the drop is above the tolerance · **held**: the CI's upper end is below "
        "the tolerance · otherwise **inconclusive**.</sub>",
        "",
        "| candidate | model | verdict | outcome |" + (" full report |" if links else ""),
        "|---|---|---|---|" + ("---|" if links else ""),
    ]
    for label, c in comparisons.items():
        row = (f"| {_label(label)} | {escape_untrusted(c.candidate.spec, limit=120)} | "
               f"{VERDICT_EMOJI[c.verdict]} {escape_untrusted(c.verdict, limit=20)} | {outcome_line(c, name=_name)} |")
        if links:
            row += f" [{_label(label)}/report.md]({label}/report.md) |" if _LABEL.match(label) else " — |"
        lines.append(row)
    return "\n".join(lines) + "\n"


def _label(label: str) -> str:
    return escape_untrusted(label, limit=60)


def _cell(cap: CapabilityResult | None) -> str:
    if cap is None:
        return "—"
    return f"{drop_text(cap)} {VERDICT_EMOJI[cap.verdict]} {escape_untrusted(cap.verdict.replace('-', ' '), limit=20)}"


def render_side_by_side_text(comparisons: dict[str, Comparison]) -> str:
    """The terminal table: a row per capability, a column per candidate (drop [CI] and verdict), a line each."""
    header = ["capability", "n", "base", *comparisons]
    rows = []
    for cap, results in _rows(comparisons):
        cells = [cap.name, str(cap.n), score_text(cap, "base")]
        cells += ["—" if r is None else f"{drop_text(r, nats='nat')} {verdict_text(r)}" for r in results]
        rows.append(cells)
    table = [[_CONTROL.sub("?", str(cell)) for cell in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    widths[0] = min(widths[0], 28)
    lines = []
    for row in table:
        cells = [(cell if len(cell) <= widths[i] else cell[: widths[i] - 1] + "…") for i, cell in enumerate(row)]
        lines.append("  ".join(c.rjust(widths[i]) if i in (1, 2) else c.ljust(widths[i])
                               for i, c in enumerate(cells)).rstrip())
    lines.append("")
    for label, c in comparisons.items():
        lines.append(_CONTROL.sub("?", f"{label}: {outcome_line(c)}"))
    first = next(iter(comparisons.values()))
    lines.append(f"forgetcheck: {worst(comparisons)} (the worst of {len(comparisons)} candidates) · Holm across "
                 f"{_tests(comparisons)} capability × candidate tests · {first.settings.confidence:.0%} CI")
    return "\n".join(lines) + "\n"


def candidates_index(comparisons: dict[str, Comparison]) -> str:
    """``candidates.json``: which folder holds which candidate, in the run's order."""
    first = next(iter(comparisons.values()))
    return json.dumps({"schema_version": INDEX_SCHEMA, "base": first.base.spec,
                       "candidates": [{"label": label, "spec": c.candidate.spec, "verdict": c.verdict}
                                      for label, c in comparisons.items()]}, indent=2, ensure_ascii=False) + "\n"


def is_several(path: str | os.PathLike) -> bool:
    """Is ``path`` the folder of a several-candidate run (an index and no single report.json)?"""
    path = Path(path)
    return path.is_dir() and (path / INDEX).is_file() and not (path / "report.json").exists()


def read_candidates(folder: str | os.PathLike) -> dict[str, Comparison]:
    """A several-candidate run read back from its folder; the index is untrusted, so every label is checked."""
    from forgetcheck.report.files import read_report

    folder = Path(folder)
    index = folder / INDEX
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BadInput(f"{index}: not a readable forgetcheck index ({exc})") from None
    entries = data.get("candidates") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries or len(entries) > 1000:
        raise BadInput(f"{index}: candidates: expected a list of candidates")
    comparisons = {}
    for k, entry in enumerate(entries):
        label = entry.get("label") if isinstance(entry, dict) else None
        if not isinstance(label, str) or not _LABEL.match(label) or label in comparisons:
            raise BadInput(f"{index}: candidates[{k}].label: expected a plain, unique folder name, got {label!r:.80}")
        comparisons[label] = read_report(folder / label / "report.json")
    return comparisons


def read_run(path: str | os.PathLike) -> dict[str, Comparison]:
    """What a saved run holds: a several-candidate run's folder (by label), else one report under the label ``""``."""
    from forgetcheck.report.files import read_report

    return read_candidates(path) if is_several(path) else {"": read_report(path)}


def card_report(path: str | os.PathLike, model_name: str, chosen: str | None = None) -> tuple[Comparison, str | None]:
    """What a model card gets from a saved run: the comparison whose results go in its model-index, and for a
    several-candidate run the side-by-side section (None: the comparison's own report).

    A card describes one model: ``chosen`` (``--candidate``), else the candidate
    labelled with the card's model name (its folder, or its Hub repo's name).
    """
    comparisons = read_run(path)
    if list(comparisons) == [""]:
        if chosen is not None:
            raise BadInput(f"--candidate {chosen!r}: {path} holds one comparison; --candidate is for the folder of "
                           "a run with several candidates")
        return comparisons[""], None
    label = chosen if chosen is not None else model_name
    if label not in comparisons:
        names = ", ".join(comparisons)
        if chosen is not None:
            raise BadInput(f"--candidate {chosen!r}: not a candidate of this run (it has: {names})")
        raise BadInput(f"this run compared several candidates ({names}) and none is named {model_name!r} like "
                       "this card's model; pass --candidate LABEL to say which one the card describes")
    return comparisons[label], render_side_by_side_markdown(comparisons, links=False)
