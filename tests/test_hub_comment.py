"""``forgetcheck comment hub`` and ``forgetcheck card --repo-id``: the real huggingface_hub
client against a fake Hub on 127.0.0.1.

``HubWithWrites`` extends the read-only ``FakeHub`` of test_hub.py with what these
commands call through ``HfApi``:

* discussions: ``GET /api/models/{repo}/discussions/{num}`` (``get_discussion_details``),
  ``POST …/comment`` (``comment_discussion``) and ``POST …/comment/{id}/edit``
  (``edit_discussion_comment``), answered in the shapes ``deserialize_event`` reads;
* commits: ``POST /api/validate-yaml``, ``POST /api/models/{repo}/preupload/{rev}``
  (every file "regular", so no LFS or Xet upload follows) and
  ``POST /api/models/{repo}/commit/{rev}`` with its ndjson body. A commit to a branch
  writes the files into the repo's folder and moves the branch to a new sha (so a
  later download sees them); ``create_pr=1`` opens a pull request instead;
* pull request refs: ``refs/pr/N`` (sent URL-quoted) and extra shas in ``server.shas``,
  used by the webhook tests.

Writes need an ``Authorization`` header, as on the real Hub, and a comment's
author is the token's account (``server.accounts``: token -> name), which
``GET /api/whoami-v2`` also answers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import threading
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from huggingface_hub import ModelCard

from forgetcheck.integrations.card import CHART_NAME, START
from forgetcheck.report.comment import is_ours, marker
from tests.test_cli import run_subprocess
from tests.test_hub import FakeHub, fake_sha
from tests.test_github_comment import save_report
from tests.test_report import make_comparison

HF_TOKEN = "hf_not-a-real-token"
BOT_ACCOUNT = "forgetcheck-bot"
DISCUSSION = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/discussions/(?P<num>\d+)(?P<rest>/.*)?$")
WRITE = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/(?P<what>preupload|commit)/(?P<rev>.+)$")
QUOTED_PR_REF = re.compile(r"refs%2Fpr%2F(\d+)", re.IGNORECASE)
WHEN = "2025-01-01T12:00:00.000Z"


def comment_event(comment_id: str, content: str, author: str = "forgetcheck-bot", hidden: bool = False) -> dict:
    return {"id": comment_id, "type": "comment", "createdAt": WHEN, "author": {"name": author},
            "data": {"edited": False, "hidden": hidden, "latest": {"raw": content, "html": content,
                                                                    "updatedAt": WHEN}, "history": []}}


class HubWithWrites(FakeHub):
    """FakeHub plus discussions, commits and pull request refs (see the module docstring)."""

    def do_GET(self):  # noqa: N802
        path = urlsplit(self.path).path
        if path == "/api/whoami-v2":
            self.server.whoami_calls += 1
            name = self.server.accounts.get(self._token())
            return self._json(200, {"type": "user", "name": name}) if name else \
                self._json(401, {"error": "Invalid credentials in Authorization header"})
        if match := DISCUSSION.match(unquote(path)):
            found = self._discussion(match)
            if found is not None:
                self._json(200, self._details(match["repo"], int(match["num"]), found))
            return
        # refs/pr/N is sent quoted; the base class unquotes paths, so name it by its sha.
        self.path = QUOTED_PR_REF.sub(lambda m: self.server.pr_refs.get(f"refs/pr/{m[1]}", "no-such-ref"),
                                      self.path)
        super().do_GET()

    def do_POST(self):  # noqa: N802
        path = unquote(urlsplit(self.path).path)
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.posts.append(path)
        if path == "/api/validate-yaml":
            return self._json(200, {"errors": [], "warnings": []})
        if self._token() not in self.server.accounts:
            return self._json(401, {"error": "Invalid credentials"})
        if match := DISCUSSION.match(path):
            return self._comment(match, json.loads(data))
        if match := WRITE.match(path):
            if match["repo"] not in self.server.repos:
                return self._send(404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"})
            if match["what"] == "preupload":
                files = [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False, "oid": None}
                         for f in json.loads(data)["files"]]
                return self._json(200, {"files": files})
            return self._commit(match["repo"], data, "create_pr" in parse_qs(urlsplit(self.path).query))
        self._send(404, b"", {})

    def _lookup(self, repo_id, revision):
        folder = self.server.repos.get(repo_id)
        if folder is not None and revision in self.server.shas:
            return self.server.shas[revision], revision
        head = self.server.heads.get(repo_id, fake_sha(repo_id))
        if folder is not None and revision in ("main", head):
            return folder, head
        return super()._lookup(repo_id, revision)

    def _discussion(self, match):
        found = self.server.discussions.get((match["repo"], int(match["num"])))
        if found is None:
            self._send(404, b'{"error": "Discussion not found"}', {})
        return found

    def _details(self, repo, num, discussion):
        return {"title": discussion["title"], "num": num, "author": {"name": "alice"}, "createdAt": WHEN,
                "status": "open", "repo": {"name": repo, "type": "model"}, "isPullRequest": True,
                "events": discussion["events"], "changes": {"base": "refs/heads/main"}, "filesWithConflicts": [],
                "diff": ""}

    def _comment(self, match, body):
        discussion = self._discussion(match)
        if discussion is None:
            return
        events = discussion["events"]
        if match["rest"] == "/comment":
            author = self.server.accounts[self._token()]
            event = comment_event(f"{len(events):024x}", body["comment"], author=author)
            events.append(event)
            return self._json(200, {"newMessage": event})
        edit = re.fullmatch(r"/comment/([0-9a-f]+)/edit", match["rest"] or "")
        event = next((e for e in events if edit and e["id"] == edit[1]), None)
        if event is None:
            return self._send(404, b'{"error": "Comment not found"}', {})
        event["data"]["latest"]["raw"] = body["content"]
        event["data"]["edited"] = True
        self.server.edits += 1
        self._json(200, {"updatedComment": event})

    def _commit(self, repo, data, create_pr):
        lines = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
        files = {op["value"]["path"]: base64.b64decode(op["value"]["content"])
                 for op in lines if op["key"] == "file"}
        sha = hashlib.sha1(data).hexdigest()
        self.server.commits.append({"repo": repo, "summary": lines[0]["value"]["summary"], "files": files,
                                    "pr": create_pr})
        answer = {"commitUrl": f"{self.server.endpoint}/{repo}/commit/{sha}", "commitOid": sha}
        if create_pr:
            answer["pullRequestUrl"] = f"{self.server.endpoint}/{repo}/discussions/{len(self.server.commits)}"
        else:
            for name, content in files.items():
                (self.server.repos[repo] / name).write_bytes(content)
            self.server.heads[repo] = sha
        self._json(200, answer)

    def _token(self) -> str:
        return (self.headers.get("Authorization") or "").removeprefix("Bearer ")

    def _json(self, status, data):
        self._send(status, json.dumps(data).encode(), {"Content-Type": "application/json"})


@pytest.fixture
def hub_writes(tmp_path):
    """A running HubWithWrites; yields ``(server, env)``: add ``server.repos[repo_id] = folder``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), HubWithWrites)
    server.repos, server.discussions, server.commits, server.posts = {}, {}, [], []
    server.heads, server.shas, server.pr_refs, server.edits = {}, {}, {}, 0
    server.accounts, server.whoami_calls = {HF_TOKEN: BOT_ACCOUNT}, 0
    server.endpoint = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # As test_hub's fixture, but with a token that huggingface_hub sends on its own.
    env = {"HF_ENDPOINT": server.endpoint, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "0",
           "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HUB_ETAG_TIMEOUT": "5",
           "HF_HUB_DOWNLOAD_TIMEOUT": "5", "HF_TOKEN": HF_TOKEN, "HF_HUB_DISABLE_IMPLICIT_TOKEN": "0"}
    try:
        yield server, env
    finally:
        server.shutdown()
        server.server_close()


