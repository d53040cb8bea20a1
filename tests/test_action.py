"""The GitHub Action's own steps, run the way a runner runs a composite action.

``run_action`` reads ``action.yml`` (at the repository root) with yaml and plays its steps in order:
inputs get their defaults, ``${{ … }}`` expressions and ``if:`` conditions are
evaluated over ``inputs``, ``steps.<id>.outputs``, ``github`` and ``runner``, each
``run:`` goes to ``bash --noprofile --norc -eo pipefail`` with its ``env:`` and the
``GITHUB_*`` variables and files a runner provides (``GITHUB_OUTPUT`` per step,
``GITHUB_STEP_SUMMARY``, ``GITHUB_EVENT_PATH``, ``GITHUB_ACTION_PATH``), and the
step outputs are read back from ``GITHUB_OUTPUT``. Left out: the pip install step
(forgetcheck is already installed here) and the ``uses:`` steps (setup-python,
actions/cache, upload-artifact), which are GitHub's code, not ours: their ``with:``
is evaluated and kept in the logs (the cache keys are checked that way), and a test
may say what they output (``uses_outputs``, e.g. the key a restore matched).

The comparison is real: the tiny models of conftest.py, and the comment goes to the
fake GitHub API of conftest.py (the ``github`` fixture).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from forgetcheck.integrations.action_outputs import cache_key, cache_prefix, suite_hash
from forgetcheck.report.comment import is_ours, marker
from tests.conftest import TOKEN, write_suite

ACTION = Path(__file__).resolve().parents[1] / "action.yml"
EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}")
REFERENCE = re.compile(r"\b(inputs|steps|github|runner)((?:\.[A-Za-z0-9_-]+)+)")


def evaluate(expression: str, context: dict) -> object:
    """The subset of GitHub's expression language the action uses."""

    def lookup(match):
        value = context[match[1]]
        for part in match[2].strip(".").split("."):
            value = value.get(part, "") if isinstance(value, dict) else ""
        return repr(value)

    python = REFERENCE.sub(lookup, expression)
    python = python.replace("&&", " and ").replace("||", " or ")
    python = python.replace("always()", "True").replace("success()", "(not failed)")
    return eval(python, {"failed": context["failed"]})  # noqa: S307  (our own action file)


def substitute(text: str, context: dict) -> str:
    return EXPRESSION.sub(lambda m: str(evaluate(m[1], context)), text)


def read_outputs(path: Path, text: str | None = None) -> dict[str, str]:
    """GITHUB_OUTPUT's ``name=value`` and ``name<<DELIMITER`` lines, split at CR, LF or CRLF as the runner does."""
    outputs, lines = {}, re.split(r"\r\n|\r|\n", path.read_bytes().decode() if text is None else text)
    while lines:
        line = lines.pop(0)
        if "<<" in line and "=" not in line.split("<<")[0]:
            name, delimiter = line.split("<<", 1)
            value = []
            while (row := lines.pop(0)) != delimiter:
                value.append(row)
            outputs[name] = "\n".join(value)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


def run_action(inputs: dict, env: dict, workspace: Path, event_name: str = "pull_request",
               uses_outputs: dict | None = None) -> dict:
    """Play the action's steps; returns outputs, the exit code and what each step printed."""
    action = yaml.safe_load(ACTION.read_text())
    given = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    unknown = set(inputs) - set(given)
    assert not unknown, f"the action has no input {unknown}"  # GitHub only warns; a typo here is a test bug
    given.update(inputs)
    context = {"inputs": given, "steps": {}, "failed": False,
               "github": {"event_name": event_name, "run_id": env["GITHUB_RUN_ID"], "token": "unused"},
               "runner": {"os": "Linux", "temp": str(workspace / "runner-temp")}}
    runner_env = {**os.environ, **env, "GITHUB_ACTION_PATH": str(ACTION.parent),
                  "GITHUB_EVENT_NAME": event_name, "GITHUB_WORKSPACE": str(workspace), "RUNNER_OS": "Linux",
                  # What setup-python does: this Python (and its forgetcheck) first on PATH.
                  "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    logs, code = {}, 0
    for index, step in enumerate(action["runs"]["steps"]):
        name = step.get("id") or step["name"]
        if step.get("id") == "install":
            continue
        condition = step.get("if", "success()")
        if not evaluate(EXPRESSION.sub(lambda m: m[1], str(condition)), context):
            logs[name] = None
            continue
        if "uses" in step:
            logs[name] = {key: substitute(str(value), context) for key, value in step.get("with", {}).items()}
            if "id" in step:
                context["steps"][step["id"]] = {"outputs": (uses_outputs or {}).get(step["id"], {})}
            continue
        output_file = workspace / f"output-{index}"
        output_file.write_text("")
        step_env = {key: substitute(str(value), context) for key, value in step.get("env", {}).items()}
        script = workspace / f"step-{index}.sh"
        script.write_text(substitute(step["run"], context))
        result = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                                cwd=workspace, env={**runner_env, **step_env, "GITHUB_OUTPUT": str(output_file)},
                                capture_output=True, text=True, timeout=300)
        logs[name] = result
        if "id" in step:
            context["steps"][step["id"]] = {"outputs": read_outputs(output_file)}
        if result.returncode:
            context["failed"], code = True, result.returncode
    outputs = {name: substitute(spec["value"], context) for name, spec in action["outputs"].items()}
    return {"outputs": outputs, "code": code, "logs": logs}


