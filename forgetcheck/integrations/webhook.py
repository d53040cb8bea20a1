"""``forgetcheck serve-webhook``: check every Hub pull request of a model repo as it arrives.

Point a Hub webhook (scopes ``repo.content`` and ``discussion``) at this server. On
a new pull request, or a new commit pushed to one, it compares ``refs/pr/N`` with
the branch the pull request targets and comments on the pull request.

* **The comment modes of ``comment hub``.** ``--mode`` (update, recreate, hide-old,
  off), ``--on`` (always, change, alert), ``--alert-threshold`` and ``--key`` mean what
  they mean there (:mod:`forgetcheck.integrations.comment_policy`). A failed
  comparison's notice is a result of its own: ``--on alert`` posts it too (silence
  would read as "nothing regressed"), and ``--on change`` posts it unless the earlier
  comment reports the same failure; the next result that differs replaces it.
* **Only the Hub may ask.** The ``X-Webhook-Secret`` header must equal the secret
  (compared in constant time); anything else is answered 401 and ignored.
* **Fast answers.** The handler only reads the payload and queues a job; the Hub
  gets 202 within milliseconds, and comparisons run in the background.
* **Bounded work.** A fixed pool of workers (``--workers``, default 1: a
  comparison loads two models, and two at once can run a GPU out of memory) runs
  the comparisons, one at a time per repo. At most ``--max-queued`` jobs wait; one
  more is answered 503 with ``Retry-After``, so a flood of repos queues neither
  threads nor memory (the Hub retries a failed delivery). A newer push to a pull
  request replaces that pull request's queued job, so a busy PR is compared once,
  at its newest commit, not once per push; a commit already compared is skipped
  (a new PR sends both a ``discussion`` and a ``repo.content`` event).
* **Bounded connections.** A body is read up to 1 MB, by ``Content-Length`` or
  chunk by chunk, and a bad length is answered 400, a longer body 413. Each
  connection has a socket timeout, so half-open connections end, and at most
  ``MAX_CONNECTIONS`` are served at once (more are answered 503 and closed).
* **Survives failures.** A comparison that fails posts the failure as the PR's
  comment; a request that fails is answered 500; the server keeps serving.
* **Log lines cannot be forged.** A repo name must look like a Hub id
  (``org/name``, no spaces or control characters) before it is logged or queued.

A pull request's weights come from whoever opened it, so the server never allows
pickle weights or remote code, whatever the models ask.
"""

from __future__ import annotations

import hashlib
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
from forgetcheck.integrations.redaction import redact_tokens
from forgetcheck.options import DEFAULTS, CompareOptions

MAX_PAYLOAD_BYTES = 1_000_000
MAX_QUEUED = 100
MAX_CONNECTIONS = 32
SOCKET_TIMEOUT_S = 10.0
_PR_REF = re.compile(r"refs/pr/(\d+)\Z")
# A Hub repo id: what may be logged, queued and turned into a folder name.
_HUB_REPO = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}\Z")
_SHA = re.compile(r"[0-9a-f]{40}\Z")


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
    # How each comparison judges and scores; the webhook never loads pickle weights or remote code,
    # and shows no progress bars (its output is a log).
    options: CompareOptions = field(default_factory=lambda: DEFAULTS.with_overrides(progress=False))
    out_dir: Path = Path("forgetcheck-webhook")
    key: str = ""
    # How the comment is kept, as ``comment hub`` takes them (forgetcheck.integrations.comment_policy).
    mode: str = "update"
    on: str = "always"
    alert_threshold: float | None = None  # points; None: each report's tolerance
    log: Callable[[str], None] = field(default=lambda message: print(f"forgetcheck webhook: {log_line(message)}",
                                                                        file=sys.stderr, flush=True))


def log_line(message: str) -> str:
    r"""``message`` as one log line: control characters (CR, LF, ESC, U+2028 ...) escaped.

    Messages quote what the Hub and the models said; a line break in one would
    let them write a log line of their own.

    >>> log_line("acme/model#1: done\nforgetcheck webhook: all held\x1b[2K")
    'acme/model#1: done\\nforgetcheck webhook: all held\\x1b[2K'
    """
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in message)


