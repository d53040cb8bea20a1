"""The model-card section: forgetcheck's results in a README, and nothing else changed.

A model card belongs to its authors and to the other tools that write into it, so
``update_card`` changes exactly three things and leaves every other byte alone:

1. **The section between the markers** ``<!-- forgetcheck:start -->`` and
   ``<!-- forgetcheck:end -->``, one per suite (its first line names the suite):
   replaced when the suite has one, appended at the end of the card when not. Markers
   quoted in a code block are not markers.
2. **``model-index`` in the YAML front matter**: this suite's eval results are
   replaced, in place, and everyone else's (other tools', other suites') are kept,
   through ``huggingface_hub``'s ``EvalResult`` and ``eval_results_to_model_index``,
   so the Hub shows them as it shows any card's. Where a capability's items came
   from a real dataset (``CapabilityResult.dataset``) the result names that dataset's
   id, config, split and revision; forgetcheck's own probes are named
   ``forgetcheck/<suite>``. A ``source`` (the report or the workflow run) is given
   when known. forgetcheck's results carry the task name
   ``Forgetting check (forgetcheck, suite NAME)``.
3. **``base_model``**, added when the card has none and the base is a Hub id.

Beside the card, :func:`eval_results_file` gives the newer ``.eval_results/*.yaml``
(huggingface_hub's ``EvalResultEntry``, one file per suite) for the capabilities
whose dataset is on the Hub: the format the Hub's benchmark leaderboards read.

The front matter is edited as text, not re-dumped: only the ``model-index:`` block
(or a new line for ``base_model``) is written, so comments, key order and quoting
elsewhere survive. The result is parsed back and checked against what was meant,
and a card that cannot be edited safely is refused rather than damaged. The card's
own line ending is kept. Running it twice gives a byte-identical card.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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
TASK_NAME = "Forgetting check (forgetcheck, suite {suite})"
_OUR_TASK = re.compile(r"Forgetting check \(forgetcheck, suite (?P<suite>[\w.-]+)\)\Z")
_WRITTEN_BY = ("<!-- Written by `forgetcheck card` from report.json (suite {suite}): edits between these "
               "markers are replaced on the next run. -->")
_SECTION_SUITE = re.compile(r"<!-- Written by `forgetcheck card` from report\.json \(suite (?P<suite>[\w.-]+)\)")
# The same front-matter rule huggingface_hub's ModelCard uses.
_FRONT_MATTER = re.compile(r"^(\s*---(?:\r\n|\r|\n))([\S\s]*?)((?:\r\n|\r|\n)---[ \t]*(\r\n|\n|$))")
_TOP_LEVEL_KEY = re.compile(r"^[^\s#-][^:]*:")
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+\Z")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")


@dataclass(frozen=True)
class Source:
    """Where the card's numbers can be checked: the report or the workflow run that made them.

    >>> Source("https://github.com/acme/model/actions/runs/42", "GitHub Actions run").url
    'https://github.com/acme/model/actions/runs/42'
    """

    url: str
    name: str = "forgetcheck report"


def suite_label(comparison: Comparison) -> str:
    """The suite's name as the card writes it: letters, digits, ``.``, ``_`` and ``-``.

    >>> from types import SimpleNamespace
    >>> suite_label(SimpleNamespace(settings=SimpleNamespace(suites=[{"name": "core quick"}, {"name": "mmlu"}])))
    'core-quick-mmlu'
    """
    suites = comparison.settings.suites
    names = [str(s.get("name") or s.get("suite") or "") for s in suites if isinstance(s, dict)]
    return re.sub(r"[^\w.-]+", "-", "-".join(n for n in names if n) or "custom")


def card_section(comparison: Comparison, *, chart: str | None = None, newline: str = "\n",
                 markdown: str | None = None) -> str:
    """The marked section, markers included; ``chart`` is the image's path beside the card.

    ``markdown``: the section's report instead of the comparison's own (several candidates side by side).
    """
    lines = [
        START,
        _WRITTEN_BY.format(suite=suite_label(comparison)),
        "",
        (markdown or render_markdown(comparison)).rstrip("\n"),
    ]
    if chart:
        lines += ["", f"![forgetcheck: drop per capability, with its confidence interval]({chart})"]
    lines.append(END)
    return newline.join("\n".join(lines).split("\n"))


def update_card(text: str, comparison: Comparison, *, chart: str | None = None,
                model_name: str | None = None, source: str = "README.md", link: Source | None = None,
                markdown: str | None = None) -> str:
    """The card ``text`` with forgetcheck's section and metadata written in.

    ``source`` names the card in error messages; ``link`` is where the results can be
    checked (the model-index ``source``); ``markdown`` replaces the comparison's own
    report in the section (several candidates side by side).
    """
    newline = "\r\n" if "\r\n" in text else "\n"
    match = _FRONT_MATTER.search(text)
    head, block, close, body = ("", None, "", text) if match is None else (
        match.group(1), match.group(2), match.group(3), text[match.end():])
    section = card_section(comparison, chart=chart, newline=newline, markdown=markdown)
    body = _with_section(body, section, suite_label(comparison), source, newline)
    block = _with_metadata(block, comparison, model_name, source, newline, link)
    if block is None:
        return body
    if match is None:
        return f"---{newline}{block}{newline}---{newline}{body}"
    return head + block + close + body


def eval_results(comparison: Comparison, link: Source | None = None) -> list:
    """This suite's results as ``huggingface_hub.EvalResult``s: two metrics per capability.

    A capability from a real dataset names it (id, config, split, revision); one of
    forgetcheck's own probes is named ``forgetcheck/<suite>`` with the capability as
    its config.
    """
    from huggingface_hub import EvalResult

    suite = suite_label(comparison)
    results = []
    for cap in comparison.capabilities:
        common = dict(task_type="text-generation", task_name=TASK_NAME.format(suite=suite), **_dataset_fields(cap, suite))
        if link is not None:
            common.update(source_url=link.url, source_name=link.name)
        metric, value = _candidate_metric(cap)
        results.append(EvalResult(**common, metric_type=metric, metric_value=value,
                                  metric_name=f"{cap.name} {metric}"))
        results.append(EvalResult(**common, metric_type="forgetcheck_drop", metric_value=round(cap.drop, 4),
                                  metric_name=f"{cap.name}: {_drop_words(cap)}"))
    return results


def _dataset_fields(cap: CapabilityResult, suite: str) -> dict:
    dataset = cap.dataset or {}
    if not dataset.get("id"):
        return dict(dataset_type=DATASET_PREFIX + suite, dataset_name=f"forgetcheck {suite}: {cap.name}",
                    dataset_config=cap.name)
    return dict(dataset_type=dataset["id"], dataset_name=dataset["id"], dataset_config=dataset.get("config"),
                dataset_split=dataset.get("split"), dataset_revision=dataset.get("revision"))


def _drop_words(cap: CapabilityResult) -> str:
    unit = "nats/token" if is_perplexity(cap) else "share of items"
    return f"drop vs base ({unit}; positive = forgotten; {cap.verdict})"


def our_suite(result) -> str | None:
    """The suite an ``EvalResult`` was written for by forgetcheck, or None when another tool wrote it.

    Cards written before suites were named carry ``forgetcheck/<suite>`` as the dataset.
    """
    found = _OUR_TASK.match(result.task_name or "")
    if found:
        return found["suite"]
    if result.dataset_type.startswith(DATASET_PREFIX) and (result.task_name or "").startswith("Forgetting check"):
        return result.dataset_type[len(DATASET_PREFIX):]
    return None


def eval_results_path(comparison: Comparison) -> str:
    """Where this suite's ``.eval_results`` file goes, relative to the card."""
    return f".eval_results/forgetcheck-{suite_label(comparison)}.yaml"


