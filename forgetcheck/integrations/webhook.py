"""``forgetcheck serve-webhook``: check every Hub pull request of a model repo as it arrives.

Point a Hub webhook (scopes ``repo.content`` and ``discussion``) at this server. On
a new pull request, or a new commit pushed to one, it compares ``refs/pr/N`` with
the branch the pull request targets and posts the sticky comment on the pull request.

* **Only the Hub may ask.** The ``X-Webhook-Secret`` header must equal the secret
  (compared in constant time); anything else is answered 401 and ignored.
* **Fast answers.** The handler only reads the payload and queues a job; the Hub
  gets 202 within milliseconds, and comparisons run in the background.
* **One at a time per repo.** Each repo has one worker; a newer push to a pull
  request replaces that pull request's queued job, so a busy PR is compared once,
  at its newest commit, not once per push. A commit already compared is skipped
  (a new PR sends both a ``discussion`` and a ``repo.content`` event).
* **Survives failures.** A comparison that fails posts the failure as the PR's
  comment; the server keeps serving.

A pull request's weights come from whoever opened it, so the server never allows
pickle weights or remote code, whatever the models ask.
"""

from __future__ import annotations

import hmac
import json
import re
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from forgetcheck.errors import ForgetcheckError

MAX_PAYLOAD_BYTES = 1_000_000
_PR_REF = re.compile(r"refs/pr/(\d+)\Z")


@dataclass
class Job:
    """Compare pull request ``pr`` of ``repo`` (at ``sha``, or its head when None) with ``base``."""

    repo: str
    pr: int
    sha: str | None
    base: str = "main"


@dataclass
class WebhookSettings:
    """What every comparison of the server uses."""

    suite: str = "core"
    tolerance: float = 0.02
    confidence: float = 0.95
    dtype: str = "auto"
    device: str = "auto"
    batch_tokens: int | None = None
    out_dir: Path = Path("forgetcheck-webhook")
    key: str = ""
    log: Callable[[str], None] = field(default=lambda m: print(f"forgetcheck webhook: {m}", file=sys.stderr,
                                                                  flush=True))


def jobs_from_payload(payload: Any, watched: set[str]) -> tuple[list[Job], str]:
    """The comparisons a Hub webhook payload asks for, or none and the reason."""
    if not isinstance(payload, dict):
        return [], "not a Hub webhook payload"
    event, repo = payload.get("event") or {}, payload.get("repo") or {}
    name, scope, action = repo.get("name"), event.get("scope"), event.get("action")
    if repo.get("type") != "model" or not isinstance(name, str):
        return [], "not a model repository"
    if watched and name not in watched:
        return [], f"{name} is not watched"
    discussion = payload.get("discussion") or {}
    base = _branch((discussion.get("changes") or {}).get("base"))
    if scope == "discussion" and action == "create" and discussion.get("isPullRequest"):
        if discussion.get("status") in ("open", "draft") and isinstance(discussion.get("num"), int):
            return [Job(name, discussion["num"], None, base)], ""
    if scope == "repo.content":
        jobs = []
        for ref in payload.get("updatedRefs") or []:
            found = _PR_REF.match(str(ref.get("ref", "")))
            if found and ref.get("newSha"):  # newSha is null when the ref was deleted
                jobs.append(Job(name, int(found.group(1)), str(ref["newSha"]), base))
        if jobs:
            return jobs, ""
    # Comments (our own included) and other events never start a comparison.
    return [], f"not a new or updated pull request (scope {scope}, action {action})"


def _branch(ref: Any) -> str:
    return ref.removeprefix("refs/heads/") if isinstance(ref, str) and ref else "main"


class JobQueue:
    """Per-repo queues, each drained by one worker thread while it has jobs."""

    def __init__(self, run: Callable[[Job], None]):
        self._run = run
        self._lock = threading.Lock()
        self._pending: dict[str, dict[int, Job]] = {}
        self._busy: set[str] = set()

    def submit(self, job: Job) -> Job | None:
        """Queue ``job``; returns the queued job for the same PR that it replaced, if any."""
        with self._lock:
            pending = self._pending.setdefault(job.repo, {})
            replaced = pending.get(job.pr)
            pending[job.pr] = job
            if job.repo not in self._busy:
                self._busy.add(job.repo)
                threading.Thread(target=self._work, args=(job.repo,), daemon=True,
                                 name=f"forgetcheck {job.repo}").start()
        return replaced

    def _work(self, repo: str) -> None:
        while True:
            with self._lock:
                pending = self._pending.get(repo)
                if not pending:
                    self._pending.pop(repo, None)
                    self._busy.discard(repo)
                    return
                job = pending.pop(next(iter(pending)))
            try:
                self._run(job)
            except Exception:  # a worker that dies would leave its repo stuck as busy
                traceback.print_exc()