def jobs_from_payload(payload: Any, watched: set[str]) -> tuple[list[Job], str]:
    """The comparisons a Hub webhook payload asks for, or none and the reason."""
    if not isinstance(payload, dict):
        return [], "not a Hub webhook payload"
    # Every level is checked for its type: a payload is data from the network, and a
    # list where a mapping belongs must be "ignored", not an exception.
    event, repo, discussion = (_mapping(payload.get(k)) for k in ("event", "repo", "discussion"))
    name, scope, action = repo.get("name"), event.get("scope"), event.get("action")
    if repo.get("type") != "model" or not isinstance(name, str):
        return [], "not a model repository"
    if not _HUB_REPO.match(name) or ".." in name:
        return [], "the repository name is not a Hub id (org/name)"
    if watched and name not in watched:
        return [], f"{name} is not watched"
    base = _branch(_mapping(discussion.get("changes")).get("base"))
    number = discussion.get("num")
    if scope == "discussion" and action == "create" and discussion.get("isPullRequest") is True:
        if discussion.get("status") in ("open", "draft") and type(number) is int and number > 0:
            return [Job(name, number, None, base)], ""
    if scope == "repo.content":
        jobs = []
        refs = payload.get("updatedRefs")
        for ref in refs if isinstance(refs, list) else []:
            ref = _mapping(ref)
            found = _PR_REF.match(str(ref.get("ref", "")))
            # newSha is null when the ref was deleted; anything but a sha is not the Hub's.
            if found and isinstance(ref.get("newSha"), str) and _SHA.match(ref["newSha"]):
                jobs.append(Job(name, int(found.group(1)), ref["newSha"], base))
        if jobs:
            return jobs, ""
    # Comments (our own included) and other events never start a comparison.
    return [], f"not a new or updated pull request (scope {str(scope)[:40]}, action {str(action)[:40]})"


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _branch(ref: Any) -> str:
    branch = ref.removeprefix("refs/heads/") if isinstance(ref, str) and ref else "main"
    # A branch name is logged and sent to the Hub as a revision: no control characters, no spaces.
    return branch if re.fullmatch(r"[\w./-]{1,200}", branch) else "main"


class QueueFull(Exception):
    """More jobs wait than the server takes; the sender should try again later."""


class JobQueue:
    """Jobs waiting for a fixed pool of workers, one job at a time per repo.

    ``workers`` threads take the oldest job whose repo is not already being
    compared; at most ``max_queued`` jobs wait. The pool is the global bound on
    concurrent comparisons: forty repos at once still make ``workers`` threads.
    """

    def __init__(self, run: Callable[[Job], None], *, workers: int = 1, max_queued: int = MAX_QUEUED):
        self._run = run
        self._changed = threading.Condition()
        self._pending: dict[tuple[str, int], Job] = {}  # insertion order is arrival order
        self._busy: set[str] = set()
        self.max_queued = max_queued
        self._workers = [threading.Thread(target=self._work, daemon=True, name=f"forgetcheck worker {i}")
                         for i in range(workers)]
        for worker in self._workers:
            worker.start()

    def submit(self, job: Job) -> Job | None:
        """Queue ``job``; returns the queued job for the same PR that it replaced, if any.

        Raises :class:`QueueFull` when ``max_queued`` jobs already wait.
        """
        with self._changed:
            replaced = self._pending.pop((job.repo, job.pr), None)
            if replaced is None and len(self._pending) >= self.max_queued:
                raise QueueFull(f"{len(self._pending)} jobs are waiting")
            self._pending[(job.repo, job.pr)] = job
            self._changed.notify_all()
        return replaced

    def waiting(self) -> int:
        with self._changed:
            return len(self._pending)

    def _next(self) -> Job:
        with self._changed:
            while True:
                key = next((k for k in self._pending if k[0] not in self._busy), None)
                if key is not None:
                    self._busy.add(key[0])
                    return self._pending.pop(key)
                self._changed.wait()

    def _work(self) -> None:
        while True:
            job = self._next()
            try:
                self._run(job)
            except Exception:  # a worker that dies would leave its repo stuck as busy
                traceback.print_exc()
            finally:
                with self._changed:
                    self._busy.discard(job.repo)
                    self._changed.notify_all()


