"""The Markdown report: what a person reads in a pull request comment.

It opens with the outcome in one plain line, then a table with one row per
capability (scores, the drop with its confidence interval, forgotten/learned counts,
verdict), a line saying what the verdicts mean, notes and warnings, and two
collapsed sections: the most telling forgotten items and the run's settings.

Prompts, expected answers, model answers and model specs are untrusted: a
fine-tune can answer with ``</details>``, a ``<script>`` tag, a table pipe or an
``@mention`` that would ping a stranger from a PR comment. And a report.json handed
over by a pull request is untrusted in every field. Every text goes through
:func:`escape_untrusted` (names through :func:`_name`), counts too, whatever their
declared type; numbers appear only through format codes (``:.1f``), which accept
nothing but a number. So nothing in a report can change the document's structure.
"""

from __future__ import annotations

import dataclasses
import math
import re

from forgetcheck.comparison import (
    Comparison,
    Counts,
    ItemResult,
    ModelInfo,
    is_perplexity,
    is_proportion,
    overall_verdict,
)
from forgetcheck.report.text import (
    drop_text,
    flips_text,
    outcome_line,
    plural,
    score_text,
    tolerance_text,
    verdict_counts,
)

VERDICT_EMOJI = {"regressed": "❌", "held": "✅", "inconclusive": "⚠️", "at-chance": "⚪"}
ITEMS_SHOWN = 5
PROMPT_LIMIT = 300
ANSWER_LIMIT = 200
HASH_SHOWN = 12
# GitHub refuses comments over 65,536 characters; escaped answers for 20 capabilities
# could pass that, so the item samples stop here and samples.jsonl has the rest.
ITEMS_BUDGET = 40_000

_LINE_BREAKS = re.compile(r"[ \t]*(?:\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029])+[ \t]*")
# Control characters and bidi overrides: invisible, and the latter can make the text
# read differently from what it is ("Trojan Source").
_INVISIBLE = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_MARKDOWN_SPECIALS = re.compile(r"[\\`*_{}\[\]()#+\-!|~$]")
# A zero-width space after "@" stops GitHub's @mentions (and email autolinks); inside
# "://" and after "www" it stops bare URLs becoming links.
_LINK_TRIGGERS = re.compile(r"(?<=@)|(?<=:)(?=//)|(?<=www)(?=\.)", re.IGNORECASE)
_ORDERED_LIST_START = re.compile(r"\A(\d{1,9})\.")
_SAFE_NAME = re.compile(r"[A-Za-z0-9]+(?:[._/-][A-Za-z0-9]+)*\Z")


def escape_untrusted(text: str, limit: int = 300) -> str:
    """Make ``text`` inert in Markdown and HTML: readable, but unable to add structure.

    Safe in a table cell, a list item, a heading or a paragraph (not in a code span
    or an HTML attribute). ``limit`` counts the characters shown, before escaping.

    >>> escape_untrusted("</details> @octocat | *x*")
    '&lt;/details&gt; @&#8203;octocat \\\\| \\\\*x\\\\*'
    >>> escape_untrusted("line one\\nline two")
    'line one ⏎ line two'
    """
    text = _LINE_BREAKS.sub(" ⏎ ", str(text))
    # Leading spaces would make an indented code block where the text starts a line.
    text = _INVISIBLE.sub("", text.replace("\t", " ")).strip()
    if len(text) > limit:
        text = text[: max(limit - 1, 0)] + "…"
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MARKDOWN_SPECIALS.sub(r"\\\g<0>", text)
    text = _ORDERED_LIST_START.sub(r"\1\\.", text)
    # Last, so the "#" of the inserted entity is not itself escaped.
    return _LINK_TRIGGERS.sub("&#8203;", text)


def _name(name: str) -> str:
    """A capability, kind or metric name: as written when plainly safe, else escaped."""
    name = str(name)
    return name if _SAFE_NAME.match(name) else escape_untrusted(name, limit=80)


def _plain(value: object, grouped: bool = False) -> str:
    """A count or other short field, escaped like text whatever its type (digits stay as they are).

    ``grouped`` writes an integer with thousands separators (``1,200``).

    >>> _plain(1200, grouped=True), _plain("@everyone")
    ('1,200', '@&#8203;everyone')
    """
    text = f"{value:,}" if grouped and type(value) is int else str(value)
    return escape_untrusted(text, limit=40)