class Checker:
    """Runs one job: resolve the commits, compare, write the report, post the comment."""

    def __init__(self, settings: WebhookSettings):
        self.settings = settings
        self._done: dict[tuple[str, int], str] = {}

    def __call__(self, job: Job) -> None:
        from huggingface_hub import HfApi

        from forgetcheck.integrations.hub import hub_errors, post_hub_comment
        from forgetcheck.report.comment import comment_body, failure_body, marker

        log, what = self.settings.log, f"{job.repo}#{job.pr}"
        try:
            with hub_errors(f"{job.repo} refs/pr/{job.pr}"):
                sha = job.sha or HfApi().model_info(job.repo, revision=f"refs/pr/{job.pr}").sha
            if self._done.get((job.repo, job.pr)) == sha:
                log(f"{what} at {sha[:12]}: already compared, skipped")
                return
            with hub_errors(f"{job.repo}@{job.base}"):
                base_sha = HfApi().model_info(job.repo, revision=job.base).sha
            log(f"{what} at {sha[:12]}: comparing with {job.base} ({base_sha[:12]})")
            comparison = self._compare(f"{job.repo}@{base_sha}", f"{job.repo}@{sha}")
            folder = self.settings.out_dir / job.repo.replace("/", "--") / f"pr-{job.pr}"
            from forgetcheck.report.files import write_report_folder

            write_report_folder(comparison, folder)
            body = comment_body(comparison, key=self.settings.key)
            self._done[(job.repo, job.pr)] = sha
            log(f"{what} at {sha[:12]}: {comparison.verdict}; report in {folder}")
        except ForgetcheckError as exc:
            log(f"{what}: comparison failed: {exc}")
            body = failure_body(f"pull request #{job.pr} of {job.repo}", str(exc), key=self.settings.key)
        except Exception as exc:  # a bug or a broken model must not take the server down
            traceback.print_exc()
            log(f"{what}: comparison failed ({type(exc).__name__})")
            body = failure_body(f"pull request #{job.pr} of {job.repo}",
                                f"{type(exc).__name__}: {exc}", key=self.settings.key)
        try:
            done, url = post_hub_comment(job.repo, job.pr, body, marker(self.settings.key))
            log(f"{what}: comment {done} {url}".rstrip())
        except ForgetcheckError as exc:
            log(f"{what}: could not post the comment: {exc}")

    def _compare(self, base: str, candidate: str):
        from forgetcheck.workflows.compare import compare

        s = self.settings
        return compare(base, candidate, s.suite, tolerance=s.tolerance, confidence=s.confidence, dtype=s.dtype,
                       device=s.device, batch_tokens=s.batch_tokens, allow_pickle=False,
                       trust_remote_code=False, progress=False, warn=lambda m: s.log(f"warning: {m}"))


class WebhookHandler(BaseHTTPRequestHandler):
    """Answers the Hub's POSTs; ``self.server`` carries ``secret``, ``watched`` and ``queue``."""

    def do_GET(self):  # noqa: N802  (a health check for load balancers and people)
        self._answer(200, {"forgetcheck": "serving; POST Hub webhook payloads here"})

    def do_POST(self):  # noqa: N802
        given = self.headers.get("X-Webhook-Secret", "")
        if not hmac.compare_digest(given.encode(), self.server.secret.encode()):
            return self._answer(401, {"error": "missing or wrong X-Webhook-Secret"})
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_PAYLOAD_BYTES:
            return self._answer(413, {"error": "payload too large"})
        try:
            payload = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            return self._answer(400, {"error": "the body is not JSON"})
        jobs, reason = jobs_from_payload(payload, self.server.watched)
        if not jobs:
            return self._answer(200, {"ignored": reason})
        answer: dict[str, Any] = {"queued": [f"{j.repo}#{j.pr}@{j.sha or 'head'}" for j in jobs]}
        for job in jobs:
            replaced = self.server.queue.submit(job)
            if replaced is not None:
                answer.setdefault("replaced", []).append(f"{replaced.repo}#{replaced.pr}@{replaced.sha or 'head'}")
        self._answer(202, answer)

    def _answer(self, status: int, data: dict[str, Any]) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002  (the server logs jobs, not every request)
        pass


def make_server(host: str, port: int, secret: str, watched: set[str],
                settings: WebhookSettings) -> ThreadingHTTPServer:
    """A webhook server bound to ``host:port`` (port 0 picks a free one); call ``serve_forever``."""
    server = ThreadingHTTPServer((host, port), WebhookHandler)
    server.daemon_threads = True
    server.secret, server.watched = secret, watched
    server.queue = JobQueue(Checker(settings))
    return server
