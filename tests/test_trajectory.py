"""forgetcheck trajectory: a real LoRA run saved at several steps, scored against the tiny fact model.

The run trains one adapter on unrelated text and saves it after 2, 4, 8 and 16
steps, as the Hugging Face Trainer would (``run/checkpoint-N``); the longer it
trains, the more facts it forgets. The fits are checked on exact and noisy
synthetic curves, where the right answer is known.
"""

from __future__ import annotations

import json
import math
import random
import shutil

import numpy as np
import pytest
import torch

from forgetcheck.errors import BadInput
from forgetcheck.suites.suite import load_suite
from forgetcheck.analysis.fits import fit_power_law, fit_retention
from forgetcheck.workflows.trajectory import find_checkpoints, with_learned
from tests.conftest import run, train, unrelated_sentences, write_suite

STEPS = (2, 4, 8, 16)


@pytest.fixture(scope="module")
def training_run(tiny_base, tmp_path_factory):
    """One LoRA fine-tune on unrelated text, saved at each of STEPS; and a suite whose `task` probe is that text."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root = tmp_path_factory.mktemp("trajectory")
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    torch.manual_seed(0)  # the adapter's initial weights, whatever ran before in the session
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_base),
                           LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM"))
    texts = unrelated_sentences(random.Random(1), 200)
    done = 0
    for step in STEPS:
        # 8e-3: at 3e-3 the 16 steps forgot only 4 of 60 facts with transformers 5.24 / peft 0.21, too close to call
        train(model, tokenizer, texts, steps=step - done, lr=8e-3, seed=step)
        done = step
        model.save_pretrained(root / "run" / f"checkpoint-{step}")
    suite = write_suite(root / "suite", n_facts=60)
    with (suite.parent / "task.jsonl").open("w") as f:
        for k, text in enumerate(texts[:30]):
            f.write(json.dumps({"id": f"task-{k}", "text": text}) + "\n")
    suite.write_text(suite.read_text() + "  - name: task\n    file: task.jsonl\n    kind: perplexity\n")
    return root / "run", suite


def test_trajectory_of_a_lora_run(tiny_base, training_run, tmp_path):
    run_folder, suite = training_run
    out = tmp_path / "trajectory"
    result = run("trajectory", tiny_base, run_folder, "--suite", suite, "--out", out, "--learned", "task",
                 "--kl-samples", "4", "--quiet")
    data = json.loads((out / "trajectory.json").read_text())
    caps = {c["name"]: c for c in data["capabilities"]}

    # checkpoint-16 sorts before checkpoint-2 as text; the steps come in training order
    assert data["steps"] == list(STEPS)
    assert [row["step_from"] for row in data["checkpoints"]] == ["name"] * 4
    assert "checkpoint 1/4: step 2" in result.stderr and "checkpoint 4/4: step 16" in result.stderr

    # the longer the run, the more facts it forgot, and the first regressed step is where the verdict turned
    facts = caps["facts"]
    assert facts["forgetting"][-1] > facts["forgetting"][0] + 0.1
    assert facts["verdict"][-1] == "regressed" and facts["verdict"][0] != "regressed"
    first = facts["verdict"].index("regressed")
    assert facts["first_regressed"]["step"] == STEPS[first]
    assert f"step {STEPS[first]}" in result.stdout and "*" in result.stdout

    # the base was scored once: from the second checkpoint on, its items all come from the cache
    items = sum(c["n"] for c in data["capabilities"])
    scored = [(row["items_from_cache"], row["items_scored"]) for row in data["checkpoints"]]
    assert scored == [(0, 2 * items)] + [(items, items)] * 3

    # fits over the four checkpoints, finite and reported in plain JSON
    for fit in facts["fits"].values():
        assert fit["fitted"] and 0 <= fit["r2"] <= 1 and fit["points"] == 5  # the base and 4 checkpoints
    assert math.isfinite(facts["fits"]["power_law"]["beta"])

    # the learned skill gains, is shown apart, and its gain stands against the others' forgetting
    assert caps["task"]["learned"] and caps["task"]["first_regressed"] is None
    assert data["tradeoff"]["learned"] == ["task"] and data["tradeoff"]["gain"][-1] > 0
    assert "task" not in data["tradeoff"]["others"] and data["tradeoff"]["forgetting"][-1] > 0
    assert "learned: gain over the base" in result.stdout

    # the last checkpoint regressed, so the exit code says so, as compare's would
    assert result.exit_code == 1, result.output
    assert (out / "trajectory.png").read_bytes()[:4] == b"\x89PNG"
    markdown = (out / "trajectory.md").read_text()
    assert "What this means" in markdown and "Learning versus forgetting" in markdown
    # every checkpoint's own report can be re-read like any compare report
    last_report = out / "checkpoints" / "16"
    assert run("report", last_report).exit_code == 1
    assert run("trajectory", tiny_base, run_folder, "--suite", suite, "--out", tmp_path / "again", "--kl-samples", "0",
               "--quiet", "--fail-on", "never").exit_code == 0


def test_no_cache_still_scores_the_base_once_and_leaves_nothing(tiny_base, training_run, tmp_path, monkeypatch):
    run_folder, suite = training_run
    user_cache = tmp_path / "user-cache"
    monkeypatch.setenv("FORGETCHECK_CACHE", str(user_cache))
    out = tmp_path / "trajectory"
    # an explicit list, out of order: sorted by the step in each name
    result = run("trajectory", tiny_base, run_folder / "checkpoint-8", run_folder / "checkpoint-2",
                 run_folder / "checkpoint-4", "--suite", suite, "--out", out, "--kl-samples", "0", "--quiet",
                 "--no-cache")
    assert result.exit_code in (0, 1), result.output
    data = json.loads((out / "trajectory.json").read_text())
    assert data["steps"] == [2, 4, 8]
    items = sum(c["n"] for c in data["capabilities"])
    assert [row["items_from_cache"] for row in data["checkpoints"]] == [0, items, items]
    assert not user_cache.exists()
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["2", "4", "8"]


def test_bad_input_is_one_line_and_exit_2(tiny_base, training_run, tmp_path):
    run_folder, suite = training_run
    empty = tmp_path / "empty"
    empty.mkdir()
    twin = tmp_path / "twin"
    shutil.copytree(run_folder / "checkpoint-4", twin)
    (twin / "trainer_state.json").write_text(json.dumps({"global_step": 4}))
    cases = [
        ((tmp_path / "missing",), "no such file or folder"),
        ((empty,), "no checkpoint-* subfolders"),
        ((run_folder / "checkpoint-4", twin), "same step"),
        ((run_folder, "--learned", "juggling"), "not a capability of suite"),
    ]
    for args, needle in cases:
        result = run("trajectory", tiny_base, *args, "--suite", suite, "--out", tmp_path / "out", "--quiet")
        assert result.exit_code == 2, result.output
        errors = [line for line in result.stderr.splitlines() if line.startswith("forgetcheck: error:")]
        assert len(errors) == 1 and needle in errors[0], result.stderr
        assert "Traceback" not in result.output


def test_steps_from_names_trainer_state_or_position(tmp_path):
    for name, state in (("a", {"global_step": 300}), ("b", {"global_step": 100}), ("c", None)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text("{}")
        if state:
            (tmp_path / name / "trainer_state.json").write_text(json.dumps(state))
    found = find_checkpoints([str(tmp_path / n) for n in ("a", "b", "c")])
    assert [(c.step, c.step_from) for c in found] == [(3, "position"), (100, "trainer_state"),
                                                      (300, "trainer_state")]
    with pytest.raises(BadInput, match="no checkpoints given"):
        find_checkpoints([])


def test_learned_probe_from_a_yaml_joins_the_suite(training_run, tmp_path):
    _, suite = training_run
    own = tmp_path / "own"
    own.mkdir()
    shutil.copy(suite.parent / "task.jsonl", own / "task.jsonl")
    (own / "suite.yaml").write_text("probes:\n  - name: my-task\n    file: task.jsonl\n    kind: perplexity\n")
    tiny = load_suite(str(suite))
    merged, learned = with_learned(tiny, str(own / "suite.yaml"))
    assert learned == ["my-task"] and [p.name for p in merged.probes][-1] == "my-task"
    assert with_learned(tiny, "task") == (tiny, ["task"])
    with pytest.raises(BadInput, match="already in suite"):
        with_learned(merged, str(own / "suite.yaml"))


def test_power_law_recovers_exact_parameters():
    steps = [100, 200, 400, 800, 1600, 3200]
    forgetting = [0.004 * n ** 0.45 - 0.01 for n in steps]
    fit = fit_power_law(steps, forgetting)
    assert fit["fitted"]
    assert fit["A"] == pytest.approx(0.004, rel=1e-3)
    assert fit["beta"] == pytest.approx(0.45, rel=1e-4)
    assert fit["B"] == pytest.approx(-0.01, abs=1e-5)
    assert fit["r2"] == pytest.approx(1, abs=1e-9)


def test_retention_recovers_exact_parameters():
    steps = [0, 50, 100, 200, 400, 800]
    scores = [0.3 + (0.9 - 0.3) * math.exp(-n / 150) for n in steps]
    fit = fit_retention(steps, scores)
    assert fit["fitted"]
    assert fit["S_0"] == pytest.approx(0.9, rel=1e-4)
    assert fit["S_inf"] == pytest.approx(0.3, rel=1e-4)
    assert fit["tau"] == pytest.approx(150, rel=1e-4)
    assert fit["r2"] == pytest.approx(1, abs=1e-9)


def test_fits_on_noisy_data_stay_close():
    rng = np.random.default_rng(0)
    steps = np.arange(1, 21) * 100
    forgetting = 0.002 * steps ** 0.6 + 0.01 + rng.normal(0, 0.005, len(steps))
    power = fit_power_law(list(steps), list(forgetting))
    assert power["beta"] == pytest.approx(0.6, abs=0.15)
    assert 0.95 < power["r2"] < 1
    scores = 0.35 + 0.5 * np.exp(-steps / 600) + rng.normal(0, 0.01, len(steps))
    retention = fit_retention(list(steps), list(scores))
    assert retention["tau"] == pytest.approx(600, rel=0.3)
    assert 0.9 < retention["r2"] < 1


def test_too_few_or_flat_series_are_not_fitted():
    assert fit_power_law([1, 2], [0.1, 0.2]) == {"fitted": False, "formula": "forgetting(N) = A·N^β + B",
                                                "reason": "needs at least 3 points (the base and 2 checkpoints), has 2"}
    flat = fit_retention([1, 2, 3], [0.5, 0.5, 0.5])
    assert not flat["fitted"] and "same at every checkpoint" in flat["reason"]
    three = fit_power_law([1, 2, 3], [0.0, 0.1, 0.5])
    assert three["fitted"] and "passes through every point" in three["note"]
    json.dumps([flat, three], allow_nan=False)  # nothing that strict JSON refuses