def render_markdown(comparison: Comparison) -> str:
    """The whole report as one Markdown string, ready to post on a pull request."""
    sections = [
        _headline(comparison),
        _table(comparison),
        _notes(comparison),
        _drift(comparison),
        _chance_adjusted(comparison),
        _breakdown(comparison),
        _by_difficulty(comparison),
        _forgotten_items(comparison),
        _settings(comparison),
        _next_step(comparison),
    ]
    return "\n\n".join(section for section in sections if section) + "\n"


def _headline(comparison: Comparison) -> str:
    if not comparison.capabilities:
        emoji = VERDICT_EMOJI["inconclusive"]
    else:
        emoji = VERDICT_EMOJI[overall_verdict(comparison.capabilities)]
    title = f"## {emoji} forgetcheck: {outcome_line(comparison, name=_name)}"
    candidate = escape_untrusted(comparison.candidate.spec, limit=120)
    base = escape_untrusted(comparison.base.spec, limit=120)
    subtitle = f"Candidate **{candidate}** against base **{base}**"
    if comparison.capabilities:
        count = plural(len(comparison.capabilities), "capability", "capabilities")
        subtitle += f" on {count}: {verdict_counts(comparison)}."
    return f"{title}\n\n{subtitle}"


def _table(comparison: Comparison) -> str:
    if not comparison.capabilities:
        return ""
    rows = [
        "| capability | kind / metric | n | base | candidate | drop [CI] "
        "| forgotten / learned | verdict |",
        "|---|---|---:|---:|---:|---|---:|---|",
    ]
    for cap in comparison.capabilities:
        cells = [
            f"**{_name(cap.name)}**",
            f"{_name(cap.kind)} / {_name(cap.metric)}",
            _plain(cap.n),
            score_text(cap, "base"),
            score_text(cap, "candidate"),
            drop_text(cap),
            _plain(flips_text(cap)),
            f"{VERDICT_EMOJI[cap.verdict]} {_plain(cap.verdict.replace('-', ' '))}",
        ]
        rows.append("| " + " | ".join(cells) + " |")
    settings = comparison.settings
    rows.append("")
    rows.append(
        f"<sub>drop = base − candidate (positive = forgotten), with its "
        f"{settings.confidence:.0%} paired CI · **held**: the CI's upper end is below the "
        f"tolerance ({tolerance_text(comparison)}) · **regressed**: significant after Holm "
        f"correction across capabilities and the drop is above the tolerance · otherwise "
        f"**inconclusive** · **at chance**: the base does no better than guessing, so "
        f"nothing can be forgotten there.{_units_note(comparison)}</sub>"
    )
    return "\n".join(rows)


def _units_note(comparison: Comparison) -> str:
    if not any(is_perplexity(c) for c in comparison.capabilities):
        return ""
    return (
        " Perplexity capabilities show perplexity as the score; their drop is in mean "
        "log-likelihood, nats/token."
    )


def _notes(comparison: Comparison) -> str:
    notes = []
    for cap in comparison.capabilities:
        if cap.verdict == "inconclusive":
            decide = _what_would_decide(cap, comparison)
            notes.append(
                f"- ⚠️ **{_name(cap.name)}** is inconclusive with {_plain(cap.n, grouped=True)} items: {decide}."
            )

        if cap.diagnosis and cap.forgotten:
            notes.append(f"- **{_name(cap.name)}**, forgotten answers: {escape_untrusted(cap.diagnosis, limit=300)}.")
        if cap.verdict == "at-chance":
            notes.append(
                f"- ⚪ **{_name(cap.name)}** measures nothing for this base: "
                f"{escape_untrusted(cap.at_chance or 'the base is at chance', limit=300)}. "
                "It is not counted as held."
            )
        if cap.note:
            notes.append(f"- **{_name(cap.name)}**: {escape_untrusted(cap.note, limit=500)}")
    power = [f"{_name(c.name)} {_amount(c, c.detectable_drop)}" for c in comparison.capabilities
             if c.verdict in ("held", "inconclusive") and c.detectable_drop is not None]
    if power:
        # "Held" is only as strong as the test behind it.
        notes.append("- Smallest drop this run could detect (80% power): " + " · ".join(power) + ".")
    notes += [f"- ⚠️ {escape_untrusted(warning, limit=500)}" for warning in comparison.warnings]
    return "**Notes**\n\n" + "\n".join(notes) if notes else ""


# Beyond this many times the items a run has, "N items would decide it" is no advice anyone can follow.
ITEMS_WORTH_NAMING = 20


