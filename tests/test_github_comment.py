"""``forgetcheck comment github`` against a small fake GitHub API on 127.0.0.1.

The fake is ``FakeGitHub`` of conftest.py, started by the ``github`` fixture.
The client under test is forgetcheck's real one, run through the real CLI.
"""

from __future__ import annotations

import json
import socket

from forgetcheck.comparison import CapabilityResult
from forgetcheck.report.comment import COMMENT_LIMIT, comment_body, is_ours, length, marker
from tests.conftest import BOT, HOSTILE, TOKEN, make_comparison, save_report


def comment(env, report, *args):
    from click.testing import CliRunner

    from forgetcheck.cli import main

    return CliRunner(env=env).invoke(main, ["comment", "github", str(report), *map(str, args)],
                                     catch_exceptions=False)


def ours(server):
    return [c for c in server.comments if is_ours(c["body"], marker())]


def test_two_runs_leave_one_comment_found_across_pages(github, tmp_path):
    server, env = github
    server.page_size = 2  # five comments from people first: ours lands on page 3
    server.comments += [{"id": i, "pr": 7, "body": f"looks good {i}", "user": {"login": "alice"}} for i in range(5)]
    # A person quoting our comment is not our comment.
    server.comments.append({"id": 5, "pr": 7, "body": "> earlier\n> " + marker(), "user": {"login": "bob"}})
    report = save_report(tmp_path)

    first = comment(env, report)
    assert first.exit_code == 0, first.output
    assert "comment created on acme/model#7" in first.output
    second = comment(env, report)
    assert "comment unchanged" in second.output
    assert len(ours(server)) == 1

    # A new report for the same pull request edits the comment in place.
    comparison = make_comparison()
    comparison.capabilities[0].verdict = "held"
    third = comment(env, save_report(tmp_path, comparison))
    assert "comment updated" in third.output
    assert len(ours(server)) == 1 and len(server.comments) == 7
    pages = [path for method, path, _ in server.requests if method == "GET"]
    assert any("page=4" in path for path in pages)  # every page was read before creating
    assert all(auth == f"Bearer {TOKEN}" for _, _, auth in server.requests)
    assert TOKEN not in first.output + second.output + third.output


def test_comment_reads_like_the_report_and_is_inert(github, tmp_path):
    server, env = github
    comment(env, save_report(tmp_path))
    body = ours(server)[0]["body"]
    assert body.splitlines()[0].startswith("## ❌ forgetcheck: 1 capability regressed (arithmetic)")
    assert "| **arithmetic** |" in body and "+4.0 pts [+1.2, +6.9]" in body
    assert body.rstrip().endswith(marker())
    # The hostile answer cannot close the collapsed section, run script, or ping anyone.
    assert body.count("<details>") == body.count("</details>") == 2
    assert "<script>" not in body and "@octocat" not in body and "&lt;/details&gt;" in body


def test_502_then_200_succeeds(github, tmp_path):
    server, env = github
    server.fail.append(("GET", 502, {}))
    result = comment(env, save_report(tmp_path))
    assert result.exit_code == 0, result.output
    assert len(ours(server)) == 1
    # Who am I (GraphQL), the failed list, the list again, the new comment.
    assert [m for m, _, _ in server.requests] == ["POST", "GET", "GET", "POST"]


def test_secondary_rate_limit_is_waited_out(github, tmp_path):
    server, env = github
    server.fail.append(("POST", 403, {"Retry-After": "0",
                                      "message": "You have exceeded a secondary rate limit"}))
    result = comment(env, save_report(tmp_path))
    assert result.exit_code == 0, result.output
    assert len(ours(server)) == 1


def test_persistent_5xx_is_one_line_error(github, tmp_path, monkeypatch):
    monkeypatch.setattr("forgetcheck.integrations.github.BACKOFF_S", 0.01)
    server, env = github
    server.fail += [("GET", 503, {}) for _ in range(5)]
    result = comment(env, save_report(tmp_path))
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "503" in result.output and "after 5 tries" in result.output and TOKEN not in result.output


