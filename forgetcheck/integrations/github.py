"""A small GitHub REST client for one job: keep one forgetcheck comment per pull request.

It speaks to the REST API with the standard library (no new dependency) and does
what a comment bot in CI needs to do reliably:

* **Sticky, and only ours.** ``post_sticky_comment`` looks through every comment
  on the pull request, following the ``Link: rel="next"`` pages, for the ones that
  have forgetcheck's hidden marker as their last line *and* were written by the
  token's own identity. By the comment mode (:mod:`.comment_policy`) it edits the
  newest in place, deletes them, or hides them as outdated (GraphQL
  ``minimizeComment``) and posts anew; only when there is none does it simply add
  one. Anyone can paste the marker into a comment, so the marker alone would let a
  pull request's author (or any commenter) have their comment overwritten, deleted
  or hidden. The identity is GraphQL's ``viewer`` (``GET /user`` refuses the
  installation token GitHub Actions gives; ``viewer`` answers it with the app's bot,
  ``github-actions[bot]``), or ``--author`` where GraphQL is not reachable.
* **Retries.** 5xx answers, network errors, 429 and the 403s GitHub uses for
  rate limits (primary: ``x-ratelimit-remaining: 0``; secondary: ``retry-after``
  or a message naming the rate limit) are retried with backoff, honouring
  ``retry-after`` and ``x-ratelimit-reset`` up to a minute.
* **Forks.** On a pull request from a fork the workflow token is read-only and a
  write answers 403; that becomes :class:`ReadOnlyToken`, which the command turns
  into one line and a step-summary fallback.

The token goes only into the ``Authorization`` header, and only to the API host
it was given for: a pagination link to another host is refused, not followed.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from forgetcheck.version import __version__
from forgetcheck.errors import BadInput, ForgetcheckError
from forgetcheck.integrations.comment_policy import Posted, digest_of, plan
from forgetcheck.integrations.redaction import redact_tokens
from forgetcheck.report.comment import is_ours

DEFAULT_API_URL = "https://api.github.com"
ATTEMPTS = 5
BACKOFF_S = 1.0
LONGEST_WAIT_S = 60.0
_NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="next"')
_REPO = re.compile(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+\Z")
_SHA = re.compile(r"[0-9a-fA-F]{40}\Z")
_AUTHOR_HINT = "pass --author LOGIN, e.g. --author 'github-actions[bot]'"


class GitHubError(ForgetcheckError):
    """GitHub refused or failed a request; the message says which and what to do."""


class ReadOnlyToken(GitHubError):
    """The token may read but not write here: typically a pull request from a fork."""


class GitHub:
    """Requests to one GitHub API root with one token, retried where retrying helps."""

    def __init__(self, api_url: str = DEFAULT_API_URL, token: str | None = None, *,
                 attempts: int = ATTEMPTS, backoff_s: float | None = None,
                 sleep: Callable[[float], None] = time.sleep, timeout_s: float = 30.0):
        parts = urlsplit(api_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise BadInput(f"--api-url {api_url!r}: give the API root, like {DEFAULT_API_URL}")
        self.api_url = api_url.rstrip("/")
        self._origin = (parts.scheme, parts.netloc)
        self._token = token
        self.attempts, self.sleep, self.timeout_s = attempts, sleep, timeout_s
        self.backoff_s = BACKOFF_S if backoff_s is None else backoff_s

    def request(self, method: str, url: str, payload: Any = None) -> tuple[Any, dict[str, str]]:
        """One API call; ``url`` is a path under the API root or a full URL on its host."""
        url = url if "://" in url else self.api_url + url
        if (urlsplit(url).scheme, urlsplit(url).netloc) != self._origin:
            raise GitHubError(f"GitHub answered with a link to another host ({urlsplit(url).netloc}); "
                              "not following it with the token")
        data = None if payload is None else json.dumps(payload).encode()
        for attempt in range(1, self.attempts + 1):
            status, headers, body = self._send(method, url, data)
            if 200 <= status < 300:  # not 0: that is a network error, retried below
                return (json.loads(body) if body.strip() else None), headers
            wait = self._retry_wait(status, headers, body, attempt)
            if wait is None or attempt == self.attempts:
                raise self._error(method, url, status, headers, body)
            self.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def paginate(self, path: str) -> Iterator[Any]:
        """Every item of a list endpoint, page after page, by the ``Link`` header."""
        url: str | None = path
        while url:
            items, headers = self.request("GET", url)
            yield from items or []
            found = _NEXT_LINK.search(headers.get("link", ""))
            url = found.group(1) if found else None

    def _send(self, method: str, url: str, data: bytes | None) -> tuple[int, dict[str, str], str]:
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
                   "User-Agent": f"forgetcheck/{__version__}"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if data is not None:
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with _OPENER.open(request, timeout=self.timeout_s) as response:
                return response.status, _lower(response.headers), response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            return exc.code, _lower(exc.headers), exc.read().decode("utf-8", "replace")
        except (urllib.error.URLError, OSError) as exc:
            # Status 0: the network failed; retried like a 5xx.
            reason = getattr(exc, "reason", exc)
            return 0, {}, json.dumps({"message": f"{type(exc).__name__}: {reason}"})

    def _retry_wait(self, status: int, headers: dict[str, str], body: str, attempt: int) -> float | None:
        """Seconds to wait before trying again, or None when another try cannot help."""
        backoff = self.backoff_s * 2 ** (attempt - 1)
        rate_limited = status == 429 or (status == 403 and (
            headers.get("x-ratelimit-remaining") == "0" or "retry-after" in headers
            or "rate limit" in _message(body).lower()))
        if not (status == 0 or status >= 500 or rate_limited):
            return None
        if "retry-after" in headers:
            wait = _number(headers["retry-after"], backoff)
        elif rate_limited and headers.get("x-ratelimit-remaining") == "0":
            wait = _number(headers.get("x-ratelimit-reset", ""), time.time() + backoff) - time.time()
        else:
            wait = backoff
        # Waiting out a long rate limit blocks CI for nothing; better to fail and say so.
        return max(wait, 0.0) if wait <= LONGEST_WAIT_S else None

    def _error(self, method: str, url: str, status: int, headers: dict[str, str], body: str) -> GitHubError:
        path = urlsplit(url).path
        message = _message(body)
        if status == 0:
            return GitHubError(f"cannot reach GitHub at {self.api_url} ({message}); check --api-url and the network")
        if status == 401:
            return GitHubError(f"GitHub refused the token (401 on {method} {path}); check GITHUB_TOKEN")
        if status == 403 and method != "GET" and "rate limit" not in message.lower():
            return ReadOnlyToken(f"the token may not write here (403 on {method} {path}: {message})")
        if status == 404:
            return GitHubError(f"GitHub found no {path} (404); check --repo and --pr, and that the token "
                               "can see the repository")
        retried = f" after {self.attempts} tries" if status >= 500 or status in (403, 429) else ""
        return GitHubError(f"GitHub answered {status} to {method} {path}{retried}: {message}")


@dataclass(frozen=True)
class Identity:
    """Who the token writes as: ``login`` (``github-actions[bot]`` in Actions) and, when known, ``id``."""

    login: str
    id: int | None = None

    def wrote(self, comment: dict) -> bool:
        """True when ``comment`` (as the REST API lists it) was written by this identity."""
        user = comment.get("user") if isinstance(comment.get("user"), dict) else {}
        login = user.get("login")
        # Logins are case-insensitive on GitHub; ids never change, so when both are known both must agree.
        if not isinstance(login, str) or login.lower() != self.login.lower():
            return False
        return self.id is None or user.get("id") == self.id


def token_identity(github: GitHub) -> Identity:
    """The token's own identity, from GraphQL ``viewer`` (which installation tokens may ask)."""
    try:
        answer, _ = github.request("POST", graphql_url(github.api_url),
                                   {"query": "query { viewer { login databaseId } }"})
    except ReadOnlyToken as exc:  # a 403 to a query is no fork's read-only token; say what helps
        raise GitHubError(f"cannot tell which account the token comments as ({exc}); {_AUTHOR_HINT}") from None
    viewer = ((answer or {}).get("data") or {}).get("viewer") if isinstance(answer, dict) else None
    if not isinstance(viewer, dict) or not isinstance(viewer.get("login"), str):
        errors = (answer or {}).get("errors") if isinstance(answer, dict) else None
        why = _message(json.dumps(errors[0])) if isinstance(errors, list) and errors else "no viewer in the answer"
        raise GitHubError(f"cannot tell which account the token comments as (GraphQL viewer: {why}); "
                          + _AUTHOR_HINT)
    number = viewer.get("databaseId")
    return Identity(viewer["login"], number if isinstance(number, int) else None)


