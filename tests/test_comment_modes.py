"""Comment modes (update, recreate, hide-old) and when to comment (always, change, alert),
on GitHub and on the Hub, through the real CLI against the loopback servers of conftest.py.

The rules are :mod:`forgetcheck.integrations.comment_policy`'s; what is checked here is
what a maintainer sees on the pull request: how many comments, which one was edited,
deleted or hidden, and that nobody else's comment is ever touched.
"""

from __future__ import annotations

from forgetcheck.integrations.comment_policy import digest_of, results_digest
from forgetcheck.report.comment import is_ours, marker
from tests.conftest import BOT_ACCOUNT, comment_event, make_comparison, run_subprocess, save_report
from tests.test_github_comment import attacker_comments, comment


def held():
    comparison = make_comparison()
    comparison.capabilities[0].verdict = "held"
    comparison.verdict = "inconclusive"
    return comparison


def moved():
    """The same verdicts as make_comparison, one drop moved by a visible 0.5 point."""
    comparison = make_comparison()
    comparison.capabilities[0].drop += 0.005
    return comparison


def ours(server, key=""):
    return [c for c in server.comments if is_ours(c["body"], marker(key))]


def test_recreate_deletes_our_old_comment_and_posts_at_the_bottom(github, tmp_path):
    server, env = github
    planted = attacker_comments()
    server.comments += [dict(c) for c in planted]
    first = comment(env, save_report(tmp_path), "--mode", "recreate")
    assert "comment created on acme/model#7" in first.output, first.output
    old_id = ours(server)[-1]["id"]
    server.comments.append({"id": 50, "pr": 7, "body": "a review comment", "user": {"login": "alice"}})
    second = comment(env, save_report(tmp_path, held()), "--mode", "recreate")
    assert "comment created" in second.output and "(1 earlier comment deleted)" in second.output, second.output
    deletes = [path for method, path, _ in server.requests if method == "DELETE"]
    assert deletes == [f"/repos/acme/model/issues/comments/{old_id}"]  # only ours, never the attacker's
    assert server.comments[:4] == planted and server.comments[-1]["user"]["login"] == "github-actions[bot]"
    assert server.comments[-2]["body"] == "a review comment"  # ours is now below the conversation


def test_hide_old_minimizes_as_outdated_once_and_posts_anew(github, tmp_path):
    server, env = github
    server.comments += [dict(c, node_id=f"IC_{c['id']}") for c in attacker_comments()]
    comment(env, save_report(tmp_path), "--mode", "hide-old")
    comment(env, save_report(tmp_path, held()), "--mode", "hide-old")
    third = comment(env, save_report(tmp_path, moved()), "--mode", "hide-old")
    assert "(1 earlier comment hidden)" in third.output, third.output
    mine = [c for c in ours(server) if c["user"]["login"] == "github-actions[bot]"]
    assert len(mine) == 3
    # Each earlier comment hidden once: the second run hid the first, the third the second only,
    # because GraphQL nodes() said the first was hidden already. Nobody else's was hidden.
    assert server.minimized == [mine[0]["node_id"], mine[1]["node_id"]]
    graphql = [path for method, path, _ in server.requests if method == "POST" and path == "/graphql"]
    assert len(graphql) == 3 + 2 + 2  # viewer per run; nodes() and one minimizeComment on runs 2 and 3


def test_hide_old_on_a_forks_read_only_token_is_the_fork_line(github, tmp_path):
    server, env = github
    comment(env, save_report(tmp_path))
    server.read_only = True
    result = comment(env, save_report(tmp_path, held()), "--mode", "hide-old")
    assert result.exit_code == 0 and "fork" in result.output and result.output.count("\n") == 1, result.output
    assert not server.minimized and len(server.comments) == 1


def test_on_change_compares_the_results_not_the_text(github, tmp_path):
    server, env = github
    report = save_report(tmp_path)
    first = comment(env, report, "--on", "change", "--key", "gpu")
    assert "comment created" in first.output
    body = ours(server, "gpu")[0]["body"]
    assert digest_of(body) == results_digest(make_comparison())
    # New timings and a new warning: the comment's text would differ, its results do not.
    same = make_comparison()
    same.timings = {"load": 1.0}
    same.warnings = ["another warning"]
    unchanged = comment(env, save_report(tmp_path, same), "--on", "change", "--key", "gpu")
    assert "comment unchanged" in unchanged.output, unchanged.output
    assert ours(server, "gpu")[0]["body"] == body
    # A drop moved by a visible amount is a change; so is a verdict.
    changed = comment(env, save_report(tmp_path, moved()), "--on", "change", "--key", "gpu", "--mode", "recreate")
    assert "comment created" in changed.output and "deleted" in changed.output, changed.output
    assert len(ours(server, "gpu")) == 1 and digest_of(ours(server, "gpu")[0]["body"]) != digest_of(body)