def test_action_compares_summarises_comments_and_fails_on_regression(github, tiny_base, forgetful_adapter,  # noqa: F811
                                                                      tiny_suite, tmp_path):
    server, env = github
    inputs = {"base": str(tiny_base), "candidate": str(forgetful_adapter), "suite": str(tiny_suite),
              "github-token": TOKEN, "extra-args": "--dtype float32 --device cpu"}
    run = run_action(inputs, env, tmp_path)

    outputs = run["outputs"]
    assert outputs["verdict"] == "regressed", run["logs"]["compare"].stderr
    assert "facts" in outputs["regressed"].split(",")
    report = json.loads(Path(tmp_path / outputs["report-path"]).read_text())
    assert report["verdict"] == "regressed"
    assert (tmp_path / "forgetcheck-report" / "chart.png").exists()
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.startswith("## ❌ forgetcheck:") and "facts" in summary.splitlines()[0]
    mine = [c for c in server.comments if is_ours(c["body"], marker())]
    assert len(mine) == 1 and mine[0]["pr"] == 7
    assert mine[0]["body"].splitlines()[0] == summary.splitlines()[0]
    assert outputs["comment-id"] == str(mine[0]["id"]) and outputs["comment-url"] == mine[0]["html_url"]
    assert outputs["alert"] == "true"
    # The verdict fails the job, last, after the summary and the comment were written.
    assert run["code"] == 1
    failed = run["logs"]["Fail on the verdict"].stdout
    assert "::error title=forgetcheck::a capability regressed beyond the fail threshold: " in failed
    # The caches: keyed by content (suite files, then the models' resolved revisions), never by the run.
    suite = suite_hash(str(tiny_suite))
    assert run["logs"]["restore"]["key"] == cache_key("Linux", suite, str(tiny_base), str(forgetful_adapter))
    assert run["logs"]["restore"]["restore-keys"].strip() == cache_prefix("Linux", suite)
    resolved = cache_key("Linux", suite, report["base"]["resolved"], report["candidate"]["resolved"])
    assert run["logs"]["Save the caches"]["key"] == resolved


def test_the_action_has_no_run_id_in_a_cache_key_and_lives_at_the_root():
    text = ACTION.read_text()
    assert "run_id" not in text and "run_number" not in text and "run_attempt" not in text
    assert not (ACTION.parent / "action" / "action.yml").exists()  # one action, where the Marketplace looks
    assert 'pip install --quiet "$GITHUB_ACTION_PATH"' in text