class JobRunner:
    """Runs one job: resolve the commits, compare, write the report, post the comment.

    (Not :mod:`forgetcheck.suites.checkers`, which checks a model's answers.)
    """

    def __init__(self, settings: WebhookSettings):
        self.settings = settings
        self._done: dict[tuple[str, int], str] = {}

    def __call__(self, job: Job) -> None:
        from huggingface_hub import HfApi

        from forgetcheck.integrations.comment_policy import alerts, comment_with_digest
        from forgetcheck.integrations.hub import hub_errors

        s = self.settings
        log, what = s.log, f"{job.repo}#{job.pr}"
        alert = True  # a failure is always worth a notice, under --on alert too
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
            folder = s.out_dir / job.repo.replace("/", "--") / f"pr-{job.pr}"
            from forgetcheck.report.files import write_report_folder

            write_report_folder(comparison, folder)
            body = comment_with_digest(comparison, key=s.key)
            alert = alerts(comparison, s.alert_threshold) if s.on == "alert" else True
            self._done[(job.repo, job.pr)] = sha
            log(f"{what} at {sha[:12]}: {comparison.verdict}; report in {folder}")
        except ForgetcheckError as exc:
            log(f"{what}: comparison failed: {exc}")
            body = failure_comment(job, redact_tokens(str(exc)), s.key)
        except Exception as exc:  # a bug or a broken model must not take the server down
            traceback.print_exc()
            log(f"{what}: comparison failed ({type(exc).__name__})")
            # The comment is public: whatever the exception quotes must not carry a token.
            body = failure_comment(job, redact_tokens(f"{type(exc).__name__}: {exc}"), s.key)
        self._comment(job, body, alert)

    def _comment(self, job: Job, body: str, alert: bool) -> None:
        """Keep the pull request's comment by the settings' mode and ``on``; log what became of it."""
        from forgetcheck.integrations.hub import keep_hub_comment
        from forgetcheck.report.comment import marker

        s, what = self.settings, f"{job.repo}#{job.pr}"
        if s.mode == "off":
            s.log(f"{what}: no comment (--mode off)")
            return
        try:
            posted = keep_hub_comment(job.repo, job.pr, body, marker(s.key), mode=s.mode, on=s.on, alert=alert)
        except ForgetcheckError as exc:
            s.log(f"{what}: could not post the comment: {exc}")
            return
        if posted.what == "skipped":
            s.log(f"{what}: no comment: nothing regressed beyond the alert threshold (--on alert)")
            return
        hidden = f" ({posted.retired} earlier hidden)" if posted.retired else ""
        s.log(f"{what}: comment {posted.what}{hidden} {posted.url}".rstrip())

    def _compare(self, base: str, candidate: str):
        from forgetcheck.workflows.compare import compare

        s = self.settings
        options = s.options.with_overrides(allow_pickle=False, trust_remote_code=False, progress=False)
        return compare(base, candidate, s.suite, options, warn=lambda m: s.log(f"warning: {m}"))


def failure_comment(job: Job, message: str, key: str) -> str:
    """The notice that ``job``'s comparison failed, with a digest of the failure itself.

    The digest lets ``--on change`` tell a repeated failure (the same notice: left
    as it is) from a new one or from results (posted), as it does for results.
    """
    from forgetcheck.integrations.comment_policy import with_digest
    from forgetcheck.report.comment import failure_body, marker

    body = failure_body(f"pull request #{job.pr} of {job.repo}", message, key=key)
    return with_digest(body, marker(key), hashlib.sha256(b"failed\n" + body.encode()).hexdigest()[:16])