def test_a_pasted_digest_does_not_silence_a_change(github, tmp_path):
    server, env = github
    digest = results_digest(make_comparison())
    forged = f"x\n\n<!-- forgetcheck:digest {digest} -->\n\n{marker()}\n"
    server.comments.append({"id": 9, "pr": 7, "body": forged, "user": {"login": "mallory", "id": 666}})
    result = comment(env, save_report(tmp_path), "--on", "change")
    assert "comment created" in result.output, result.output
    assert server.comments[0]["body"] == forged


def test_on_alert_comments_only_on_a_regression_and_keeps_an_alarm_current(github, tmp_path):
    server, env = github
    outputs = tmp_path / "github-output"
    quiet = comment(env, save_report(tmp_path, held()), "--on", "alert", "--github-output", outputs)
    assert quiet.exit_code == 0 and "no comment" in quiet.output and not server.comments, quiet.output
    assert outputs.read_text() == "comment-id=\ncomment-url=\n"
    alarm = comment(env, save_report(tmp_path), "--on", "alert", "--github-output", outputs)
    assert "comment created" in alarm.output
    made = ours(server)[0]
    assert outputs.read_text().splitlines()[-2:] == [f"comment-id={made['id']}", f"comment-url={made['html_url']}"]
    # Fixed on the next push: the alarm is edited to say so, not left standing.
    fixed = comment(env, save_report(tmp_path, held()), "--on", "alert")
    assert "comment updated" in fixed.output and "nothing regressed" in ours(server)[0]["body"].splitlines()[0]


def test_bad_alert_threshold_is_one_line(github, tmp_path):
    _, env = github
    result = comment(env, save_report(tmp_path), "--on", "alert", "--alert-threshold", "two")
    assert result.exit_code == 2 and "--alert-threshold 'two'" in result.output, result.output


# --- The Hub ---------------------------------------------------------------------------------------------


def hub_comment(env, report, *args):
    return run_subprocess("comment", "hub", report, "--repo-id", "acme/model", "--pr", "3", *args, env=env)


def test_hub_hide_old_and_recreate_hide_only_our_comment(hub_writes, tmp_path):
    server, env = hub_writes
    server.repos["acme/model"] = tmp_path
    planted = [comment_event("a" * 24, "## ✅ forgetcheck\n\n" + marker("gpu") + "\n", author="mallory")]
    server.discussions[("acme/model", 3)] = {"title": "More SFT", "events": [dict(e) for e in planted]}
    first = hub_comment(env, save_report(tmp_path), "--key", "gpu", "--mode", "hide-old")
    assert "comment created on acme/model #3" in first.stdout, first.stderr
    events = server.discussions[("acme/model", 3)]["events"]
    first_id = events[-1]["id"]
    assert f"/discussions/3#{first_id}" in first.stdout
    second = hub_comment(env, save_report(tmp_path, held()), "--key", "gpu", "--mode", "recreate")
    assert "(1 earlier comment hidden)" in second.stdout, second.stderr
    assert server.hidden == [first_id] and events[0]["data"]["hidden"] is False
    assert events[-1]["author"]["name"] == BOT_ACCOUNT and len(events) == 3
    assert "UserWarning" not in second.stderr


def test_hub_on_change_and_on_alert(hub_writes, tmp_path):
    server, env = hub_writes
    server.repos["acme/model"] = tmp_path
    server.discussions[("acme/model", 3)] = {"title": "More SFT", "events": []}
    quiet = hub_comment(env, save_report(tmp_path, held()), "--on", "alert")
    assert "no comment on acme/model #3" in quiet.stdout, quiet.stderr
    assert not server.discussions[("acme/model", 3)]["events"]
    hub_comment(env, save_report(tmp_path), "--on", "change")
    same = make_comparison()
    same.timings = {"load": 1.0}
    again = hub_comment(env, save_report(tmp_path, same), "--on", "change", "--mode", "hide-old")
    assert "comment unchanged" in again.stdout and not server.hidden, again.stderr


def test_the_examples_in_the_docstrings_run():
    import doctest

    import forgetcheck.integrations.action_outputs as action_outputs
    import forgetcheck.integrations.card as card
    import forgetcheck.integrations.comment_policy as comment_policy

    for module in (comment_policy, action_outputs, card):
        assert doctest.testmod(module).failed == 0, module.__name__
