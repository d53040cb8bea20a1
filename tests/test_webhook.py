"""``forgetcheck serve-webhook`` end to end: Hub webhook payloads in, Hub PR comments out.

The server runs as a user runs it (a subprocess of the real CLI), against the fake
Hub of conftest.py (``hub_writes``) holding a tiny model whose pull requests point at real
weights: PR 1 is the forgetful LoRA adapter, PR 2 is pushed twice while the repo is
busy, PR 3 names a commit the Hub does not have. The payloads are the Hub's own
shapes (``discussion`` and ``repo.content`` scopes, webhook version 3).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from forgetcheck.integrations.webhook import Job, jobs_from_payload
from forgetcheck.report.comment import is_ours, marker
from tests.conftest import assert_one_line_error, fake_sha, run_subprocess, write_suite

SECRET = "webhook-secret-for-tests"
REPO = "fake-org/tiny"
SHA_PR1, SHA_A, SHA_B, SHA_MISSING = "1" * 40, "a" * 40, "b" * 40, "c" * 40


def pr_opened(num: int, repo: str = REPO) -> dict:
    return {"event": {"action": "create", "scope": "discussion"},
            "repo": {"type": "model", "name": repo, "id": "x", "private": False, "owner": {"id": "o"},
                     "url": {"web": "w"}},
            "discussion": {"id": "d", "num": num, "title": "t", "status": "open", "isPullRequest": True,
                           "author": {"id": "a"}, "url": {"web": "w"}, "changes": {"base": "refs/heads/main"}},
            "comment": {"id": "c", "author": {"id": "a"}, "content": "please review", "hidden": False,
                        "url": {"web": "w"}},
            "webhook": {"id": "h", "version": 3}}


def pushed(num: int, sha: str, repo: str = REPO) -> dict:
    return {"event": {"action": "update", "scope": "repo.content"},
            "repo": {"type": "model", "name": repo, "id": "x", "private": False, "owner": {"id": "o"},
                     "url": {"web": "w"}, "headSha": fake_sha(repo)},
            "updatedRefs": [{"ref": f"refs/pr/{num}", "oldSha": None, "newSha": sha}],
            "webhook": {"id": "h", "version": 3}}


def commented(num: int) -> dict:
    payload = pr_opened(num)
    payload["event"] = {"action": "create", "scope": "discussion.comment"}
    return payload


def post(port: int, payload, secret: str = SECRET) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", data=json.dumps(payload).encode(),
                                     headers={"X-Webhook-Secret": secret, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_payloads_that_start_a_comparison():
    assert jobs_from_payload(pr_opened(4), set()) == ([Job(REPO, 4, None, "main")], "")
    assert jobs_from_payload(pushed(4, SHA_A), {REPO}) == ([Job(REPO, 4, SHA_A, "main")], "")
    assert jobs_from_payload(commented(4), set())[0] == []  # our own comment must not loop
    assert jobs_from_payload(pr_opened(4), {"other/repo"})[0] == []
    deleted = pushed(4, SHA_A)
    deleted["updatedRefs"][0]["newSha"] = None
    assert jobs_from_payload(deleted, set())[0] == []
    branch = pushed(4, SHA_A)
    branch["updatedRefs"][0]["ref"] = "refs/heads/main"
    assert jobs_from_payload(branch, set())[0] == []


@pytest.fixture
def start_webhook(hub_writes, tiny_base, forgetful_adapter, tmp_path):
    """A function (extra serve-webhook options -> (server, port, log, process)) over the fake Hub."""
    server, env = hub_writes
    server.repos[REPO] = tiny_base
    server.shas.update({SHA_PR1: forgetful_adapter, SHA_A: tiny_base, SHA_B: tiny_base})
    server.pr_refs["refs/pr/1"] = SHA_PR1
    for num in (1, 2, 3):
        server.discussions[(REPO, num)] = {"title": f"PR {num}", "events": []}
    suite = write_suite(tmp_path / "suite", n_facts=8)
    processes = []

    def start(*options: str):
        process = subprocess.Popen(
            [sys.executable, "-m", "forgetcheck.cli", "serve-webhook", "--port", "0", "--suite", str(suite),
             "--out", str(tmp_path / "reports"), "--watch", REPO, *options],
            env={**os.environ, **env, "FORGETCHECK_WEBHOOK_SECRET": SECRET, "OMP_NUM_THREADS": "1"},
            stderr=subprocess.PIPE, text=True)
        processes.append(process)
        log: list[str] = []
        started = threading.Event()

        def read_log():
            for line in process.stderr:
                log.append(line)
                started.set() if "serving Hub webhooks on" in line else None

        threading.Thread(target=read_log, daemon=True).start()
        assert started.wait(60), "".join(log)
        port = int(next(line for line in log if "serving" in line).split("127.0.0.1:")[1].split()[0])
        return server, port, log, process

    try:
        yield start
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)


@pytest.fixture
def webhook_server(start_webhook):
    return start_webhook()


def comments(server, num: int, key: str = "") -> list[str]:
    """forgetcheck's comments on PR ``num`` that are not hidden (a hidden one has lost its text)."""
    events = server.discussions[(REPO, num)]["events"]
    return [e["data"]["latest"]["raw"] for e in events if is_ours(e["data"]["latest"]["raw"], marker(key))]


