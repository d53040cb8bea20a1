"""`forgetcheck probes list|show|validate`, run as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from forgetcheck.cli import main
from forgetcheck.errors import BadInput
from forgetcheck.suites.suite import load_suite
from tests.conftest import write_suite


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_list_shows_builtin_suites_and_given_paths(tmp_path):
    result = invoke("probes", "list")
    assert result.exit_code == 0, result.output
    core = load_suite("core")
    assert result.output.startswith(f"core ({core.source}): {len(core.probes)} probes")
    for probe in core.probes:
        line = next(line for line in result.output.splitlines() if line.split()[:1] == [probe.name])
        assert f"{probe.kind}" in line and f"{len(probe.items)} items" in line

    suite = write_suite(tmp_path / "s", n_facts=5)
    mine = invoke("probes", "list", suite)
    assert mine.exit_code == 0 and "tiny" in mine.output
    assert [line.split()[:3] for line in mine.output.splitlines()[1:]] == [
        ["facts", "choice", "5"], ["recall", "generate", "5"], ["text", "perplexity", "30"]]


def test_show_without_a_model_gives_the_raw_prompt(tmp_path):
    suite = write_suite(tmp_path / "s", n_facts=5, chat="auto")
    result = invoke("probes", "show", f"{suite}:facts", "-n", "1")
    assert result.exit_code == 0, result.output
    assert "│fact 0 is\n" in result.output
    assert '" red" ✓' in result.output  # the scored continuation, space included, target marked
    assert "pass --model" in result.output and "recall" not in result.output


def test_show_with_a_model_renders_its_chat_template(tiny_base, tmp_path):
    suite = write_suite(tmp_path / "s", n_facts=5, chat="auto")
    result = invoke("probes", "show", suite, "--model", tiny_base, "-n", "1")
    assert result.exit_code == 0, result.output
    # The conftest tokenizer's template, exactly as a run renders it, marked as the view a run uses.
    assert "with chat template, used by a run:\n      │<|user|> fact 0 is\n      │<|assistant|>\n" in result.output
    assert "without chat template, not used:" in result.output
    assert "then greedy generation: at most 3 tokens" in result.output
    assert "scored as plain text" in result.output  # perplexity never gets a chat template


def test_show_refuses_an_unknown_probe_in_one_line(tmp_path):
    suite = write_suite(tmp_path / "s", n_facts=5)
    result = invoke("probes", "show", f"{suite}:nope")
    assert result.exit_code == 2
    assert "has no probe 'nope'; it has facts, recall, text" in result.output


def broken_suite(tmp_path):
    """One suite with problems in three places; each should be reported with its file:line."""
    suite = write_suite(tmp_path / "s", n_facts=6)
    facts = tmp_path / "s" / "facts.jsonl"
    lines = facts.read_text().splitlines()
    bad_target = json.loads(lines[3])
    bad_target["target"] = "purple"
    lines[1] = '{"id": "fact-1", "prompt": '
    lines[3] = json.dumps(bad_target)
    lines[5] = lines[4]  # fact-4 twice
    facts.write_text("\n".join(lines) + "\n")
    suite.write_text(suite.read_text().replace("    kind: perplexity\n", "    kind: prose\n"))
    return suite, facts


def test_validate_reports_every_problem_with_file_and_line(tmp_path):
    suite, facts = broken_suite(tmp_path)
    result = invoke("probes", "validate", suite)
    assert result.exit_code == 2
    problems = result.output.splitlines()
    assert problems[0].startswith(f"{facts}:2: not valid JSON")
    assert problems[1].startswith(f"{facts}:4: target 'purple' is not among the choices")
    assert problems[2].startswith(f"{facts}:6: id 'fact-4' is used twice")
    assert problems[3].startswith(f"{suite}:13: probes[2]: kind 'prose'")
    assert problems[4] == f"forgetcheck: 4 problems in {suite}"
    # Loading for a run walks the same code and stops at the first of them.
    try:
        load_suite(str(suite))
    except BadInput as exc:
        assert str(exc) == problems[0]
    else:
        raise AssertionError("a broken suite loaded")


def test_validate_a_sound_suite_is_one_line_and_exit_0(tmp_path):
    suite = write_suite(tmp_path / "s", n_facts=5)
    result = invoke("probes", "validate", suite)
    assert result.exit_code == 0, result.output
    assert result.output == f"{suite}: ok · 3 probes, 40 items (facts 5, recall 5, text 30)\n"


def test_the_readme_example_suite_is_sound(monkeypatch):
    root = Path(__file__).parents[1]
    result = invoke("probes", "validate", root / "examples" / "my-probes" / "suite.yaml")
    assert result.exit_code == 0, result.output
    assert "5 probes, 15 items" in result.output
    # As the README runs it: a relative path, whose lm-eval task names its data relative to itself.
    monkeypatch.chdir(root)
    relative = invoke("probes", "validate", "examples/my-probes/suite.yaml")
    assert relative.exit_code == 0 and "5 probes, 15 items" in relative.output, relative.output


def test_validate_flags_repeated_items_and_repeated_choices(tmp_path):
    """A repeated item (even with its choices shuffled) and a choice listed twice, each with file:line."""
    suite = write_suite(tmp_path / "s", n_facts=5)
    facts = tmp_path / "s" / "facts.jsonl"
    rows = [json.loads(line) for line in facts.read_text().splitlines()]
    rows.append(dict(rows[1], id="fact-1-again", choices=list(reversed(rows[1]["choices"]))))
    rows.append(dict(rows[2], id="fact-2-twice-red", choices=["red", "red", "blue", "gold"], target="blue"))
    facts.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = invoke("probes", "validate", suite)
    assert result.exit_code == 2, result.output
    problems = result.output.splitlines()
    assert problems[0] == (f"{facts}:6: item 'fact-1-again' repeats item 'fact-1' (line 2): same prompt, "
                           "choices and answer; remove one or change it")
    assert problems[1].startswith(f"{facts}:7: choices 'red' appear more than once in item 'fact-2-twice-red'")
    assert problems[2] == f"forgetcheck: 2 problems in {suite}"
    # A run still loads the suite: repeats are for validate to point out, not a reason to stop.
    assert len(load_suite(str(suite)).probes[0].items) == 7


def test_the_built_in_suites_validate_clean():
    for name in ("core", "core-quick"):
        result = invoke("probes", "validate", name)
        assert result.exit_code == 0, result.output
