"""The Action and every workflow the docs show, audited as GitHub Actions code.

``zizmor`` (a static analyser for GitHub Actions, installed by the ``test`` extra)
runs offline, at its default persona, over ``action.yml`` and over every
YAML block in the docs that is a workflow or an action; each block is written to a
file of its own so a finding names the document and the block. It catches what
review misses: actions not pinned by sha, ``${{ }}`` expanded inside ``run:`` (shell
injection from a branch name or a PR title), checkouts that leave the token on disk,
workflows without least-privilege ``permissions:``, dangerous triggers.

Beside it, ``check-jsonschema`` (its built-in copy of GitHub's workflow schema, offline)
validates every documented workflow, the docs show a complete workflow for each comment
mode using only inputs the action has, and the fork pattern's ``workflow_run``
workflow is held to what makes it safe: the pull request comes from the event, and the
commit is checked.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ACTION = ROOT / "action.yml"
DOCS = [ROOT / "action" / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"^```ya?ml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def yaml_blocks(path: Path) -> list[tuple[str, dict]]:
    """Every fenced YAML block of a Markdown file that is a whole workflow or action."""
    found = []
    for text in BLOCK.findall(path.read_text(encoding="utf-8")):
        data = yaml.safe_load(text)
        if isinstance(data, dict) and ("jobs" in data or "runs" in data):
            found.append((text, data))
    return found


def tool(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


def zizmor() -> list[str]:
    return [tool("zizmor"), "--offline", "--no-config", "--no-progress", "--color", "never"]


def check_workflows(files: list[Path]) -> subprocess.CompletedProcess:
    return subprocess.run([tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                           *map(str, files)], capture_output=True, text=True, timeout=120)


def documented_workflows(tmp_path: Path) -> list[tuple[Path, dict]]:
    """Each workflow of the docs in a file of its own, named after its document and place."""
    found = []
    for doc in DOCS:
        for index, (text, data) in enumerate(yaml_blocks(doc)):
            if "jobs" in data:
                target = tmp_path / f"{doc.parent.name}-{doc.stem}-{index}.yml".lower()
                target.write_text(text, encoding="utf-8")
                found.append((target, data))
    return found


def forgetcheck_steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])
            if step.get("uses", "").startswith("OWNER/forgetcheck@")]


def test_every_documented_workflow_fits_githubs_schema(tmp_path):
    workflows = documented_workflows(tmp_path)
    assert len(workflows) >= 8, [w for w, _ in workflows]
    result = check_workflows([path for path, _ in workflows])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_the_schema_check_is_not_vacuous(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("on: pull_request\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - uses: actions/checkout@v4\n        with: [persist-credentials]\n")
    result = check_workflows([bad])
    assert result.returncode == 1 and "$.jobs.x" in result.stdout, result.stdout


def test_a_complete_workflow_for_each_comment_mode_with_real_inputs(tmp_path):
    inputs = set(yaml.safe_load(ACTION.read_text())["inputs"])
    outputs = set(yaml.safe_load(ACTION.read_text())["outputs"])
    modes = set()
    for _, workflow in documented_workflows(tmp_path):
        for step in forgetcheck_steps(workflow):
            given = set(step.get("with") or {})
            assert given <= inputs, given - inputs  # a typo GitHub would only warn about
            modes.add((step.get("with") or {}).get("comment-mode"))
        text = json.dumps(workflow)
        for used in re.findall(r"steps\.forgetcheck\.outputs\.([\w-]+)", text):
            assert used in outputs, used
    assert {"update", "recreate", "hide-old", "off"} <= modes, modes


def test_the_action_and_the_documented_workflows_pass_zizmor(tmp_path):
    files = [ACTION]
    for doc in DOCS:
        for index, (text, data) in enumerate(yaml_blocks(doc)):
            name = f"{doc.parent.name}-{doc.stem}-{index}".lower()
            target = tmp_path / (f"{name}/action.yml" if "runs" in data else f".github/workflows/{name}.yml")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            files.append(target)
    assert len(files) >= 5, files  # the action, the basic, the GPU and the two fork workflows
    result = subprocess.run([*zizmor(), *map(str, files)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings" in result.stdout + result.stderr


def test_zizmor_finds_what_it_should(tmp_path):
    """The audit is not vacuous: a workflow with the old mistakes fails it."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: pull_request\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - uses: actions/checkout@v4\n"
                   "      - run: echo \"${{ github.event.pull_request.title }}\"\n")
    result = subprocess.run([*zizmor(), str(bad)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    for audit in ("unpinned-uses", "template-injection", "artipacked", "excessive-permissions"):
        assert audit in result.stdout, result.stdout


def test_the_fork_pattern_takes_the_pull_request_from_the_event():
    workflows = [data for _, data in yaml_blocks(ROOT / "action" / "README.md")]
    commenting = next(w for w in workflows if "workflow_run" in (w.get("on") or w.get(True)))
    steps = commenting["jobs"]["comment"]["steps"]
    scripts = "\n".join(step.get("run", "") for step in steps)
    envs = {key: value for step in steps for key, value in (step.get("env") or {}).items()}
    assert "pr-number" not in scripts  # the old pattern read the PR number from the fork's artifact
    assert envs["SAME_REPO_PR"] == "${{ github.event.workflow_run.pull_requests[0].number }}"
    assert envs["HEAD_SHA"] == "${{ github.event.workflow_run.head_sha }}"
    assert '--pr "$PR" --expect-sha "$HEAD_SHA"' in scripts and "forgetcheck-report/head-sha" in scripts
    for workflow in workflows:
        assert workflow.get("permissions") == {}, workflow  # least privilege: each job asks for its own
        for job in workflow["jobs"].values():
            for step in job["steps"]:
                assert "${{" not in step.get("run", ""), step
                if step.get("uses", "").startswith("actions/checkout@"):
                    assert step["with"]["persist-credentials"] is False