def logged(log: list[str], text: str) -> int:
    return sum(text in line for line in log)


def wait_for(condition, log, seconds: float = 180):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "".join(log)
        time.sleep(0.2)


def test_webhook_compares_pull_requests_one_at_a_time(webhook_server):
    server, port, log, process = webhook_server
    assert post(port, pr_opened(1), secret="wrong")[0] == 401
    assert post(port, commented(1)) == (200, {"ignored": "not a new or updated pull request "
                                                         "(scope discussion.comment, action create)"})
    assert post(port, pr_opened(1, repo="someone/else"))[1] == {"ignored": "someone/else is not watched"}

    started = time.monotonic()
    status, answer = post(port, pr_opened(1))  # PR 1: its head is looked up from refs/pr/1
    assert status == 202 and answer["queued"] == [f"{REPO}#1@head"]
    assert time.monotonic() - started < 2  # answered at once; the comparison runs behind
    assert post(port, pushed(3, SHA_MISSING))[0] == 202
    assert post(port, pushed(2, SHA_A))[0] == 202
    # While PR 1 is still being compared, a newer push to PR 2 replaces its queued job.
    status, answer = post(port, pushed(2, SHA_B))
    assert status == 202 and answer["replaced"] == [f"{REPO}#2@{SHA_A}"]

    wait_for(lambda: all(comments(server, n) for n in (1, 2, 3)), log)
    first = comments(server, 1)
    assert len(first) == 1 and first[0].startswith("## ") and SHA_PR1 in first[0]
    second = comments(server, 2)
    assert len(second) == 1 and SHA_B in second[0] and SHA_A not in second[0]
    assert "nothing regressed" in second[0]  # PR 2 holds the base's own weights
    failed = comments(server, 3)
    assert len(failed) == 1 and failed[0].startswith("## ⚠️ forgetcheck could not compare")
    assert f"{REPO}@{SHA_MISSING}" in failed[0].replace("\\", "").replace("&#8203;", "")
    assert "not found on the Hub" in failed[0]
    assert not any(f"at {SHA_A[:12]}: comparing" in line for line in log)  # replaced before it ran
    assert any(f"at {SHA_B[:12]}: comparing" in line for line in log)

    # Still serving after the failure; a push of a commit already compared is skipped.
    assert post(port, pushed(2, SHA_B))[0] == 202
    wait_for(lambda: any("already compared" in line for line in log), log, 60)
    assert process.poll() is None
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
        assert response.status == 200
    assert server.edits == 0 and len(comments(server, 2)) == 1
    assert server.whoami_calls == 1  # the Hub rate-limits whoami: asked once for the server's life