def _what_would_decide(cap, comparison: Comparison) -> str:
    """What would turn an inconclusive verdict into one, as advice a person can act on."""
    if cap.items_needed and cap.items_needed <= ITEMS_WORTH_NAMING * max(cap.n, 1):
        return f"about {_plain(cap.items_needed, grouped=True)} items would decide it"
    if cap.items_needed:
        # Tens of thousands of items is no advice: the drop sits near the tolerance, or the answers flip a lot.
        return (f"more items alone will not settle it (it would take over {ITEMS_WORTH_NAMING} times as many); if a "
                f"drop of {tolerance_text(comparison)} does not matter to you, widen --tolerance")
    return "more items are needed to decide it"


def _next_step(comparison: Comparison) -> str:
    """One paragraph on what to do now, from the verdicts: the report's last word."""
    caps = comparison.capabilities
    if not caps:
        return ""
    regressed = [_name(c.name) for c in caps if c.verdict == "regressed"]
    inconclusive = [c for c in caps if c.verdict == "inconclusive"]
    if regressed:
        step = (f"look through what {', '.join(regressed)} forgot (report.html, filtered to forgotten items). "
                "Answers that are right but in another form are lost format, not lost knowledge. To keep the "
                "skill: lower the learning rate or train fewer steps, train a LoRA adapter rather than every "
                "weight, or mix the base's own answers into the training data "
                "(forgetcheck replay BASE --report report.json), then compare again.")
    elif inconclusive:
        smallest = min(inconclusive, key=lambda c: c.n)
        step = (f"{plural(len(inconclusive), 'capability is', 'capabilities are')} undecided with as few as "
                f"{_plain(smallest.n, grouped=True)} items: run the full suite (--suite core, about 250 items "
                "each) or your own larger one, or widen --tolerance if a smaller drop does not matter to you.")
    elif any(c.verdict == "held" for c in caps):
        step = (f"nothing measurable was forgotten at a tolerance of {tolerance_text(comparison)}. Keep this check "
                "on every pull request that changes the weights (the forgetcheck GitHub Action).")
    else:
        step = ("the base scores at chance on every capability here, so this suite cannot show forgetting for "
                "this model: use probes the base can answer.")
    return f"**Next step:** {step}"


def _drift(comparison: Comparison) -> str:
    """Label-free drift on the base's own samples, and perplexity ratios on reference text."""
    lines = []
    drift = comparison.label_free
    if drift:
        lines += [
            "| prompt group | samples | KL(base ‖ candidate), nats/token | log-likelihood drop, nats/token |",
            "|---|---:|---:|---:|",
        ]
        for group in [drift.overall, *drift.groups]:
            name = "**all**" if group is drift.overall else _name(group.name)
            lines.append(
                f"| {name} | {_plain(group.n)} | {group.kl:.4f} [{group.kl_ci_low:.4f}, {group.kl_ci_high:.4f}] "
                f"| {group.logprob_drop:+.4f} [{group.logprob_drop_ci_low:+.4f}, "
                f"{group.logprob_drop_ci_high:+.4f}] |"
            )
        lines += ["", (
            f"<sub>{_plain(drift.overall.n)} sequences sampled from the base (temperature "
            f"{drift.temperature:g}, seed {_plain(drift.seed)}), scored under both models: no labels "
            "needed, and it sees what the probes do not ask. 0 means the candidate predicts the base's own text "
            "exactly as the base does.</sub>")]
    ratios = [
        f"- **{_name(cap.name)}**: perplexity ×{math.exp(cap.drop):.3f} "
        f"[×{math.exp(cap.ci_low):.3f}, ×{math.exp(cap.ci_high):.3f}]"
        for cap in comparison.capabilities if is_perplexity(cap)
    ]
    if ratios:
        # exp(drop) is the geometric mean of each text's perplexity ratio, which is what the paired interval
        # is about; the table's perplexities pool every token, and the two differ when texts differ in length.
        lines += ["", "Perplexity drift on reference text (candidate / base, the geometric mean over texts):", "",
                  *ratios]
    if not lines:
        return ""
    return "#### Drift without labels\n\n" + "\n".join(lines).strip()