def test_read_only_token_falls_back_to_the_step_summary(github, tmp_path):
    server, env = github
    server.read_only = True
    result = comment(env, save_report(tmp_path))
    assert result.exit_code == 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "fork" in lines[0] and "workflow_run" in lines[0]
    assert not server.comments
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("## ❌ forgetcheck") and marker() in summary


def test_pr_number_comes_from_the_flag_or_the_event(github, tmp_path):
    server, env = github
    comment(env, save_report(tmp_path), "--pr", "9", "--key", "gpu")
    assert [c["pr"] for c in server.comments] == [9]
    assert server.comments[0]["body"].rstrip().endswith(marker("gpu"))
    push_event = tmp_path / "push.json"
    push_event.write_text(json.dumps({"ref": "refs/heads/main"}))
    result = comment({**env, "GITHUB_EVENT_PATH": str(push_event)}, save_report(tmp_path))
    assert result.exit_code == 2
    assert "not a pull request; pass --pr N" in result.output


def test_missing_token_is_one_line(github, tmp_path):
    _, env = github
    result = comment({**env, "GITHUB_TOKEN": "", "GH_TOKEN": ""}, save_report(tmp_path))
    assert result.exit_code == 2 and "set GITHUB_TOKEN" in result.output


def test_a_long_report_is_cut_to_fit_with_a_pointer():
    comparison = make_comparison()
    template = comparison.capabilities[0]
    comparison.capabilities = [CapabilityResult(**{**vars(template), "name": f"capability-{i:04d}-{'x' * 60}"})
                               for i in range(900)]
    comparison.items = comparison.items * 300
    body = comment_body(comparison, details="https://github.example/acme/model/actions/runs/42")
    assert COMMENT_LIMIT - 200 < length(body) <= COMMENT_LIMIT
    assert body.count("<details>") == body.count("</details>")
    assert "[the full report](https://github.example/acme/model/actions/runs/42)" in body
    assert body.rstrip().endswith(marker())
    assert HOSTILE not in body


def test_a_next_page_on_another_host_is_not_followed_with_the_token(github, tmp_path):
    server, env = github
    server.page_size, server.link_root = 1, "http://127.0.0.2:9"
    server.comments += [{"id": i, "pr": 7, "body": "hi", "user": {"login": "alice"}} for i in range(2)]
    result = comment(env, save_report(tmp_path))
    assert result.exit_code == 2 and "another host (127.0.0.2:9)" in result.output
    assert len(server.requests) == 2 and not ours(server)  # viewer, then page 1 only


def attacker_comments(pr: int = 7) -> list[dict]:
    """What anyone can post on a pull request: our marker, alone and in disguises."""
    bodies = ["## ✅ forgetcheck: nothing regressed\n\n" + marker() + "\n",  # the canonical form, copied
              "pwned\r\n\r\n" + marker() + "\r\n",
              "pwned\u2028" + marker(),
              "pwned\n\n" + marker() + "\n\nmore text"]
    return [{"id": 100 + i, "pr": pr, "body": body, "user": {"login": "mallory", "id": 666, "type": "User"}}
            for i, body in enumerate(bodies)]


def test_an_attackers_comment_with_our_marker_is_never_edited(github, tmp_path):
    server, env = github
    planted = attacker_comments()
    server.comments += [dict(c) for c in planted]
    first = comment(env, save_report(tmp_path))
    assert first.exit_code == 0 and "comment created" in first.output, first.output
    assert server.comments[:4] == planted  # untouched
    mine = server.comments[4:]
    assert len(mine) == 1 and mine[0]["user"]["login"] == "github-actions[bot]"
    assert not any(method == "PATCH" for method, _, _ in server.requests)

    # The bot's own comment is the one a new report updates.
    comparison = make_comparison()
    comparison.capabilities[0].verdict = "held"
    second = comment(env, save_report(tmp_path, comparison))
    assert "comment updated" in second.output, second.output
    patched = [path for method, path, _ in server.requests if method == "PATCH"]
    assert patched == [f"/repos/acme/model/issues/comments/{mine[0]['id']}"]
    assert server.comments[:4] == planted and len(server.comments) == 5