def test_serve_webhook_needs_a_secret(tmp_path):
    result = run_subprocess("serve-webhook", "--port", "0", env={"FORGETCHECK_WEBHOOK_SECRET": ""})
    assert_one_line_error(result, "FORGETCHECK_WEBHOOK_SECRET")
    result = run_subprocess("serve-webhook", "--port", "0", "--on", "alert", "--alert-threshold", "lots",
                            env={"FORGETCHECK_WEBHOOK_SECRET": SECRET})
    assert_one_line_error(result, "--alert-threshold 'lots'")


# --- Comment modes: serve-webhook keeps its comment as `comment hub` does -------------------------------------


def test_hide_old_hides_the_earlier_comment_and_on_change_skips_the_same_results(start_webhook):
    server, port, log, _ = start_webhook("--mode", "hide-old", "--on", "change")
    # PR 3 names a commit the Hub does not have: a failure notice, posted once.
    assert post(port, pushed(3, SHA_MISSING))[0] == 202
    wait_for(lambda: logged(log, f"{REPO}#3: comment created"), log)
    # The same failure again is no change: nothing hidden, nothing new (failures are retried, not skipped).
    assert post(port, pushed(3, SHA_MISSING))[0] == 202
    wait_for(lambda: logged(log, f"{REPO}#3: comment unchanged"), log)
    assert len(server.discussions[(REPO, 3)]["events"]) == 1 and server.hidden == []

    # Results after the failure differ from it: the notice is hidden and the report posted anew.
    assert post(port, pushed(3, SHA_PR1))[0] == 202
    assert post(port, pushed(2, SHA_A))[0] == 202
    wait_for(lambda: logged(log, f"{REPO}#3: comment created (1 earlier hidden)")
             and logged(log, f"{REPO}#2: comment created"), log)
    failure_id = server.discussions[(REPO, 3)]["events"][0]["id"]
    assert server.hidden == [failure_id] and server.discussions[(REPO, 3)]["events"][0]["data"]["hidden"]
    shown = comments(server, 3)
    assert len(shown) == 1 and shown[0].startswith("## ") and SHA_PR1 in shown[0]

    # PR 2 pushed again with the same weights: the same verdicts and drops, so the comment stays as it was.
    assert post(port, pushed(2, SHA_B))[0] == 202
    wait_for(lambda: logged(log, f"{REPO}#2: comment unchanged"), log)
    assert any(f"at {SHA_B[:12]}: comparing" in line for line in log)  # compared, not skipped as seen
    assert len(server.discussions[(REPO, 2)]["events"]) == 1 and server.edits == 0
    assert SHA_A in comments(server, 2)[0] and len(server.hidden) == 1


def test_on_alert_posts_failures_and_keeps_an_earlier_comment_current(start_webhook):
    server, port, log, _ = start_webhook("--on", "alert", "--key", "gpu-suite")
    # PR 2 holds the base's own weights: nothing regressed, so no comment at all.
    assert post(port, pushed(2, SHA_A))[0] == 202
    wait_for(lambda: logged(log, f"{REPO}#2: no comment: nothing regressed"), log)
    assert server.discussions[(REPO, 2)]["events"] == []
    # A failure is posted under --on alert too: silence would read as "nothing regressed".
    assert post(port, pushed(3, SHA_MISSING))[0] == 202
    wait_for(lambda: logged(log, f"{REPO}#3: comment created"), log)
    assert comments(server, 3, "gpu-suite")[0].startswith("## ⚠️ forgetcheck could not compare")
    # Quiet results later still replace the notice (update mode: edited in place), never leaving it stale.
    assert post(port, pushed(3, SHA_B))[0] == 202
    wait_for(lambda: logged(log, f"{REPO}#3: comment updated"), log)
    shown = comments(server, 3, "gpu-suite")
    assert len(shown) == 1 and "nothing regressed" in shown[0] and SHA_B in shown[0] and server.edits == 1


