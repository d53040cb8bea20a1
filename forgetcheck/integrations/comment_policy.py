"""Comment modes: when forgetcheck comments on a pull request, and what happens to its earlier comment.

The same rules serve GitHub (:mod:`forgetcheck.integrations.github`) and the Hub
(:mod:`forgetcheck.integrations.hub`), following the conventions of the comment
bots maintainers already use (marocchino/sticky-pull-request-comment,
benchmark-action, codecov):

* **mode** says what becomes of forgetcheck's earlier comment (same key, written by
  the token's own account, marker on its last line):
  ``update`` edits it in place (one comment that changes; the default),
  ``recreate`` deletes it and posts a new one at the bottom of the conversation,
  ``hide-old`` collapses it as outdated and posts a new one, so the history stays
  readable, ``off`` never comments.
* **on** says when to comment at all: ``always`` on every run; ``change`` only when
  the results differ from the earlier comment's; ``alert`` only when a capability
  regressed beyond the alert threshold. With ``alert``, an earlier comment is still
  brought up to date, so a regression that has since been fixed never leaves a stale
  alarm behind.

"Differ" is decided on the results, not the text: a digest of the verdicts and of
the drops as the report shows them (0.1 point) rides in a hidden line just above
the marker (``<!-- forgetcheck:digest 0123abcd… -->``). A new timing or a reworded
note does not count as a change; a verdict that flips or a drop that moves does.
The digest is read only from a comment already proven ours, so a pasted digest
cannot silence a real change.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from forgetcheck.comparison import Comparison
from forgetcheck.errors import BadInput

MODES = ("update", "recreate", "hide-old", "off")
WHEN = ("always", "change", "alert")
_DIGEST = re.compile(r"^<!-- forgetcheck:digest ([0-9a-f]{16,64}) -->$", re.MULTILINE)


def results_digest(comparison: Comparison) -> str:
    """A short hash of what the comment says: the overall verdict and each capability's verdict and drop.

    Drops are rounded as the report shows them (0.1 point), so noise below what a
    reader can see is no change.
    """
    shown = [comparison.verdict] + [[c.name, c.verdict, round(c.drop * 100, 1)] for c in comparison.capabilities]
    return hashlib.sha256(json.dumps(shown, ensure_ascii=False).encode()).hexdigest()[:16]


def digest_line(digest: str) -> str:
    """The hidden line that carries the digest.

    >>> digest_line("0123456789abcdef")
    '<!-- forgetcheck:digest 0123456789abcdef -->'
    """
    return f"<!-- forgetcheck:digest {digest} -->"


def with_digest(body: str, comment_marker: str, digest: str) -> str:
    r"""``body`` (which ends in the marker) with the digest line put just above the marker.

    >>> with_digest("## ok\n\n<!-- m -->\n", "<!-- m -->", "0123456789abcdef")
    '## ok\n\n<!-- forgetcheck:digest 0123456789abcdef -->\n\n<!-- m -->\n'
    """
    tail = f"\n\n{comment_marker}\n"
    if not body.endswith(tail):
        raise ValueError("the comment body must end with its marker")
    return body[: -len(tail)] + "\n\n" + digest_line(digest) + tail


def digest_of(body: str | None) -> str | None:
    """The digest an earlier comment of ours carries, or None (a comment from before digests)."""
    found = _DIGEST.findall(body or "")
    return found[-1] if found else None


def alerts(comparison: Comparison, threshold_points: float | None = None) -> bool:
    """True when a capability regressed beyond the alert threshold (in points; None: the report's tolerance).

    A threshold other than the report's own re-judges the saved items with it
    (:func:`forgetcheck.analysis.verdicts.rejudge`): "regressed" keeps its meaning,
    a loss that is real and larger than the threshold, never a bare point estimate.
    """
    return bool(judged_at(comparison, threshold_points).regressed())


def judged_at(comparison: Comparison, threshold_points: float | None) -> Comparison:
    """The comparison as judged with ``threshold_points`` as its tolerance (itself when that is its own)."""
    if threshold_points is None or abs(threshold_points / 100 - comparison.settings.tolerance) < 1e-12:
        return comparison
    from forgetcheck.analysis.verdicts import rejudge

    return rejudge(comparison, tolerance=threshold_points / 100)


def threshold(text: str | None, name: str) -> float | None:
    """A threshold in points from an option or an Action input; empty means "not given".

    >>> threshold("1.5", "--alert-threshold"), threshold("", "--alert-threshold")
    (1.5, None)
    """
    if text is None or not str(text).strip():
        return None
    try:
        value = float(str(text).strip().removesuffix("pts").strip())
    except ValueError:
        value = -1.0
    if not 0 <= value < 100:
        raise BadInput(f"{name} {str(text)[:40]!r}: give a drop in points between 0 and 100 (2 = 2 points)")
    return value


@dataclass(frozen=True)
class Posted:
    """What became of the comment: ``what`` is created, updated, unchanged or skipped.

    ``url`` and ``id`` name the comment that now holds the report (empty when none
    does: skipped); ``retired`` counts the earlier comments deleted or hidden.
    """

    what: str
    url: str = ""
    id: str = ""
    retired: int = 0


@dataclass
class Plan:
    """What to do with the comments: ``action`` is create, update, unchanged or skip.

    ``edit`` is the comment to update (or the one left as it is); ``retire`` the
    earlier comments to delete (``recreate``) or hide (``hide-old``) before creating.
    """

    action: str
    edit: dict | None = None
    retire: list[dict] = field(default_factory=list)


def plan(ours: list[dict], body: str, digest: str, *, mode: str, on: str, alert: bool) -> Plan:
    """Decide, from forgetcheck's earlier comments (oldest first, each a dict with ``body``).

    >>> old = [{"id": 1, "body": "x\\n\\n" + digest_line("a" * 16) + "\\n\\n<!-- m -->\\n"}]
    >>> plan(old, "new", "a" * 16, mode="update", on="change", alert=True).action
    'unchanged'
    >>> plan([], "new", "b" * 16, mode="update", on="alert", alert=False).action
    'skip'
    >>> [c["id"] for c in plan(old, "new", "b" * 16, mode="hide-old", on="always", alert=False).retire]
    [1]
    """
    if mode not in MODES or mode == "off":
        raise BadInput(f"comment mode {mode!r}: use update, recreate or hide-old (off posts nothing)")
    if on not in WHEN:
        raise BadInput(f"comment on {on!r}: use always, change or alert")
    latest = ours[-1] if ours else None
    if on == "alert" and not alert and latest is None:
        return Plan("skip")  # nothing regressed beyond the alert threshold, and no alarm to correct
    if on == "change" and latest is not None and digest_of(latest.get("body")) == digest:
        return Plan("unchanged", edit=latest)  # the same verdicts and drops as the comment shows
    if mode == "update":
        if latest is None:
            return Plan("create")
        return Plan("unchanged" if latest.get("body") == body else "update", edit=latest)
    return Plan("create", retire=list(ours))


def comment_with_digest(run: Comparison | dict[str, Comparison], *, key: str = "", details: str | None = None) -> str:
    """The comment for a saved run with its digest line: one report as
    :func:`forgetcheck.report.comment.comment_body` writes it, or several candidates side by
    side (:func:`forgetcheck.report.side_by_side.read_run` reads either)."""
    from forgetcheck.report.comment import COMMENT_LIMIT, comment_body, fit, marker
    from forgetcheck.report.side_by_side import render_side_by_side_markdown

    comparisons = {"": run} if isinstance(run, Comparison) else run
    digest = run_digest(comparisons)
    room = COMMENT_LIMIT - len(digest_line(digest)) - 2  # the digest must survive a cut
    if list(comparisons) == [""]:
        body = comment_body(comparisons[""], key=key, details=details, limit=room)
    else:
        body = fit(render_side_by_side_markdown(comparisons, links=False), marker(key), details, room)
    return with_digest(body, marker(key), digest)


def run_digest(comparisons: dict[str, Comparison]) -> str:
    """:func:`results_digest` of one report; for several candidates, of each one under its label."""
    if list(comparisons) == [""]:
        return results_digest(comparisons[""])
    shown = [[label, results_digest(c)] for label, c in comparisons.items()]
    return hashlib.sha256(json.dumps(shown, ensure_ascii=False).encode()).hexdigest()[:16]
