"""The model-card section: forgetcheck's results in a README, and nothing else changed.

A model card belongs to its authors and to the other tools that write into it, so
``update_card`` changes exactly three things and leaves every other byte alone:

1. **The section between the markers** ``<!-- forgetcheck:start -->`` and
   ``<!-- forgetcheck:end -->``: replaced when the markers are there, appended at the
   end of the card when they are not. Markers quoted in a code block are not markers.
2. **``model-index`` in the YAML front matter**: forgetcheck's eval results are
   replaced and everyone else's are kept, through ``huggingface_hub``'s ``EvalResult``
   and ``eval_results_to_model_index``, so the Hub shows them as it shows any card's.
   forgetcheck's results are the ones whose dataset type starts with ``forgetcheck/``.
3. **``base_model``**, added when the card has none and the base is a Hub id.

The front matter is edited as text, not re-dumped: only the ``model-index:`` block
(or a new line for ``base_model``) is written, so comments, key order and quoting
elsewhere survive. The result is parsed back and checked against what was meant,
and a card that cannot be edited safely is refused rather than damaged. The card's
own line ending is kept. Running it twice gives a byte-identical card.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from forgetcheck.comparison import CapabilityResult, Comparison
from forgetcheck.errors import BadInput
from forgetcheck.report.markdown import render_markdown
from forgetcheck.report.text import is_perplexity

START = "<!-- forgetcheck:start -->"
END = "<!-- forgetcheck:end -->"
CHART_NAME = "forgetcheck-chart.png"
DATASET_PREFIX = "forgetcheck/"
# The same front-matter rule huggingface_hub's ModelCard uses.
_FRONT_MATTER = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")
_TOP_LEVEL_KEY = re.compile(r"^[^\s#-][^:]*:")
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+\Z")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


def card_section(comparison: Comparison, *, chart: str | None = None, newline: str = "\n",
                 markdown: str | None = None) -> str:
    """The marked section, markers included; ``chart`` is the image's path beside the card.

    ``markdown``: the section's report instead of the comparison's own (several candidates side by side).
    """
    lines = [
        START,
        "<!-- Written by `forgetcheck card` from report.json: edits between these markers are "
        "replaced on the next run. -->",
        "",
        (markdown or render_markdown(comparison)).rstrip("\n"),
    ]
    if chart:
        lines += ["", f"![forgetcheck: drop per capability, with its confidence interval]({chart})"]
    lines.append(END)
    return newline.join("\n".join(lines).split("\n"))


def update_card(text: str, comparison: Comparison, *, chart: str | None = None,
                model_name: str | None = None, source: str = "README.md", markdown: str | None = None) -> str:
    """The card ``text`` with forgetcheck's section and metadata written in."""
    newline = "\r\n" if "\r\n" in text else "\n"
    match = _FRONT_MATTER.search(text)
    head, block, close, body = ("", None, "", text) if match is None else (
        match.group(1), match.group(2), match.group(3), text[match.end():])
    body = _with_section(body, card_section(comparison, chart=chart, newline=newline, markdown=markdown), source, newline)
    block = _with_metadata(block, comparison, model_name, source, newline)
    if block is None:
        return body
    if match is None:
        return f"---{newline}{block}{newline}---{newline}{body}"
    return head + block + close + body


def eval_results(comparison: Comparison) -> list:
    """forgetcheck's results as ``huggingface_hub.EvalResult``s: two metrics per capability."""
    from huggingface_hub import EvalResult

    suites = comparison.settings.suites
    suite = (suites[0].get("name") or suites[0].get("suite")) if suites else None
    suite = re.sub(r"[^\w.-]+", "-", suite or "custom")
    results = []
    for cap in comparison.capabilities:
        common = dict(task_type="text-generation", task_name="Forgetting check (forgetcheck)",
                      dataset_type=DATASET_PREFIX + suite, dataset_name=f"forgetcheck {suite}: {cap.name}",
                      dataset_config=cap.name)
        metric, value = _candidate_metric(cap)
        results.append(EvalResult(**common, metric_type=metric, metric_value=value,
                                  metric_name=f"{cap.name} {metric}"))
        unit = "nats/token" if is_perplexity(cap) else "share of items"
        results.append(EvalResult(**common, metric_type="forgetcheck_drop", metric_value=round(cap.drop, 4),
                                  metric_name=f"drop vs base ({unit}; positive = forgotten; {cap.verdict})"))
    return results


def _candidate_metric(cap: CapabilityResult) -> tuple[str, float]:
    perplexity = cap.extra.get("perplexity", {}).get("candidate")
    if is_perplexity(cap) and perplexity is not None:
        return "perplexity", round(perplexity, 4)
    return cap.metric, round(cap.candidate_score, 4)