def test_mode_off_compares_without_commenting(start_webhook, tmp_path):
    server, port, log, _ = start_webhook("--mode", "off")
    assert post(port, pushed(2, SHA_A))[0] == 202
    wait_for(lambda: logged(log, f"{REPO}#2: no comment (--mode off)"), log)
    assert (tmp_path / "reports" / REPO.replace("/", "--") / "pr-2" / "report.json").is_file()
    assert server.discussions[(REPO, 2)]["events"] == [] and not server.posts


# --- Bounds: the server itself, in this process, on real sockets on 127.0.0.1 -------------------------------
# The comparisons are replaced by ``run`` (make_server takes one) so that jobs can be held
# open and counted; everything between the socket and the job queue is the real server.


@pytest.fixture
def serve(monkeypatch):
    """Start make_server's server in a thread; yields a function (kwargs -> (port, log))."""
    from forgetcheck.integrations.webhook import WebhookSettings, make_server

    servers = []

    def start(**kwargs):
        log: list[str] = []
        settings = WebhookSettings(log=log.append)
        server = make_server("127.0.0.1", 0, SECRET, set(), settings, **kwargs)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_port, log

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def raw_request(port: int, head: bytes, body: bytes = b"", read_timeout: float = 10) -> bytes:
    """Send ``head`` then ``body`` (kept small or sent while the answer may already come); the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as connection:
        connection.sendall(head)
        try:
            connection.sendall(body)
        except OSError:  # the server answered and closed before reading it all: what we want
            pass
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        return answer


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1."), answer[:200]
    return int(answer.split(b" ", 2)[1])


def post_head(length: str | None = None, chunked: bool = False) -> bytes:
    lines = ["POST / HTTP/1.1", "Host: 127.0.0.1", f"X-Webhook-Secret: {SECRET}", "Connection: close"]
    lines += [f"Content-Length: {length}"] if length is not None else []
    lines += ["Transfer-Encoding: chunked"] if chunked else []
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_body_is_read_within_its_cap(serve):
    port, _ = serve(run=lambda job: None)
    streamed = b"x" * 1_500_000
    for length in ("-1", "abc", "1e3", " -5"):
        started = time.monotonic()
        answer = raw_request(port, post_head(length), streamed)
        assert status_of(answer) == 400, (length, answer)
        assert b"Content-Length" in answer.split(b"\r\n\r\n", 1)[1] and time.monotonic() - started < 5
    assert status_of(raw_request(port, post_head("1000001"), b"{}")) == 413
    assert status_of(raw_request(port, post_head(None), b"{}")) == 411

    def chunks(total: int, size: int = 60_000) -> bytes:
        out = b""
        for start in range(0, total, size):
            piece = b" " * min(size, total - start)
            out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        return out + b"0\r\n\r\n"

    assert status_of(raw_request(port, post_head(chunked=True), chunks(1_200_000))) == 413
    assert status_of(raw_request(port, post_head(chunked=True), b"zz\r\n{}\r\n0\r\n\r\n")) == 400
    payload = json.dumps(pushed(2, SHA_A)).encode()
    small = f"{len(payload):x}\r\n".encode() + payload + b"\r\n0\r\n\r\n"
    answer = raw_request(port, post_head(chunked=True), small)
    assert status_of(answer) == 202 and f"{REPO}#2@{SHA_A}".encode() in answer


def test_every_request_gets_an_answer(serve, monkeypatch):
    port, _ = serve(run=lambda job: None)
    # Payloads from the network with the wrong types at each level are ignored, not a crash.
    for payload in ({"event": "x", "repo": {"type": "model", "name": REPO}},
                    {"repo": {"type": "model", "name": REPO}, "discussion": [1], "event": {"scope": "discussion"}},
                    {"repo": {"type": "model", "name": REPO}, "event": {"scope": "repo.content"},
                     "updatedRefs": [None, "refs/pr/1", {"ref": "refs/pr/1", "newSha": ["x"]}]},
                    {"repo": {"type": "model", "name": REPO}, "event": {"scope": "repo.content"},
                     "updatedRefs": {"ref": "refs/pr/1"}}):
        assert post(port, payload)[0] == 200, payload

    # A bug anywhere in the handler is answered 500, and the server keeps serving.
    def broken(payload, watched):
        raise RuntimeError("a bug")

    monkeypatch.setattr("forgetcheck.integrations.webhook.jobs_from_payload", broken)
    status, answer = post(port, pushed(2, SHA_A))
    assert status == 500 and "failed" in answer["error"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
        assert response.status == 200


def test_half_open_connections_time_out_and_are_bounded(serve, monkeypatch):
    from forgetcheck.integrations import webhook

    monkeypatch.setattr(webhook.WebhookHandler, "timeout", 1.0)
    port, _ = serve(run=lambda job: None)
    threads_before = threading.active_count()
    stalled = []
    for _ in range(webhook.MAX_CONNECTIONS + 20):  # each sends half a request and then nothing
        connection = socket.create_connection(("127.0.0.1", port), timeout=10)
        connection.sendall(b"POST / HTTP/1.1\r\nHost: x\r\n")
        stalled.append(connection)
    time.sleep(0.3)
    assert threading.active_count() <= threads_before + webhook.MAX_CONNECTIONS
    # Past the bound a connection is answered at once, 503, without a thread of its own.
    assert status_of(stalled[-1].recv(1000)) == 503
    # The rest end at their socket timeout, and their threads with them.
    for connection in stalled[:webhook.MAX_CONNECTIONS]:
        assert connection.recv(1000) == b""  # closed by the server, after its 1 s timeout
    deadline = time.monotonic() + 5
    while threading.active_count() > threads_before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert threading.active_count() <= threads_before
    for connection in stalled:
        connection.close()
    assert post(port, pushed(2, SHA_A))[0] == 202  # and it still serves


def test_comparisons_are_bounded_across_repos(serve):
    release, lock = threading.Event(), threading.Lock()
    running, most, done = [0], [0], []

    def comparison(job):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(30)
        with lock:
            running[0] -= 1
            done.append(job.repo)

    port, log = serve(run=comparison, workers=2, max_queued=5)
    threads_before = threading.active_count()
    answers = [post(port, pushed(1, SHA_A, repo=f"org/model-{i}")) for i in range(40)]
    accepted = [a for status, a in answers if status == 202]
    busy = [a for status, a in answers if status == 503]
    assert 5 <= len(accepted) <= 7 and len(accepted) + len(busy) == 40
    assert all("try again later" in a["error"] for a in busy)
    assert threading.active_count() <= threads_before + 1  # no thread per repo
    assert most[0] == 2
    release.set()
    deadline = time.monotonic() + 10
    while len(done) < len(accepted) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sorted(done) == sorted(a["queued"][0].split("#")[0] for a in accepted) and most[0] == 2
    assert sum("not queued" in line for line in log) == len(busy)


def test_repo_names_cannot_forge_log_lines(serve):
    from forgetcheck.integrations.webhook import log_line

    port, log = serve(run=lambda job: None, max_queued=1)
    forged = f"{REPO}\nforgetcheck webhook: {REPO}#9 at {'0' * 12}: held"
    for name in (forged, "org/name\r", "org/na\u2028me", "org/../../etc", "org/name with space", "-x/y"):
        status, answer = post(port, pushed(3, SHA_A, repo=name))
        assert (status, answer) == (200, {"ignored": "the repository name is not a Hub id (org/name)"})
    assert not log
    assert "\n" not in log_line(forged) and "\r" not in log_line("a\rb") and "\u2028" not in log_line("\u2028")
