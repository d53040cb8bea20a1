"""Several candidates against one base in one run: `forgetcheck compare BASE CAND1 CAND2 …`.

Two adapters (one trained to forget, one that changes nothing) and a full checkpoint
(the forgetful adapter merged) against the tiny base, through the real CLI.
"""

from __future__ import annotations

import json

import pytest

from forgetcheck.analysis.stats import holm
from forgetcheck.commands.compare import worst_exit_code
from forgetcheck.errors import BadInput
from forgetcheck.report.files import read_report
from forgetcheck.report.side_by_side import read_candidates
from forgetcheck.workflows.compare import candidate_labels
from tests.conftest import run, write_suite

LABELS = ["forgetful-adapter", "noop-adapter", "merged-checkpoint"]


@pytest.fixture(scope="module")
def candidates(tmp_path_factory, tiny_base, forgetful_adapter, merged_candidate):
    """The three candidates, in folders whose names become their labels."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    root = tmp_path_factory.mktemp("candidates")
    noop = root / "noop-adapter"
    # A fresh LoRA adapter: lora_B starts at zero, so it changes nothing.
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_base),
                           LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    model.save_pretrained(noop)
    forgetful = root / "forgetful-adapter"
    forgetful.symlink_to(forgetful_adapter, target_is_directory=True)
    merged = root / "merged-checkpoint"
    merged.symlink_to(merged_candidate, target_is_directory=True)
    return [forgetful, noop, merged]


@pytest.fixture(scope="module")
def small_suite(tmp_path_factory):
    return write_suite(tmp_path_factory.mktemp("small-suite"), n_facts=40)


@pytest.fixture(scope="module")
def several(tmp_path_factory, tiny_base, candidates, small_suite):
    """One several-candidate run through the CLI, counting what the base and each model cost."""
    out = tmp_path_factory.mktemp("several") / "out"
    mp = pytest.MonkeyPatch()
    import forgetcheck.models.weights as weights
    import forgetcheck.results.runner as runner

    scored: dict[str, int] = {}
    loaded: list[str] = []
    score_probe, load_weights = runner.score_probe, weights.load_weights

    def counting_score(probe, scorer, chat):
        scored[scorer.label] = scored.get(scorer.label, 0) + len(probe.items)
        return score_probe(probe, scorer, chat)

    def counting_load(spec, **options):
        loaded.append(spec.path.name)
        return load_weights(spec, **options)

    mp.setattr(runner, "score_probe", counting_score)
    mp.setattr(weights, "load_weights", counting_load)
    try:
        result = run("compare", tiny_base, *candidates, "--suite", small_suite, "--out", out, "--quiet", "--no-cache",
                     "--recovery-shots", "0")
    finally:
        mp.undo()
    return result, out, scored, loaded


def test_base_is_scored_and_loaded_once(several, candidates, tiny_base):
    result, out, scored, loaded = several
    items = 40 + 40 + 30
    # Every scorer is counted by its label: the base once, each candidate once.
    assert scored == {"base": items, **{str(c): items for c in candidates}}, scored
    # The adapters share the one loaded base; the full checkpoint loads after it, alone.
    assert loaded == [tiny_base.name, candidates[2].name]


def test_each_candidate_scores_as_it_would_alone(several, candidates, tiny_base, small_suite, tmp_path):
    result, out, _, _ = several
    for label, candidate in zip(LABELS, candidates):
        alone = run("compare", tiny_base, candidate, "--suite", small_suite, "--out", tmp_path / label, "--quiet",
                    "--no-cache", "--recovery-shots", "0")
        assert alone.exit_code in (0, 1, 3), alone.output
        single = json.loads((tmp_path / label / "report.json").read_text())
        joint = json.loads((out / label / "report.json").read_text())
        fields = ("item_id", "base_score", "candidate_score", "base_answer", "candidate_answer", "flip")
        # Bit for bit: same dtype, same batches, so the same floats.
        assert [[i[f] for f in fields] for i in single["items"]] == [[i[f] for f in fields] for i in joint["items"]]
        assert [c["p_value"] for c in single["capabilities"]] == [c["p_value"] for c in joint["capabilities"]]
        assert single["drift"]["overall"] == joint["drift"]["overall"]
        # A single run corrects across its own capabilities only.
        assert [c["p_adjusted"] for c in single["capabilities"]] == holm([c["p_value"] for c in single["capabilities"]])
        assert not (tmp_path / label / "candidates.json").exists()


def test_holm_runs_across_every_capability_and_candidate(several):
    _, out, _, _ = several
    reports = [json.loads((out / label / "report.json").read_text()) for label in LABELS]
    p_values = [c["p_value"] for r in reports for c in r["capabilities"]]
    assert len(p_values) == 9
    expected = holm(p_values)
    assert [c["p_adjusted"] for r in reports for c in r["capabilities"]] == expected
    # The joint correction is stricter than each run's own: 9 tests, not 3.
    forgetful_text = next(c for c in reports[0]["capabilities"] if c["name"] == "text")
    assert forgetful_text["p_adjusted"] > holm([c["p_value"] for c in reports[0]["capabilities"]])[2]
    assert any("Holm-corrected across all 9" in w for w in reports[0]["warnings"])


def test_verdicts_exit_code_and_side_by_side_table(several):
    result, out, _, _ = several
    assert result.exit_code == 1, result.output  # the worst candidate regressed
    verdicts = {label: json.loads((out / label / "report.json").read_text())["verdict"] for label in LABELS}
    assert verdicts["forgetful-adapter"] == verdicts["merged-checkpoint"] == "regressed"
    assert verdicts["noop-adapter"] in ("held", "inconclusive")
    noop = json.loads((out / "noop-adapter" / "report.json").read_text())
    assert all(c["drop"] == 0 and c["verdict"] != "regressed" for c in noop["capabilities"])

    markdown = (out / "report.md").read_text()
    header = next(line for line in markdown.splitlines() if line.startswith("| capability"))
    assert header == r"| capability | n | base | forgetful\-adapter | noop\-adapter | merged\-checkpoint |"
    facts = next(line for line in markdown.splitlines() if line.startswith("| **facts**"))
    cells = [cell.strip() for cell in facts.strip("|").split("|")]
    assert "❌ regressed" in cells[3] and "❌ regressed" not in cells[4] and "❌ regressed" in cells[5]
    assert cells[3].startswith("+") and "pts [" in cells[3]
    assert "2 of 3 candidates regressed" in markdown.splitlines()[0]
    assert "(forgetful-adapter/report.md)" in markdown

    lines = result.output.splitlines()
    assert lines[0].split() == ["capability", "n", "base", *LABELS]
    assert any(line.startswith("facts") and line.count("REGRESSED") == 2 for line in lines)
    assert "forgetcheck: regressed (the worst of 3 candidates)" in result.output

    assert [json.loads((out / "candidates.json").read_text())["candidates"][k]["label"] for k in range(3)] == LABELS
    assert list(read_candidates(out)) == LABELS


def test_exit_code_follows_the_worst_candidate(several):
    _, out, _, _ = several
    runs = {label: read_report(out / label) for label in LABELS}
    noop = {"noop-adapter": runs["noop-adapter"]}
    assert worst_exit_code(runs, "regressed") == 1
    assert worst_exit_code(runs, "never") == 0
    expected_noop = 3 if runs["noop-adapter"].verdict == "inconclusive" else 0
    assert worst_exit_code(noop, "inconclusive") == expected_noop
    assert worst_exit_code(noop, "regressed") == 0


def test_a_bad_candidate_stops_the_run_before_any_scoring(tiny_base, candidates, small_suite, tmp_path):
    result = run("compare", tiny_base, candidates[1], tmp_path / "missing", "--suite", small_suite,
                 "--out", tmp_path / "out", "--quiet")
    assert result.exit_code == 2
    assert "missing" in result.output and "no such file or folder" in result.output
    assert not (tmp_path / "out" / "report.md").exists()


def test_labels_are_unique_and_safe():
    assert candidate_labels(["runs/a/checkpoint-500", "runs/b/checkpoint-500", "org/model@refs/pr/3"]) == [
        "a-checkpoint-500", "b-checkpoint-500", "model@refs-pr-3"]
    assert candidate_labels(["x/same", "x/same", "../../etc", "report.md", "CON"]) == [
        "x-same", "x-same-2", "etc", "report.md-candidate", "CON-candidate"]


def test_a_hostile_index_is_refused(tmp_path):
    (tmp_path / "candidates.json").write_text(json.dumps({"candidates": [{"label": "../outside"}]}))
    with pytest.raises(BadInput, match=r"candidates\[0\].label"):
        read_candidates(tmp_path)


def test_examples_in_the_docstrings_run():
    import doctest

    import forgetcheck.report.side_by_side as side_by_side
    import forgetcheck.workflows.compare as compare_module

    assert doctest.testmod(side_by_side).failed == 0
    assert doctest.testmod(compare_module).failed == 0


def test_pull_request_comment_shows_the_candidates_side_by_side(several, github):
    from click.testing import CliRunner

    from forgetcheck.cli import main
    from forgetcheck.report.comment import is_ours, marker

    _, out, _, _ = several
    server, env = github
    result = CliRunner(env=env).invoke(main, ["comment", "github", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    [posted] = [c for c in server.comments if is_ours(c["body"], marker())]
    body = posted["body"]
    assert body.startswith("## ❌ forgetcheck: 2 of 3 candidates regressed")
    assert r"| capability | n | base | forgetful\-adapter | noop\-adapter | merged\-checkpoint |" in body
    assert "report.md)" not in body  # no links to files the pull request does not have


def test_card_describes_one_candidate_beside_the_others(several, tmp_path):
    _, out, _, _ = several
    readme = tmp_path / "noop-adapter" / "README.md"  # the card of the model labelled noop-adapter
    readme.parent.mkdir()
    readme.write_text("---\nlicense: mit\n---\n# My adapter\n")
    assert run("card", out, "--readme", readme).exit_code == 0
    card = readme.read_text()
    assert "| capability | n | base | forgetful\\-adapter | noop\\-adapter | merged\\-checkpoint |" in card
    assert card.startswith("---\nlicense: mit\n") and "# My adapter" in card
    # model-index holds the card's own model's results: the no-op adapter dropped nothing.
    import yaml

    index = yaml.safe_load(card.split("---")[1])["model-index"][0]
    drops = [m["value"] for r in index["results"] for m in r["metrics"] if m["type"] == "forgetcheck_drop"]
    assert index["name"] == "noop-adapter" and drops == [0, 0, 0]

    other = tmp_path / "elsewhere" / "README.md"
    refused = run("card", out, "--readme", other)
    assert refused.exit_code == 2 and "--candidate LABEL" in refused.output
    assert run("card", out, "--readme", other, "--candidate", "merged-checkpoint").exit_code == 0


def test_report_rejudges_the_run_together(several):
    _, out, _, _ = several
    again = json.loads(run("report", out, "--format", "json").output)
    assert list(again) == LABELS
    for label in LABELS:
        saved = json.loads((out / label / "report.json").read_text())
        assert [c["p_adjusted"] for c in again[label]["capabilities"]] == [c["p_adjusted"] for c in saved["capabilities"]]
    lenient = run("report", out, "--tolerance", "0.99")  # 99 points, and 0.99 nat/token for perplexity
    facts = next(line for line in lenient.output.splitlines() if line.startswith("facts"))
    text = next(line for line in lenient.output.splitlines() if line.startswith("text"))
    assert "REGRESSED" not in facts and text.count("REGRESSED") == 2 and lenient.exit_code == 1
    assert run("report", out, "--tolerance", "0.99", "--fail-on", "never").exit_code == 0
    assert run("report", out).exit_code == 1
    assert run("report", out, "--format", "md").output.startswith("## ❌ forgetcheck: 2 of 3 candidates regressed")


def test_unmerged_adapters_switch_by_name_too(tiny_base, candidates, tmp_path):
    """In bfloat16 no adapter is merged (merging would round): the adapters run through PEFT's own layers."""
    from forgetcheck import compare, compare_many

    suite = write_suite(tmp_path / "suite", n_facts=12)
    quick = dict(dtype="bfloat16", cache=False, progress=False, kl_samples=0, recovery_shots=0)
    together = compare_many(str(tiny_base), [str(candidates[1]), str(candidates[0])], str(suite), **quick)
    assert list(together) == ["noop-adapter", "forgetful-adapter"]
    for label, candidate in zip(together, [candidates[1], candidates[0]]):
        alone = compare(str(tiny_base), str(candidate), str(suite), **quick)
        assert [(i.base_score, i.candidate_score, i.candidate_answer) for i in alone.items] == \
            [(i.base_score, i.candidate_score, i.candidate_answer) for i in together[label].items]
    assert all(i.base_score == i.candidate_score for i in together["noop-adapter"].items)