def test_the_bots_comment_is_told_apart_by_position_and_by_id(github, tmp_path):
    server, env = github
    bot = {"login": "github-actions[bot]", "id": BOT[1], "type": "Bot"}
    # Another workflow of the same bot quoting pull request text that carries the marker.
    quoted = [{"id": 200, "pr": 7, "body": "Lint says:\n\n> x\u2028" + marker(), "user": bot},
              {"id": 201, "pr": 7, "body": "Lint says:\r\n\r\n" + marker() + "\r\n", "user": bot},
              # A user who renamed themselves after the bot's login keeps their own id.
              {"id": 202, "pr": 7, "body": "x\n\n" + marker() + "\n",
               "user": {"login": "GitHub-Actions[bot]", "id": 12345, "type": "User"}}]
    server.comments += [dict(c) for c in quoted]
    result = comment(env, save_report(tmp_path))
    assert "comment created" in result.output, result.output
    assert server.comments[:3] == quoted and len(ours(server)) == 2


def test_author_comes_from_the_flag_when_graphql_cannot_say(github, tmp_path):
    server, env = github
    server.graphql_down = True
    planted = attacker_comments()[0]
    server.comments.append(dict(planted))
    refused = comment(env, save_report(tmp_path))
    assert refused.exit_code == 2 and refused.output.count("\n") == 1
    assert "pass --author LOGIN" in refused.output and "GraphQL is disabled" in refused.output
    assert len(server.comments) == 1  # nothing posted, nothing edited

    first = comment(env, save_report(tmp_path), "--author", "github-actions[bot]")
    assert "comment created" in first.output, first.output
    comparison = make_comparison()
    comparison.capabilities[0].verdict = "held"
    second = comment({**env, "FORGETCHECK_COMMENT_AUTHOR": "github-actions[bot]"},
                     save_report(tmp_path, comparison))
    assert "comment updated" in second.output, second.output
    assert server.comments[0] == planted and len(server.comments) == 2


def test_expect_sha_refuses_a_pull_request_at_another_commit(github, tmp_path):
    server, env = github
    report = save_report(tmp_path)
    other = comment(env, report, "--pr", "7", "--expect-sha", "f" * 40)
    assert other.exit_code == 2 and other.output.count("\n") == 1, other.output
    assert "acme/model#7 is at 777777777777, not ffffffffffff" in other.output
    malformed = comment(env, report, "--pr", "7", "--expect-sha", "main")
    assert malformed.exit_code == 2 and "full 40-character commit sha" in malformed.output
    assert not server.comments
    same = comment(env, report, "--pr", "7", "--expect-sha", "7" * 40)
    assert same.exit_code == 0 and "comment created" in same.output, same.output


def test_server_messages_never_echo_a_token(github, tmp_path, monkeypatch):
    monkeypatch.setattr("forgetcheck.integrations.github.BACKOFF_S", 0.01)
    server, env = github
    echoed = f"Bad request from Bearer {TOKEN} (also hf_{'a' * 34})"
    server.fail += [("GET", 422, {"message": echoed})]
    result = comment(env, save_report(tmp_path))
    assert result.exit_code == 2 and "422" in result.output
    assert TOKEN not in result.output and "hf_aaaa" not in result.output and "[redacted]" in result.output


def test_an_unreachable_github_is_one_line(github, tmp_path, monkeypatch):
    monkeypatch.setattr("forgetcheck.integrations.github.BACKOFF_S", 0.01)
    _, env = github
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    result = comment({**env, "GITHUB_API_URL": f"http://127.0.0.1:{closed.getsockname()[1]}"},
                     save_report(tmp_path))
    closed.close()
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert "cannot reach GitHub" in result.output and "Connection refused" in result.output