def graphql_url(api_url: str) -> str:
    """GraphQL's address for a REST root: api.github.com/graphql, or HOST/api/graphql on Enterprise.

    >>> graphql_url("https://api.github.com")
    'https://api.github.com/graphql'
    >>> graphql_url("https://github.acme.com/api/v3")
    'https://github.acme.com/api/graphql'
    """
    return api_url.removesuffix("/v3") + "/graphql" if api_url.endswith("/api/v3") else api_url + "/graphql"


def pull_request_head(github: GitHub, repo: str, number: int) -> str:
    """The commit sha the pull request's head points at now."""
    pull, _ = github.request("GET", f"/repos/{repo}/pulls/{number}")
    sha = ((pull or {}).get("head") or {}).get("sha") if isinstance(pull, dict) else None
    if not isinstance(sha, str):
        raise GitHubError(f"GitHub gave no head sha for {repo}#{number}")
    return sha


def post_sticky_comment(github: GitHub, repo: str, number: int, body: str, comment_marker: str, *,
                        author: Identity | None = None, expect_sha: str | None = None, mode: str = "update",
                        on: str = "always", alert: bool = True) -> Posted:
    """Keep forgetcheck's comment on a pull request, by ``mode`` and ``on`` (:mod:`.comment_policy`).

    Only comments written by ``author`` (by default the token's own identity) with
    the marker on their last line are ever edited, deleted or hidden. With
    ``expect_sha``, refuses unless the pull request's head is still that commit: the
    report was made for it, and a PR number from elsewhere (a fork's artifact) must
    not steer the comment to another pull request. ``body`` should carry the results'
    digest (:func:`.comment_policy.with_digest`) for ``on="change"`` to see a change.
    """
    if not _REPO.match(repo):
        raise BadInput(f"--repo {repo!r}: give it as OWNER/NAME")
    if number <= 0:
        raise BadInput(f"--pr {number}: give the pull request's number, like 12")
    if expect_sha is not None:
        if not _SHA.match(expect_sha):
            raise BadInput(f"--expect-sha {expect_sha[:80]!r}: give the full 40-character commit sha")
        head = pull_request_head(github, repo, number)
        if head.lower() != expect_sha.lower():
            raise BadInput(f"{repo}#{number} is at {head[:12]}, not {expect_sha[:12]} (--expect-sha): the report "
                           "is for another commit or another pull request; not commenting")
    author = author or token_identity(github)
    ours = [c for c in github.paginate(f"/repos/{repo}/issues/{number}/comments?per_page=100")
            if isinstance(c, dict) and author.wrote(c) and is_ours(c.get("body"), comment_marker)]
    if mode == "hide-old":  # a hidden comment is still listed; only the visible ones count
        ours = [c for c, hidden in zip(ours, minimized(github, ours)) if not hidden]
    decided = plan(ours, body, digest_of(body) or "", mode=mode, on=on, alert=alert)
    if decided.action == "skip":
        return Posted("skipped")
    if decided.action in ("unchanged", "update"):
        comment = decided.edit
        if decided.action == "update":
            comment, _ = github.request("PATCH", f"/repos/{repo}/issues/comments/{comment['id']}", {"body": body})
        what = "updated" if decided.action == "update" else "unchanged"
        return Posted(what, comment.get("html_url", ""), str(comment.get("id", "")))
    for earlier in decided.retire:
        if mode == "recreate":
            github.request("DELETE", f"/repos/{repo}/issues/comments/{earlier['id']}")
        else:
            minimize_comment(github, earlier)
    made, _ = github.request("POST", f"/repos/{repo}/issues/{number}/comments", {"body": body})
    return Posted("created", made.get("html_url", ""), str(made.get("id", "")), len(decided.retire))