def hub_comment(env, report):
    return run_subprocess("comment", "hub", report, "--repo-id", "acme/model", "--pr", "3", env=env)


def held_comparison():
    comparison = make_comparison()
    comparison.capabilities[0].verdict = "held"
    return comparison


def test_two_runs_leave_one_hub_comment(hub_writes, tmp_path):
    server, env = hub_writes
    server.repos["acme/model"] = tmp_path
    people = [comment_event("a" * 24, "Looks good?", author="alice"),
              comment_event("b" * 24, "> quoted\n> " + marker(), author="bob")]
    server.discussions[("acme/model", 3)] = {"title": "More SFT", "events": list(people)}
    report = save_report(tmp_path)

    first = hub_comment(env, report)
    assert first.returncode == 0, first.stderr
    assert "comment created on acme/model #3" in first.stdout
    second = hub_comment(env, report)
    assert "comment unchanged" in second.stdout
    third = hub_comment(env, save_report(tmp_path, held_comparison()))
    assert "comment updated" in third.stdout, third.stderr

    events = server.discussions[("acme/model", 3)]["events"]
    mine = [e for e in events if is_ours(e["data"]["latest"]["raw"], marker())]
    assert len(events) == 3 and len(mine) == 1 and server.edits == 1
    assert events[:2] == people  # nobody else's comment was touched
    body = mine[0]["data"]["latest"]["raw"]
    assert body.startswith("## ") and "<script>" not in body and "@octocat" not in body
    assert HF_TOKEN not in first.stdout + first.stderr + third.stdout + third.stderr