def test_comment_modes_and_key_through_the_action(github, tiny_base, forgetful_adapter, tmp_path):  # noqa: F811
    server, env = github
    suite = write_suite(tmp_path / "suite", n_facts=8)  # five runs: the smallest suite that comments
    common = {"base": str(tiny_base), "candidate": str(forgetful_adapter), "suite": str(suite),
              "github-token": TOKEN, "extra-args": "--dtype float32 --device cpu", "fail-on": "never",
              "comment-key": "gpu"}
    server.comments.append({"id": 1, "pr": 7, "body": "an unkeyed one\n\n" + marker() + "\n",
                            "user": {"login": "github-actions[bot]", "id": 41898282}, "node_id": "IC_1"})

    def action(mode, on="always"):
        run = run_action({**common, "comment-mode": mode, "comment-on": on}, env, tmp_path)
        assert run["code"] == 0, run["logs"]
        return run["outputs"], [c for c in server.comments if is_ours(c["body"], marker("gpu"))]

    first, mine = action("update")
    assert len(mine) == 1 and first["comment-id"] == str(mine[0]["id"])
    second, mine = action("recreate")  # the first is deleted, a new one is at the bottom
    assert len(mine) == 1 and second["comment-id"] == str(mine[0]["id"]) != first["comment-id"]
    third, mine = action("hide-old")  # the second is hidden as outdated, not deleted
    assert len(mine) == 2 and server.minimized == [mine[0]["node_id"]]
    assert third["comment-id"] == str(mine[1]["id"]) and third["comment-url"] == mine[1]["html_url"]
    fourth, mine = action("hide-old", on="change")  # same verdicts and drops: nothing new
    assert len(mine) == 2 and fourth["comment-id"] == third["comment-id"] and len(server.minimized) == 1
    requests = len(server.requests)
    off, mine = action("off")
    assert off["comment-id"] == off["comment-url"] == "" and len(server.requests) == requests
    assert server.comments[0]["body"].startswith("an unkeyed one")  # another key's comment: never touched


def test_alert_and_fail_thresholds(github, tiny_base, forgetful_adapter, tmp_path):  # noqa: F811
    server, env = github
    # Answers only: a perplexity capability's drop is in nats per token, where 99 "points" is no ceiling.
    suite = write_suite(tmp_path / "suite")
    suite.write_text(suite.read_text().split("  - name: text")[0])
    common = {"base": str(tiny_base), "candidate": str(forgetful_adapter), "suite": str(suite),
              "github-token": TOKEN, "extra-args": "--dtype float32 --device cpu", "comment-on": "alert"}
    # Warn at the tolerance, fail only beyond 99 points: a comment and a warning, a green check.
    warned = run_action({**common, "fail-threshold": "99"}, env, tmp_path)
    assert warned["code"] == 0 and warned["outputs"]["alert"] == "true", warned["logs"]
    assert warned["outputs"]["verdict"] == "regressed" and warned["outputs"]["comment-id"]
    assert "::warning title=forgetcheck::" in warned["logs"]["Warn on an alert"].stdout
    assert warned["logs"]["Fail on the verdict"] is None
    # Alert only beyond 99 points (and fail there, by default): no alert, so no comment under a new key,
    # and the restore found this very cache, so nothing is saved again.
    save_key = warned["logs"]["Save the caches"]["key"]
    quiet = run_action({**common, "alert-threshold": "99", "comment-key": "strict"}, env, tmp_path,
                       uses_outputs={"restore": {"cache-matched-key": save_key}})
    assert quiet["code"] == 0 and quiet["outputs"]["alert"] == "false", quiet["logs"]
    assert quiet["outputs"]["comment-id"] == "" and "no comment" in quiet["logs"]["comment"].stderr
    assert not [c for c in server.comments if is_ours(c["body"], marker("strict"))]
    assert quiet["logs"]["Warn on an alert"] is None and quiet["logs"]["Save the caches"] is None
    # A fail threshold below the loss fails the check, naming what regressed beyond it.
    failed = run_action({**common, "alert-threshold": "0", "fail-threshold": "0.5"}, env, tmp_path)
    assert failed["code"] == 1 and "facts" in failed["logs"]["Fail on the verdict"].stdout, failed["logs"]


def test_bad_action_inputs_stop_before_comparing(github, tmp_path):  # noqa: F811
    _, env = github
    for name, value, said in [("comment-mode", "sometimes", "comment-mode 'sometimes'"),
                              ("comment-on", "never", "comment-on 'never'"),
                              ("comment-key", "a b", "comment-key 'a b'"),
                              ("alert-threshold", "2%", "alert-threshold '2%'"),
                              ("fail-threshold", "-1", "fail-threshold '-1'")]:
        run = run_action({"base": "x", "candidate": "y", name: value}, env, tmp_path)
        prepare = run["logs"]["prepare"]
        assert prepare.returncode == 2 and prepare.stderr.count("\n") == 1 and said in prepare.stderr, prepare
        assert run["logs"]["compare"] is None and run["code"] == 2


