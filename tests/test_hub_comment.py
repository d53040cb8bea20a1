"""``forgetcheck comment hub`` and ``forgetcheck card --repo-id``: the real huggingface_hub
client against a fake Hub on 127.0.0.1.

The fake is ``HubWithWrites`` of conftest.py (the read-only ``FakeHub`` plus the
discussions, commits and pull request refs these commands call through ``HfApi``),
started by the ``hub_writes`` fixture.
"""

from __future__ import annotations

import json
import socket

import yaml

from huggingface_hub import ModelCard

from forgetcheck.integrations.card import CHART_NAME, START
from forgetcheck.report.comment import is_ours, marker
from tests.conftest import BOT_ACCOUNT, HF_TOKEN, comment_event, make_comparison, run_subprocess, save_report


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


def test_card_on_the_hub_commits_the_eval_results_of_hub_datasets_once(hub_writes, tmp_path):
    from huggingface_hub import parse_eval_result_entries

    from tests.test_card import GSM8K, RUN, RUN_URL, from_datasets

    server, env = hub_writes
    repo = tmp_path / "repo"
    repo.mkdir()
    server.repos["acme/model"] = repo
    report = save_report(tmp_path, from_datasets())
    first = run_subprocess("card", report, "--repo-id", "acme/model", env={**env, **RUN})
    assert "acme/model card committed" in first.stdout, first.stderr
    name = ".eval_results/forgetcheck-lm-eval-gsm8k.yaml"
    assert set(server.commits[0]["files"]) == {"README.md", name}
    entries = parse_eval_result_entries(yaml.safe_load((repo / name).read_text()))
    assert [(e.dataset_id, e.dataset_revision, e.source_url) for e in entries] == \
        [("openai/gsm8k", GSM8K["revision"], RUN_URL)]
    again = run_subprocess("card", report, "--repo-id", "acme/model", env={**env, **RUN})
    assert "unchanged" in again.stdout and len(server.commits) == 1, again.stderr