def test_an_attackers_hub_comment_with_our_marker_is_never_edited(hub_writes, tmp_path):
    server, env = hub_writes
    server.repos["acme/model"] = tmp_path
    planted = [comment_event("a" * 24, "## ✅ forgetcheck: nothing regressed\n\n" + marker() + "\n",
                             author="mallory"),
               # The bot's own account quoting text that carries the marker, off its canonical line.
               comment_event("b" * 24, "quoted\u2028" + marker(), author=BOT_ACCOUNT),
               comment_event("c" * 24, "quoted\r\n\r\n" + marker() + "\r\n", author=BOT_ACCOUNT)]
    server.discussions[("acme/model", 3)] = {"title": "More SFT", "events": json.loads(json.dumps(planted))}
    first = hub_comment(env, save_report(tmp_path))
    assert "comment created" in first.stdout, first.stderr
    second = hub_comment(env, save_report(tmp_path, held_comparison()))
    assert "comment updated" in second.stdout, second.stderr
    events = server.discussions[("acme/model", 3)]["events"]
    assert events[:3] == planted and len(events) == 4 and server.edits == 1
    assert events[3]["author"]["name"] == BOT_ACCOUNT and "held" in events[3]["data"]["latest"]["raw"]


def test_hub_comment_errors_are_one_line(hub_writes, tmp_path):
    server, env = hub_writes
    server.repos["acme/model"] = tmp_path
    server.discussions[("acme/model", 3)] = {"title": "x", "events": []}
    missing = run_subprocess("comment", "hub", save_report(tmp_path), "--repo-id", "acme/model", "--pr", "4",
                             env=env)
    assert missing.returncode == 2 and "acme/model discussion #4" in missing.stderr
    assert "Traceback" not in missing.stderr
    no_token = run_subprocess("comment", "hub", save_report(tmp_path), "--repo-id", "acme/model", "--pr", "3",
                              env={**env, "HF_TOKEN": ""})
    assert no_token.returncode == 2 and "HF_TOKEN" in no_token.stderr and "Traceback" not in no_token.stderr
    assert not server.discussions[("acme/model", 3)]["events"]


def test_card_on_the_hub_commits_once_then_changes_nothing(hub_writes, tmp_path):
    server, env = hub_writes
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "README.md").write_text("---\nlicense: mit\n---\n# My model\n\nHand-written.\n")
    server.repos["acme/model"] = repo
    report = save_report(tmp_path)

    first = run_subprocess("card", report, "--repo-id", "acme/model", "--with-chart", env=env)
    assert first.returncode == 0, first.stderr
    assert "acme/model card committed" in first.stdout
    commit = server.commits[0]
    assert set(commit["files"]) == {"README.md", CHART_NAME} and not commit["pr"]
    card = (repo / "README.md").read_text()
    assert card.startswith("---\nlicense: mit\n") and "# My model\n\nHand-written.\n\n" + START in card
    assert f"]({CHART_NAME})" in card and (repo / CHART_NAME).read_bytes()[:4] == b"\x89PNG"
    assert ModelCard(card).data.base_model == "Qwen/Qwen2.5-0.5B-Instruct"

    again = run_subprocess("card", report, "--repo-id", "acme/model", "--with-chart", env=env)
    assert "unchanged" in again.stdout, again.stderr
    assert len(server.commits) == 1


def test_card_on_the_hub_as_a_pull_request(hub_writes, tmp_path):
    server, env = hub_writes
    repo = tmp_path / "repo"
    repo.mkdir()  # a repository with no README yet
    server.repos["acme/model"] = repo
    result = run_subprocess("card", save_report(tmp_path), "--repo-id", "acme/model", "--create-pr", env=env)
    assert result.returncode == 0, result.stderr
    assert "opened a pull request" in result.stdout and "/discussions/1" in result.stdout
    assert server.commits[0]["pr"] and not (repo / "README.md").exists()
    assert server.commits[0]["files"]["README.md"].decode().startswith("---\nmodel-index:")
    unknown = run_subprocess("card", save_report(tmp_path), "--repo-id", "acme/nope", env=env)
    assert unknown.returncode == 2 and "acme/nope" in unknown.stderr and "Traceback" not in unknown.stderr


def test_an_unreachable_hub_is_one_line(hub_writes, tmp_path):
    _, env = hub_writes
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    result = hub_comment({**env, "HF_ENDPOINT": f"http://127.0.0.1:{closed.getsockname()[1]}"}, save_report(tmp_path))
    closed.close()
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "the Hub cannot be reached" in result.stderr