def test_cache_keys_follow_the_suite_files_and_the_models(tmp_path):
    suite = write_suite(tmp_path / "suite", n_facts=8)

    def keys(**env):
        result = subprocess.run([sys.executable, "-m", "forgetcheck.integrations.action_outputs", "prepare"],
                                env={**os.environ, "RUNNER_OS": "Linux", "SUITE": str(suite), "BASE": "org/a",
                                     "CANDIDATE": "org/b@" + "1" * 40, **env},
                                capture_output=True, text=True, check=True)
        return read_outputs(tmp_path / "unused", result.stdout)

    first, again = keys(), keys(GITHUB_RUN_ID="43")
    assert first == again and first["comment-mode"] == "update"
    assert first["cache-key"].startswith(first["cache-prefix"])
    assert keys(CANDIDATE="org/b@" + "2" * 40)["cache-key"] != first["cache-key"]
    data = next(p for p in suite.parent.iterdir() if p.suffix == ".jsonl")
    data.write_text(data.read_text() + "\n")  # one more byte in a probe file: another suite
    changed = keys()
    assert changed["cache-prefix"] != first["cache-prefix"] and changed["cache-key"] != first["cache-key"]
    assert keys(COMMENT="false")["comment-mode"] == "off"
    assert keys(SUITE="core")["cache-prefix"] == keys(SUITE="core")["cache-prefix"] != first["cache-prefix"]


def test_action_on_a_fork_and_with_fail_on_never(github, tiny_base, tmp_path):  # noqa: F811
    server, env = github
    server.read_only = True  # the token a pull request from a fork gets
    suite = write_suite(tmp_path / "suite", n_facts=8)
    inputs = {"base": str(tiny_base), "candidate": str(tiny_base), "suite": str(suite), "fail-on": "never",
              "tolerance": "0.5", "github-token": TOKEN}  # 8 items can only show a loss below 50 points
    run = run_action(inputs, env, tmp_path)
    assert run["code"] == 0
    assert run["outputs"]["verdict"] == "held" and run["outputs"]["regressed"] == ""
    said = run["logs"]["comment"].stderr.strip().splitlines()
    assert len(said) == 1 and "fork" in said[0] and TOKEN not in said[0]
    assert not server.comments
    summary = Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.count("## ✅ forgetcheck: nothing regressed") == 1  # once, from the summary step
    assert run["logs"]["Fail on the verdict"] is None


def test_action_inputs_cannot_inject_shell_and_bad_input_fails(github, tmp_path):  # noqa: F811
    _, env = github
    inputs = {"base": "$(touch injected)", "candidate": "`touch injected`", "github-token": TOKEN}
    run = run_action(inputs, env, tmp_path, event_name="push")
    assert not (tmp_path / "injected").exists()
    assert run["code"] == 2 and run["outputs"]["verdict"] == ""
    assert "forgetcheck: error: model '$(touch injected)'" in run["logs"]["compare"].stderr
    assert run["logs"]["comment"] is None


def test_step_outputs_are_one_line_each(tmp_path):
    # A suite from the pull request names its capabilities; a line break in one must not add an output.
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"verdict": "regressed", "capabilities": [
        {"name": "facts\r\nverdict=held", "verdict": "regressed"},
        {"name": "maths\u2028regressed=", "verdict": "regressed"}, {"name": "x\ny", "verdict": "held"}]}))
    result = subprocess.run([sys.executable, "-m", "forgetcheck.integrations.action_outputs", str(report)],
                            capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["verdict=regressed", "regressed=facts  verdict=held,maths regressed="]
    outputs = read_outputs(Path(tmp_path / "out"), result.stdout)
    assert outputs == {"verdict": "regressed", "regressed": "facts  verdict=held,maths regressed="}


def test_a_token_echoed_by_the_server_is_redacted_in_the_log(github, tiny_base, tmp_path):  # noqa: F811
    server, env = github
    server.fail.append(("GET", 422, {"message": f"Validation failed for Authorization: Bearer {TOKEN}"}))
    suite = write_suite(tmp_path / "suite", n_facts=8)
    inputs = {"base": str(tiny_base), "candidate": str(tiny_base), "suite": str(suite), "fail-on": "never",
              "tolerance": "0.5", "github-token": TOKEN}
    run = run_action(inputs, env, tmp_path)
    said = run["logs"]["comment"]
    assert said.returncode == 2 and "422" in said.stderr and "[redacted]" in said.stderr
    assert all(TOKEN not in (log.stdout + log.stderr) for log in run["logs"].values() if hasattr(log, "stdout"))