MINIMIZE = ("mutation($id: ID!) { minimizeComment(input: {subjectId: $id, classifier: OUTDATED}) "
            "{ minimizedComment { isMinimized } } }")
ARE_MINIMIZED = "query($ids: [ID!]!) { nodes(ids: $ids) { ... on IssueComment { id isMinimized } } }"


def minimize_comment(github: GitHub, comment: dict) -> None:
    """Collapse one comment as outdated (GraphQL ``minimizeComment``, classifier OUTDATED)."""
    answer = graphql(github, MINIMIZE, {"id": _node_id(comment)}, what="hide the earlier comment")
    done = (((answer.get("minimizeComment") or {}).get("minimizedComment")) or {}).get("isMinimized")
    if done is not True:
        raise GitHubError(f"GitHub did not hide comment {comment.get('id')} (minimizeComment answered no "
                          "isMinimized)")


def minimized(github: GitHub, comments: list[dict]) -> list[bool]:
    """Whether each comment is already hidden: REST does not say, GraphQL ``nodes`` does, in one query."""
    if not comments:
        return []
    answer = graphql(github, ARE_MINIMIZED, {"ids": [_node_id(c) for c in comments]},
                     what="see which earlier comments are hidden")
    nodes = answer.get("nodes") if isinstance(answer.get("nodes"), list) else []
    hidden = {n.get("id") for n in nodes if isinstance(n, dict) and n.get("isMinimized") is True}
    return [_node_id(c) in hidden for c in comments]