def eval_results_file(comparison: Comparison, link: Source | None = None) -> str | None:
    """The ``.eval_results/*.yaml`` text for the capabilities whose dataset is on the Hub (None if none is).

    Written through huggingface_hub's own ``EvalResultEntry`` and
    ``eval_result_entries_to_yaml``: one entry per capability, the candidate's score,
    the dataset's revision, the report's date and source, and in ``notes`` the drop
    against the base with its verdict (the format holds one value per entry).
    """
    from huggingface_hub import EvalResultEntry, eval_result_entries_to_yaml
    from huggingface_hub.utils import yaml_dump

    suite = suite_label(comparison)
    entries = []
    for cap in comparison.capabilities:
        dataset = cap.dataset or {}
        if not _HUB_ID.match(str(dataset.get("id") or "")):
            continue
        where = "/".join(str(dataset[k]) for k in ("config", "split") if dataset.get(k))
        _, value = _candidate_metric(cap)
        entries.append(EvalResultEntry(
            dataset_id=dataset["id"], task_id=dataset.get("task") or dataset.get("config") or cap.name,
            value=value, dataset_revision=dataset.get("revision"), date=comparison.created_at or None,
            source_url=link.url if link else None, source_name=link.name if link else None,
            notes=(f"forgetcheck suite {suite}, capability {cap.name}" + (f" ({where})" if where else "")
                   + f"; {cap.metric}; drop vs base {cap.drop * 100:+.1f} points, {cap.verdict}")))
    if not entries:
        return None
    return yaml_dump(eval_result_entries_to_yaml(entries), sort_keys=False)


