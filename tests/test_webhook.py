"""``forgetcheck serve-webhook`` end to end: Hub webhook payloads in, Hub PR comments out.

The server runs as a user runs it (a subprocess of the real CLI), against the fake
Hub of test_hub_comment.py holding a tiny model whose pull requests point at real
weights: PR 1 is the forgetful LoRA adapter, PR 2 is pushed twice while the repo is
busy, PR 3 names a commit the Hub does not have. The payloads are the Hub's own
shapes (``discussion`` and ``repo.content`` scopes, webhook version 3).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from forgetcheck.integrations.webhook import Job, jobs_from_payload
from forgetcheck.report.comment import is_ours, marker
from tests.conftest import write_suite
from tests.test_hub import fake_sha
from tests.test_hub_comment import hub_writes  # noqa: F401  (the fixture)

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
def webhook_server(hub_writes, tiny_base, forgetful_adapter, tmp_path):  # noqa: F811
    server, env = hub_writes
    server.repos[REPO] = tiny_base
    server.shas.update({SHA_PR1: forgetful_adapter, SHA_A: tiny_base, SHA_B: tiny_base})
    server.pr_refs["refs/pr/1"] = SHA_PR1
    for num in (1, 2, 3):
        server.discussions[(REPO, num)] = {"title": f"PR {num}", "events": []}
    suite = write_suite(tmp_path / "suite", n_facts=8)
    process = subprocess.Popen(
        [sys.executable, "-m", "forgetcheck.cli", "serve-webhook", "--port", "0", "--suite", str(suite),
         "--out", str(tmp_path / "reports"), "--watch", REPO],
        env={**os.environ, **env, "FORGETCHECK_WEBHOOK_SECRET": SECRET, "OMP_NUM_THREADS": "1"},
        stderr=subprocess.PIPE, text=True)
    log: list[str] = []
    started = threading.Event()

    def read_log():
        for line in process.stderr:
            log.append(line)
            started.set() if "serving Hub webhooks on" in line else None

    threading.Thread(target=read_log, daemon=True).start()
    try:
        assert started.wait(60), "".join(log)
        port = int(next(line for line in log if "serving" in line).split("127.0.0.1:")[1].split()[0])
        yield server, port, log, process
    finally:
        process.terminate()
        process.wait(10)


def comments(server, num: int) -> list[str]:
    events = server.discussions[(REPO, num)]["events"]
    return [e["data"]["latest"]["raw"] for e in events if is_ours(e["data"]["latest"]["raw"], marker())]


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


def test_serve_webhook_needs_a_secret(tmp_path):
    from tests.test_cli import assert_one_line_error, run_subprocess

    result = run_subprocess("serve-webhook", "--port", "0", env={"FORGETCHECK_WEBHOOK_SECRET": ""})
    assert_one_line_error(result, "FORGETCHECK_WEBHOOK_SECRET")