def _chance_adjusted(comparison: Comparison) -> str:
    """Harmon et al.'s chance-adjusted forgetting (F) and backward transfer (BT) per k-option capability."""
    rows = []
    for cap in comparison.capabilities:
        a = cap.chance_adjusted
        if not a:
            continue
        rows.append("| " + " | ".join([
            _name(cap.name), _pct(cap.chance), _pct(a.forgetting), _pct(a.forgetting_chance),
            f"**{_pct(a.forgetting_true)}**", _pct(a.forgetting_max), _pct(a.backward_transfer),
            _pct(a.backward_transfer_chance), f"**{_pct(a.backward_transfer_true)}**",
        ]) + " |")
    if not rows:
        return ""
    head = [
        "| capability | chance | F raw | F by chance | F true | F max | BT raw | BT by chance | BT true |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    note = (
        "<sub>F = share of items right before and wrong after, BT = wrong before and right after. "
        "Part of both is luck: under \"each item is known or guessed among k options\", guessing explains "
        "F by chance = (1−a_pre)/(k−1)·(1−a_post); F true is the rest. F max = (k·a_pre−1)/(k−1) is the "
        "most that could be forgotten (Harmon et al. 2025, arXiv 2510.17776).</sub>"
    )
    return ("<details>\n<summary>Chance-adjusted forgetting</summary>\n\n" + "\n".join(head + rows)
            + "\n\n" + note + "\n\n</details>")


def _breakdown(comparison: Comparison) -> str:
    """The drop per sub-category, for capabilities that have them."""
    rows = []
    for cap in comparison.capabilities:
        for sub in cap.subcategories:
            rows.append("| " + " | ".join([
                _name(cap.name), escape_untrusted(sub.name, limit=60), _plain(sub.n),
                score_text(cap, "base", row=sub), score_text(cap, "candidate", row=sub), drop_text(cap, row=sub),
                _plain(flips_text(sub)),
            ]) + " |")
    if not rows:
        return ""
    head = [
        "| capability | sub-category | n | base | candidate | drop [CI] | forgotten / learned |",
        "|---|---|---:|---:|---:|---|---:|",
    ]
    note = ("<sub>A breakdown to read, not a test: sub-categories are small and not corrected for "
            "multiple comparisons, so only the capability rows above carry a verdict.</sub>")
    return ("<details>\n<summary>By sub-category</summary>\n\n" + "\n".join(head + rows) + "\n\n" + note
            + "\n\n</details>")


def _by_difficulty(comparison: Comparison) -> str:
    """Base → candidate and the drop per item difficulty, one row a capability: easy items at the
    ceiling hide a loss that the hard ones show."""
    caps = [cap for cap in comparison.capabilities if cap.difficulties]
    if not caps:
        return ""
    names = list(dict.fromkeys(row.name for cap in caps for row in cap.difficulties))
    rows = []
    for cap in caps:
        cells = {row.name: (f"{score_text(cap, 'base', row=row)} → {score_text(cap, 'candidate', row=row)}, "
                            f"{drop_text(cap, row=row).split(' [')[0]} (n={row.n})") for row in cap.difficulties}
        rows.append("| " + " | ".join([_name(cap.name)] + [cells.get(name, "—") for name in names]) + " |")
    head = ["| capability | " + " | ".join(escape_untrusted(name, limit=30) for name in names) + " |",
            "|---|" + "---:|" * len(names)]
    note = ("<sub>Base → candidate and the drop, per item difficulty as the suite records it; a breakdown "
            "to read like the sub-categories, not a test.</sub>")
    return ("<details>\n<summary>By difficulty</summary>\n\n" + "\n".join(head + rows) + "\n\n" + note
            + "\n\n</details>")


def _amount(cap, value: float) -> str:
    """A drop in the capability's unit: points for shares of items, nats/token for perplexity."""
    if is_proportion(cap):
        return f"{value * 100:.1f} pts"
    return f"{value:.3f} nats/token" if is_perplexity(cap) else f"{value:.3f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _forgotten_items(comparison: Comparison) -> str:
    sections = []
    size = 0
    for cap in comparison.capabilities:
        if size > ITEMS_BUDGET:
            sections.append("More forgotten items are in samples.jsonl.")
            break
        forgotten = [
            i for i in comparison.items if i.capability == cap.name and i.flip == "forgotten"
        ]
        if not forgotten:
            continue
        # For partial-credit metrics the biggest fall tells most; sorted() keeps run
        # order among equals, so 0/1 metrics show the first forgotten items.
        forgotten = sorted(forgotten, key=lambda i: i.candidate_score - i.base_score)
        shown = forgotten[:ITEMS_SHOWN]
        heading = f"#### {_name(cap.name)}: {plural(len(forgotten), 'item', 'items')} forgotten"
        if len(shown) < len(forgotten):
            heading += f", first {len(shown)} shown"
        sections.append(heading + "\n\n" + "\n".join(_item(i) for i in shown))
        size += len(sections[-1])
    if not sections:
        return ""
    body = "\n\n".join(sections)
    return f"<details>\n<summary>Most telling forgotten items</summary>\n\n{body}\n\n</details>"