def _candidate_metric(cap: CapabilityResult) -> tuple[str, float]:
    perplexity = cap.extra.get("perplexity", {}).get("candidate")
    if is_perplexity(cap) and perplexity is not None:
        return "perplexity", round(perplexity, 4)
    return cap.metric, round(cap.candidate_score, 4)


def _with_section(body: str, section: str, suite: str, source: str, newline: str) -> str:
    """``body`` with this suite's section replaced, or appended when the suite has none yet.

    A section from before sections named their suite is taken over by the first suite
    written, so an old card is updated, not given a second report.
    """
    lines = body.splitlines(keepends=True)
    markers = _marker_lines(lines)
    starts = [i for i in markers if lines[i].strip() == START]
    ends = [i for i in markers if lines[i].strip() == END]
    pairs = list(zip(starts, ends))
    if len(starts) != len(ends) or any(not s < e for s, e in pairs) \
            or any(e > s for (_, e), (s, _) in zip(pairs, pairs[1:])):
        raise BadInput(f"{source}: the forgetcheck section is broken: {_marker_problem(starts, ends)} in the text "
                       f"after the front matter; leave each {START} followed by one {END}, or remove both")
    named = {i: _SECTION_SUITE.match(lines[s + 1].strip()) if s + 1 < len(lines) else None
             for i, (s, _) in enumerate(pairs)}
    mine = [i for i, m in named.items() if m and m["suite"] == suite] or [i for i, m in named.items() if m is None]
    if not mine:
        if not body:
            return section + newline
        gap = "" if body.endswith(("\n", "\r")) else newline
        return body + gap + newline + section + newline
    start, end = pairs[mine[0]]
    end_line = lines[end]
    ending = end_line[len(end_line.rstrip("\r\n")):]
    return "".join(lines[:start]) + section + ending + "".join(lines[end + 1:])


def _marker_problem(starts: list[int], ends: list[int]) -> str:
    if len(starts) != len(ends):
        return f"{len(starts)} start markers and {len(ends)} end markers"
    for s, e in zip(starts, ends):
        if e < s:
            return f"the end marker (line {e + 1}) comes before the start (line {s + 1})"
    return "a section starts inside another"


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
                   newline: str, link: Source | None = None) -> str | None:
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
    name = card_data.model_name or model_name or _model_name(comparison)
    wanted = dict(data)
    results = _replace_suite(card_data.eval_results or [], eval_results(comparison, link), suite_label(comparison))
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


def _replace_suite(existing: list, ours: list, suite: str) -> list:
    """``existing`` with this suite's results replaced by ``ours`` where the first of them was (or at the end)."""
    kept, placed = [], False
    for result in existing:
        if our_suite(result) != suite:
            kept.append(result)
        elif not placed:
            kept += ours
            placed = True
    return kept if placed else kept + ours


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