def _with_section(body: str, section: str, source: str, newline: str) -> str:
    lines = body.splitlines(keepends=True)
    markers = _marker_lines(lines)
    starts = [i for i in markers if lines[i].strip() == START]
    ends = [i for i in markers if lines[i].strip() == END]
    if not starts and not ends:
        if not body:
            return section + newline
        gap = "" if body.endswith(("\n", "\r")) else newline
        return body + gap + newline + section + newline
    if len(starts) == 1 and len(ends) == 1 and starts[0] < ends[0]:
        end_line = lines[ends[0]]
        ending = end_line[len(end_line.rstrip("\r\n")):]
        return "".join(lines[:starts[0]]) + section + ending + "".join(lines[ends[0] + 1:])
    if len(starts) != 1:
        problem = f"{len(starts)} start markers"
    elif len(ends) != 1:
        problem = f"{len(ends)} end markers"
    else:
        problem = f"the end marker (line {ends[0] + 1}) comes before the start (line {starts[0] + 1})"
    raise BadInput(f"{source}: the forgetcheck section is broken: {problem} in the text after the front matter; "
                   f"leave exactly one {START} followed by one {END}, or remove both")


def _marker_lines(lines: list[str]) -> list[int]:
    r"""Indexes of the lines that may be markers: not inside a fenced code block, not indented as code.

    A card that shows how to use forgetcheck quotes the markers in a code fence;
    those are text, and treating them as markers would replace the example or
    refuse the card ("2 start markers").

    >>> _marker_lines(["```md\n", "<!-- forgetcheck:start -->\n", "```\n", "<!-- forgetcheck:start -->\n"])
    [3]
    """
    found, fence = [], None
    for i, line in enumerate(lines):
        opening = _FENCE.match(line)
        if fence is None:
            if opening:
                fence = opening.group(1)
            elif len(line) - len(line.lstrip(" ")) < 4:
                found.append(i)
        # CommonMark: a fence closes on the same character, at least as long, with nothing after it.
        elif opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence) \
                and not line.strip().lstrip(fence[0]):
            fence = None
    return found


def _with_metadata(block: str | None, comparison: Comparison, model_name: str | None, source: str,
                   newline: str) -> str | None:
    """The front matter with forgetcheck's eval results and base_model; None if there is none to write."""
    from huggingface_hub import ModelCardData
    from huggingface_hub.repocard_data import eval_results_to_model_index

    try:
        data = yaml.safe_load(block) if block else {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (front matter line {mark.line + 2})" if mark else ""
        raise BadInput(f"{source}: the YAML front matter cannot be read{where}; fix it and run again") from None
    data = data or {}
    if not isinstance(data, dict):
        raise BadInput(f"{source}: the YAML front matter is not a mapping of keys; fix it and run again")
    try:
        card_data = ModelCardData(**{k: v for k, v in data.items() if k != "eval_results"})
    except (ValueError, TypeError) as exc:
        raise BadInput(f"{source}: its model-index cannot be read ({' '.join(str(exc).split())[:200]}); "
                       "fix it and run again") from None
    theirs = [r for r in card_data.eval_results or [] if not r.dataset_type.startswith(DATASET_PREFIX)]
    name = card_data.model_name or model_name or _model_name(comparison)
    wanted = dict(data)
    results = theirs + eval_results(comparison)
    if results:
        wanted["model-index"] = eval_results_to_model_index(name, results)
    base = comparison.base.spec.partition("@")[0]
    if "base_model" not in data and comparison.base.source == "hub" and _HUB_ID.match(base):
        wanted["base_model"] = base
    if wanted == data:
        return block
    lines = (block or "").splitlines() if block else []
    lines = _replace_key(lines, "model-index", wanted.get("model-index"), "model-index" in data)
    if "base_model" in wanted and "base_model" not in data:
        lines.append(f"base_model: {_dump_scalar(wanted['base_model'])}")
    new_block = newline.join(lines)
    if yaml.safe_load(new_block) != wanted:
        raise BadInput(f"{source}: the front matter could not be updated without touching other keys "
                       "(unusual YAML around model-index?); move model-index to its own block and run again")
    return new_block


def _replace_key(lines: list[str], key: str, value: Any, present: bool) -> list[str]:
    """``lines`` with the top-level ``key`` block written anew (or appended)."""
    if value is None:
        return lines
    from huggingface_hub.utils import yaml_dump

    new = yaml_dump({key: value}, sort_keys=False).rstrip("\n").split("\n")
    if not present:
        return lines + new
    start = next((i for i, line in enumerate(lines) if re.match(rf"{re.escape(key)}\s*:", line)), None)
    if start is None:  # written in a form this editor does not handle; the caller's check refuses it
        return lines
    end = start + 1
    while end < len(lines) and not _TOP_LEVEL_KEY.match(lines[end]) and lines[end].strip() != "---":
        end += 1
    # Comments and blank lines just before the next key belong to that key.
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return lines[:start] + new + lines[end:]


def _dump_scalar(value: str) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def _model_name(comparison: Comparison) -> str:
    spec = comparison.candidate.spec.partition("@")[0].rstrip("/")
    return Path(spec).name or "model"
