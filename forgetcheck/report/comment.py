"""The sticky pull-request comment: the Markdown report, a hidden marker, cut to fit.

A comment is the Markdown report (``render_markdown``, which already escapes every
model output) followed by a hidden HTML marker on the last line. GitHub and the Hub
both render the marker as nothing, and forgetcheck finds its own earlier comment by it
and edits that comment instead of adding a second one. The marker must be the
comment's last line: a person quoting our comment in a reply puts it behind ``> ``,
so their reply is never mistaken for ours and overwritten.

GitHub refuses a comment over 65,536 characters. The report normally stays well
under that, but a suite with very many capabilities could pass it; then the body is
cut at a line, any collapsed section left open is closed, and a line says where the
whole report is.
"""

from __future__ import annotations

import re

from forgetcheck.comparison import Comparison
from forgetcheck.errors import BadInput
from forgetcheck.report.markdown import escape_untrusted, render_markdown

COMMENT_LIMIT = 65_536
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")


def marker(key: str = "") -> str:
    """The hidden line that names forgetcheck's comment; ``key`` tells several apart.

    >>> marker()
    '<!-- forgetcheck:comment -->'
    >>> marker("gpu-suite")
    '<!-- forgetcheck:comment:gpu-suite -->'
    """
    if key and not _KEY.match(key):
        raise BadInput(f"--key {key!r}: use letters, digits, '.', '_' or '-' (at most 64)")
    return f"<!-- forgetcheck:comment{':' + key if key else ''} -->"


def is_ours(body: str | None, comment_marker: str) -> bool:
    r"""True when ``body`` has this marker where :func:`fit` puts it: alone on the last line.

    Only ``\n`` ends a line here. ``str.splitlines`` also splits at ``\r``, U+2028
    and a dozen others, so a quote like ``"text\u2028<marker>"`` or a marker padded
    with ``\r\n`` would pass for ours. The marker names a candidate only: who wrote
    the comment is checked by the integrations (github.py, hub.py).

    >>> is_ours("## report\n\n<!-- forgetcheck:comment -->\n", marker())
    True
    >>> is_ours("quote\u2028<!-- forgetcheck:comment -->", marker())
    False
    >>> is_ours("quote\r\n<!-- forgetcheck:comment -->\r\n", marker())
    False
    """
    return (body or "").removesuffix("\n").endswith("\n\n" + comment_marker)


def comment_body(comparison: Comparison, *, key: str = "", details: str | None = None,
                 limit: int = COMMENT_LIMIT) -> str:
    """The whole comment for a comparison; ``details`` says where the full report is."""
    return fit(render_markdown(comparison), marker(key), details, limit)


def failure_body(what: str, message: str, *, key: str = "") -> str:
    """A comment saying a comparison could not be made, and why (the why is escaped)."""
    text = (f"## ⚠️ forgetcheck could not compare {escape_untrusted(what, limit=200)}\n\n"
            f"{escape_untrusted(message, limit=2000)}\n\n"
            "Nothing was judged; the next push to this pull request tries again.")
    return fit(text, marker(key), None, COMMENT_LIMIT)


def fit(markdown: str, comment_marker: str, details: str | None, limit: int) -> str:
    """``markdown`` plus the marker, cut at a line to stay within ``limit`` characters."""
    tail = f"\n\n{comment_marker}\n"
    body = markdown.rstrip("\n") + tail
    if length(body) <= limit:
        return body
    where = f"[the full report]({details})" if details else "the full report (report.md in the report folder)"
    pointer = (f"\n\n---\n✂️ This comment was cut to fit the {limit:,}-character limit of a comment; "
               f"see {where}.")
    closing = "\n\n</details>"
    budget = limit - length(pointer + tail)
    kept: list[str] = []
    size = opened = 0
    for line in markdown.split("\n"):
        now_open = opened + line.count("<details>") - line.count("</details>")
        # Room is kept for the closing tags the cut may need.
        if size + length(line) + 1 + max(now_open, 0) * length(closing) > budget:
            break
        kept.append(line)
        size += length(line) + 1
        opened = now_open
    cut = "\n".join(kept).rstrip()
    cut += closing * max(cut.count("<details>") - cut.count("</details>"), 0)
    return cut + pointer + tail


def length(text: str) -> int:
    """Characters as GitHub counts them at worst: UTF-16 code units (an emoji is two)."""
    return len(text.encode("utf-16-le")) // 2