class BadBody(Exception):
    """The request's body cannot be read within the rules; ``status`` says how to answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class WebhookHandler(BaseHTTPRequestHandler):
    """Answers the Hub's POSTs; ``self.server`` carries ``secret``, ``watched`` and ``queue``."""

    timeout = SOCKET_TIMEOUT_S  # per connection: a half-open client ends here, not never

    def do_GET(self):  # noqa: N802  (a health check for load balancers and people)
        self._answer(200, {"forgetcheck": "serving; POST Hub webhook payloads here",
                           "waiting": self.server.queue.waiting()})

    def do_POST(self):  # noqa: N802
        try:
            self._post()
        except (TimeoutError, ConnectionError):
            self.close_connection = True  # the client went away or stalled: nobody to answer
        except Exception:  # a bug here must still answer, or the Hub sees a dropped connection
            traceback.print_exc()
            self._answer(500, {"error": "the server failed on this request; see its log"})

    def _post(self) -> None:
        given = self.headers.get("X-Webhook-Secret", "")
        if not hmac.compare_digest(given.encode(), self.server.secret.encode()):
            return self._answer(401, {"error": "missing or wrong X-Webhook-Secret"})
        try:
            payload = json.loads(self._body() or b"null")
        except BadBody as exc:
            return self._answer(exc.status, {"error": str(exc)})
        except ValueError:
            return self._answer(400, {"error": "the body is not JSON"})
        jobs, reason = jobs_from_payload(payload, self.server.watched)
        if not jobs:
            return self._answer(200, {"ignored": reason})
        answer: dict[str, Any] = {"queued": []}
        for job in jobs:
            try:
                replaced = self.server.queue.submit(job)
            except QueueFull as exc:
                self.server.settings.log(f"{job.repo}#{job.pr}: not queued, {exc}")
                return self._answer(503, {"error": f"busy: {exc}; try again later", **answer},
                                    {"Retry-After": "60"})
            answer["queued"].append(f"{job.repo}#{job.pr}@{job.sha or 'head'}")
            if replaced is not None:
                answer.setdefault("replaced", []).append(f"{replaced.repo}#{replaced.pr}@{replaced.sha or 'head'}")
        self._answer(202, answer)

    def _body(self) -> bytes:
        """The body, at most ``MAX_PAYLOAD_BYTES``, by Content-Length or chunk by chunk."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._chunked_body()
        length = self.headers.get("Content-Length")
        if length is None:
            raise BadBody(411, "send a Content-Length or a chunked body")
        if not length.strip().isdigit():  # rfile.read(-1) would read to the end, past any cap
            raise BadBody(400, "the Content-Length is not a number of bytes")
        if int(length) > MAX_PAYLOAD_BYTES:
            raise BadBody(413, "payload too large")
        return self.rfile.read(int(length))

    def _chunked_body(self) -> bytes:
        self.close_connection = True  # whatever happens, do not read a next request from this stream
        body = bytearray()
        while True:
            line = self.rfile.readline(100)
            size = line.split(b";")[0].strip()
            if not size or not all(c in b"0123456789abcdefABCDEF" for c in size) or len(size) > 8:
                raise BadBody(400, "a chunk's size is not a hex number")
            if int(size, 16) == 0:
                return bytes(body)
            if len(body) + int(size, 16) > MAX_PAYLOAD_BYTES:
                raise BadBody(413, "payload too large")
            body += self.rfile.read(int(size, 16))
            self.rfile.readline(3)  # the CRLF after each chunk

    def _answer(self, status: int, data: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", "Content-Length": str(len(body)),
                            **(headers or {})}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002  (the server logs jobs, not every request)
        pass


class WebhookServer(ThreadingHTTPServer):
    """A threading HTTP server that serves at most ``MAX_CONNECTIONS`` connections at once.

    Past that a connection is answered 503 and closed without a thread of its own,
    so many slow or half-open clients cannot pile up threads.
    """

    daemon_threads = True
    max_connections = MAX_CONNECTIONS
    request_queue_size = 128  # socketserver's 5 makes a burst of connections wait seconds for SYN retries

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._slots = threading.BoundedSemaphore(self.max_connections)

    def process_request(self, request, client_address):
        if not self._slots.acquire(blocking=False):
            try:
                request.sendall(b"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 0\r\n\r\n")
                # Closing with unread bytes would reset the connection and lose the answer.
                request.setblocking(False)
                request.recv(65536)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


def make_server(host: str, port: int, secret: str, watched: set[str], settings: WebhookSettings, *,
                workers: int = 1, max_queued: int = MAX_QUEUED,
                run: Callable[[Job], None] | None = None) -> WebhookServer:
    """A webhook server bound to ``host:port`` (port 0 picks a free one); call ``serve_forever``.

    ``run`` replaces the job runner (a comparison and a comment) where a caller has its own.
    """
    server = WebhookServer((host, port), WebhookHandler)
    server.secret, server.watched, server.settings = secret, watched, settings
    server.queue = JobQueue(run or JobRunner(settings), workers=workers, max_queued=max_queued)
    return server