def graphql(github: GitHub, query: str, variables: dict, *, what: str) -> dict:
    """A GraphQL call's ``data``; its ``errors`` (sent with a 200) become one line, FORBIDDEN a ReadOnlyToken."""
    answer, _ = github.request("POST", graphql_url(github.api_url), {"query": query, "variables": variables})
    answer = answer if isinstance(answer, dict) else {}
    errors = answer.get("errors") if isinstance(answer.get("errors"), list) else []
    if errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        message = _message(json.dumps(first))
        if first.get("type") == "FORBIDDEN":
            raise ReadOnlyToken(f"the token may not {what} ({message})")
        raise GitHubError(f"cannot {what}: GraphQL answered {message}")
    return answer.get("data") if isinstance(answer.get("data"), dict) else {}


def _node_id(comment: dict) -> str:
    node = comment.get("node_id")
    if not isinstance(node, str) or not node:
        raise GitHubError(f"GitHub listed comment {comment.get('id')} without its node_id; cannot hide it")
    return node


def pull_request_from_event(event_path: str | None) -> int | None:
    """The pull request number in a GitHub event payload (``GITHUB_EVENT_PATH``), if any."""
    if not event_path:
        return None
    try:
        event = json.loads(open(event_path, encoding="utf-8").read())
    except (OSError, ValueError) as exc:
        raise BadInput(f"{event_path}: cannot read the GitHub event ({exc}); pass --pr N") from None
    if not isinstance(event, dict):
        return None
    candidates = [
        (event.get("pull_request") or {}).get("number"),
        # issue_comment events on a pull request
        (event.get("issue") or {}).get("number") if (event.get("issue") or {}).get("pull_request") else None,
        # workflow_run: only set for pull requests from the same repository, never from forks
        next(iter((event.get("workflow_run") or {}).get("pull_requests") or []), {}).get("number"),
    ]
    return next((n for n in candidates if isinstance(n, int)), None)


def run_url(env: dict[str, str] | os._Environ = os.environ) -> str | None:
    """The web address of the current Actions run, where its artifacts are listed."""
    server, repo, run_id = (env.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"))
    return f"{server.rstrip('/')}/{repo}/actions/runs/{run_id}" if server and repo and run_id else None


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would carry the Authorization header along a redirect to any host; stop that."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urlsplit(newurl).netloc != urlsplit(req.full_url).netloc:
            return None  # the 3xx comes back as an error instead
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SameHostRedirects)


def _lower(headers) -> dict[str, str]:
    return {k.lower(): v for k, v in (headers or {}).items()}


def _message(body: str) -> str:
    try:
        message = json.loads(body).get("message", "")
    except (ValueError, AttributeError):
        message = body
    return redact_tokens(" ".join(str(message).split()))[:300] or "no message"


def _number(text: str, default: float) -> float:
    try:
        return float(text)
    except ValueError:
        return default
