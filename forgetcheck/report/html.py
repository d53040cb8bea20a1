"""report.html: one self-contained page to look through a comparison, item by item.

The page is written next to report.md and works opened straight from disk, offline,
years later: it loads nothing (no CDN, no fonts, no scripts from elsewhere), the chart
is embedded as a ``data:`` PNG and every item travels inside the page as JSON. The
summary table is plain HTML built here; the per-item browser (filters by capability,
sub-category and flip, a search box, base and candidate answers side by side with the
expected one) is a small script in ``page.html`` that draws 200 items at a time, so a
20,000-item report opens as fast as a small one.

Threat model: every string in a Comparison may be hostile (model answers, prompts from
an imported dataset, a report.json handed over by a pull request). So text reaches the
page three ways only, each safe on its own: HTML-escaped by :func:`html.escape` in the
summary; as JSON inside ``<script type="application/json">`` with every ``<``, ``>``
and ``&`` written as a ``\\u`` escape (:func:`script_json`), so no ``</script>`` or
``<!--`` can end the block; and from there into the DOM by ``textContent`` only.
A Content-Security-Policy allows nothing but the page's own script and style (pinned
by their SHA-256) and ``data:`` images, so even a mistake in the above runs no
injected script and sends nothing anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import math
import re
from importlib import resources
from urllib.parse import quote

from forgetcheck.comparison import Comparison, ItemResult, is_proportion, overall_verdict
from forgetcheck.report.text import drop_text, flips_text, outcome_line, score_text, tolerance_text, verdict_text

# The per-item fields the page's script reads, in the order each item's row holds them.
ITEM_COLUMNS = ("capability", "subcategory", "item_id", "flip", "base_score", "candidate_score", "prompt",
                "expected", "base_answer", "candidate_answer", "forgetting", "recovered")
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def script_json(value: object) -> str:
    """``value`` as JSON that can sit inside a ``<script>`` element and never end it.

    JSON text has ``<``, ``>`` and ``&`` only inside strings, where ``\\u003c`` means the
    same character to ``JSON.parse``; written that way, no ``</script>`` or ``<!--``
    survives. U+2028 and U+2029 are escaped too, for any reader that treats the block
    as JavaScript.

    >>> script_json({"answer": "</script><script>alert(1)</script><!--"})
    '{"answer":"\\\\u003c/script\\\\u003e\\\\u003cscript\\\\u003ealert(1)\\\\u003c/script\\\\u003e\\\\u003c!--"}'
    >>> json.loads(script_json(["a\\u2028b & <c>"])) == ["a\\u2028b & <c>"]
    True
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for character, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                               ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(character, escaped)
    return text


def render_html(comparison: Comparison, chart: bytes | None = None) -> str:
    """The whole page as one string; ``chart`` is chart.png's bytes, embedded when given."""
    template = resources.files("forgetcheck.report").joinpath("page.html").read_text(encoding="utf-8")
    verdict = overall_verdict(comparison.capabilities) if comparison.capabilities else "inconclusive"
    headline = f"forgetcheck: {outcome_line(comparison)}"
    fields = {
        "csp": content_security_policy(template),
        "title": html.escape(headline),
        "verdict": verdict,
        "headline": html.escape(headline),
        "base": html.escape(comparison.base.spec),
        "candidate": html.escape(comparison.candidate.spec),
        "settings": html.escape(_settings_line(comparison)),
        "summary": _summary(comparison),
        "warnings": _warnings(comparison),
        "chart": _chart(chart),
        "footer": html.escape(_footer(comparison)),
        "data": script_json(page_data(comparison)),
    }
    # One pass, so text that happens to look like a {{placeholder}} is never filled in.
    return _PLACEHOLDER.sub(lambda match: fields[match.group(1)], template)


def content_security_policy(template: str) -> str:
    """Nothing may load or run but the template's own ``<style>`` and ``<script>``, pinned by hash.

    The JSON block is data, not script, so the policy needs no entry for it; the only
    images are ``data:`` ones (the chart). Placeholders are filled outside these two
    elements only, so their hashes are the template's.
    """
    style = re.search(r"<style>(.*?)</style>", template, re.S).group(1)
    script = re.search(r"<script>(.*?)</script>", template, re.S).group(1)
    if _PLACEHOLDER.search(style + script):
        raise AssertionError("page.html: a placeholder inside <style> or <script> would change its hash")
    return (f"default-src 'none'; script-src {_hash(script)}; style-src {_hash(style)}; img-src data:; "
            "base-uri 'none'; form-action 'none'")