def _item(item: ItemResult) -> str:
    label = f"**{escape_untrusted(item.item_id, limit=80)}**"
    if item.subcategory:
        label += f" ({escape_untrusted(item.subcategory, limit=80)})"
    if item.forgetting:
        label += f" · {escape_untrusted(item.forgetting, limit=40)}"
    prompt = item.prompt
    # Few-shot prompts put the actual question last, so keep the end of a long one.
    if prompt and len(prompt) > PROMPT_LIMIT:
        prompt = "…" + prompt[-(PROMPT_LIMIT - 1):]
    return "\n".join([
        f"- {label}",
        f"  - prompt: {_answer(prompt, PROMPT_LIMIT)}",
        f"  - expected: {_answer(item.expected)}",
        f"  - base answered: {_answer(item.base_answer)}",
        f"  - candidate answered: {_answer(item.candidate_answer)}",
    ])


def _answer(text: str | None, limit: int = ANSWER_LIMIT) -> str:
    if text is None:
        return "—"
    return escape_untrusted(text, limit=limit) if text.strip() else "*(empty)*"


def _settings(comparison: Comparison) -> str:
    settings = comparison.settings
    lines = [_model_line("base", comparison.base), _model_line("candidate", comparison.candidate)]
    run = f"dtype {escape_untrusted(settings.dtype, 40)}"
    run += f" · device {escape_untrusted(settings.device, 40)}"
    run += f" · chat template {escape_untrusted(settings.chat_template, 80)}"
    if settings.batch_tokens:
        run += f" · batch tokens {_plain(settings.batch_tokens, grouped=True)}"
    lines.append(f"- {run}")
    lines.append(
        f"- tolerance {settings.tolerance:g} ({tolerance_text(comparison)}) · "
        f"confidence {settings.confidence:.0%} · Holm-corrected across capabilities"
    )
    if settings.suites:
        lines.append("- suites: " + "; ".join(_suite(s) for s in settings.suites))
    if comparison.timings:
        timings = [f"{escape_untrusted(step, 40)} {_duration(value)}" for step, value in comparison.timings.items()]
        lines.append("- timings: " + " · ".join(timings))
    counts = _counts(comparison.counts)
    if counts:
        lines.append("- counts: " + counts)
    made = []
    if comparison.forgetcheck_version:
        made.append(f"forgetcheck {_name(comparison.forgetcheck_version)}")
    if comparison.created_at:
        made.append(escape_untrusted(comparison.created_at, 40))
    if made:
        lines.append("- " + " · ".join(made))
    return "<details>\n<summary>Settings</summary>\n\n" + "\n".join(lines) + "\n\n</details>"


def _model_line(side: str, model: ModelInfo) -> str:
    line = f"- {side}: {escape_untrusted(model.spec, 200)} ({escape_untrusted(model.source, 40)}, "
    line += f"{escape_untrusted(_short(model.resolved), 40)})"
    if model.adapter:
        line += " · PEFT adapter"
        if model.adapter_base:
            line += f", declares base {escape_untrusted(model.adapter_base, 200)}"
    return line


def _suite(suite: dict[str, str]) -> str:
    name = suite.get("name") or suite.get("suite") or "suite"
    details = ", ".join(
        f"{key} {_short(str(value))}"
        for key, value in suite.items()
        if key not in ("name", "suite")
    )
    text = f"{name} ({details})" if details else name
    return escape_untrusted(text, limit=200)


def _short(value: str) -> str:
    """A hash cut to 12 characters, keeping an ``algo:`` prefix if it has one."""
    prefix, _, digest = value.rpartition(":")
    if len(digest) <= HASH_SHOWN + 4 or not re.fullmatch(r"[0-9a-fA-F]+", digest):
        return value
    return f"{prefix + ':' if prefix else ''}{digest[:HASH_SHOWN]}"


def _counts(counts: Counts) -> str:
    """``cached_items 0 · scored_items 540 · …``, leaving out what the report does not say."""
    shown = []
    for f in dataclasses.fields(counts):
        value = getattr(counts, f.name)
        if value is not None:
            if type(value) in (int, float):  # a format code lets nothing but a number through
                value = f"{value:,.0f}" if float(value).is_integer() else f"{value:.3f}"
            else:
                value = _plain(value)
            shown.append(f"{escape_untrusted(f.name, 40)} {value}")
    return " · ".join(shown)


def _duration(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