def _hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def page_data(comparison: Comparison) -> dict:
    """What the browser script reads: capabilities, sub-category names, and one row per item.

    Items are rows (lists in :data:`ITEM_COLUMNS` order) rather than objects because a
    20,000-item report would otherwise repeat every key 20,000 times; capability and
    sub-category are indexes into the two name lists (-1: no sub-category).
    """
    capabilities = {cap.name: cap for cap in comparison.capabilities}
    names = list(capabilities)
    # A report may hold items of a capability it has no verdict for (older or hand-made ones).
    names += sorted({item.capability for item in comparison.items} - set(capabilities))
    where = {name: k for k, name in enumerate(names)}
    subcategories = sorted({item.subcategory for item in comparison.items if item.subcategory})
    sub_index = {name: k for k, name in enumerate(subcategories)}
    counts = {name: 0 for name in names}
    for item in comparison.items:
        counts[item.capability] += 1
    return {
        "columns": list(ITEM_COLUMNS),
        "capabilities": [
            {"name": name, "n": counts[name],
             "metric": capabilities[name].metric if name in capabilities else "score",
             "binary": is_proportion(capabilities[name]) if name in capabilities else False}
            for name in names
        ],
        "subcategories": subcategories,
        "items": [_item_row(item, where, sub_index) for item in comparison.items],
    }


def _item_row(item: ItemResult, where: dict[str, int], sub_index: dict[str, int]) -> list:
    row = {
        **{name: getattr(item, name) for name in ITEM_COLUMNS},
        "capability": where[item.capability],
        "subcategory": sub_index.get(item.subcategory, -1) if item.subcategory else -1,
        # JSON has no NaN; a score that is not a number shows as missing rather than breaking the page.
        "base_score": _finite(item.base_score),
        "candidate_score": _finite(item.candidate_score),
    }
    return [row[name] for name in ITEM_COLUMNS]


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _summary(comparison: Comparison) -> str:
    """The capability table: verdict, scores, drop with its interval, flips; names link to their items."""
    if not comparison.capabilities:
        return "<p>No capabilities were compared.</p>"
    head = ('<tr><th>Capability</th><th>Verdict</th><th>Metric</th><th class="num">Items</th><th class="num">Base</th>'
            '<th class="num">Candidate</th><th class="num">Drop [CI]</th><th class="num">Forgotten / learned</th></tr>')
    rows = []
    for cap in comparison.capabilities:
        link = "#" + html.escape("capability=" + quote(cap.name, safe=""))
        cells = [
            f'<td><a href="{link}">{html.escape(cap.name)}</a></td>',
            f'<td><span class="verdict verdict-{cap.verdict}">{html.escape(verdict_text(cap))}</span></td>',
            f"<td>{html.escape(cap.metric)}</td>",
            f'<td class="num">{cap.n:,}</td>',
            f'<td class="num">{html.escape(score_text(cap, "base"))}</td>',
            f'<td class="num">{html.escape(score_text(cap, "candidate"))}</td>',
            f'<td class="num">{html.escape(drop_text(cap))}</td>',
            f'<td class="num">{html.escape(flips_text(cap))}</td>',
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    settings = comparison.settings
    note = (f"drop = base − candidate (positive = forgotten), with its {settings.confidence:.0%} paired CI; "
            f"tolerance {tolerance_text(comparison)}. Click a capability to browse its items.")
    return (f'<table class="summary"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'
            f'<p class="models">{html.escape(note)}</p>')


def _warnings(comparison: Comparison) -> str:
    if not comparison.warnings:
        return ""
    lines = "".join(f"<li>{html.escape(warning)}</li>" for warning in comparison.warnings)
    return f'<h2>Warnings</h2><ul class="warnings">{lines}</ul>'


def _chart(chart: bytes | None) -> str:
    if not chart:
        return ""
    encoded = base64.b64encode(chart).decode("ascii")
    # Folded by default: the table above says the same in numbers, and the items are what this page adds.
    return ('<details class="chart-box"><summary>Chart: each capability\'s drop with its interval</summary>'
            f'<img class="chart" alt="each capability\'s drop with its interval, against the tolerance" '
            f'src="data:image/png;base64,{encoded}"></details>')


def _settings_line(comparison: Comparison) -> str:
    settings = comparison.settings
    return (f"dtype {settings.dtype} · device {settings.device} · tolerance {tolerance_text(comparison)} · "
            f"confidence {settings.confidence:.0%} · {len(comparison.items):,} items")


def _footer(comparison: Comparison) -> str:
    made = ["forgetcheck " + comparison.forgetcheck_version if comparison.forgetcheck_version else "forgetcheck"]
    if comparison.created_at:
        made.append(comparison.created_at)
    return " · ".join(made) + " · report.json next to this page holds everything shown here"
