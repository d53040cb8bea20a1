"""``forgetcheck card --readme``: one section between markers, and nothing else touched.

The card here has what real cards have: YAML front matter with comments and an
other tool's eval results, the authors' own sections, and another tool's marked
section. Every byte outside forgetcheck's section and its two metadata keys must
survive, and a second run must change nothing at all.
"""

from __future__ import annotations


import yaml
from huggingface_hub import ModelCard

from forgetcheck.integrations.card import END, START
from tests.conftest import make_comparison, run, save_report

FRONT = """---
# written by hand, keep this comment
license: apache-2.0
language:
- en
tags: [sft, "lora"]
model-index:
- name: my-finetune
  results:
  - task:
      type: text-generation
    dataset:
      name: GSM8K
      type: openai/gsm8k
    metrics:
    - type: accuracy
      value: 0.41
# the pipeline tag stays last
pipeline_tag: text-generation
---
"""
BODY = """
# My fine-tune

Trained on warehouse logs. *Do not* use it for poetry.

<!-- lighteval:start -->
| task | score |
|---|---|
| gsm8k | 41.0 |
<!-- lighteval:end -->

## Limitations

It forgets things.
"""


def split(card: str) -> tuple[str, str]:
    """Front matter (with its fences) and body."""
    end = card.index("\n---\n", 4) + len("\n---\n")
    return card[:end], card[end:]


def test_card_section_leaves_everything_else_byte_for_byte(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(FRONT + BODY)
    report = save_report(tmp_path)

    result = run("card", report, "--readme", readme)
    assert result.exit_code == 0, result.output
    first = readme.read_bytes()
    assert run("card", report, "--readme", readme).exit_code == 0
    assert readme.read_bytes() == first  # byte-identical on a second run

    card = first.decode()
    front, body = split(card)
    # The body: the authors' text and the other tool's section, then ours, appended.
    assert body.startswith(BODY)
    section = body[len(BODY):]
    assert section.startswith("\n" + START) and section.endswith(END + "\n")
    assert "## ❌ forgetcheck: 1 capability regressed (arithmetic)" in section
    # The front matter: every line that is not model-index is where it was.
    before = FRONT.splitlines()
    index_lines = range(before.index("model-index:"), before.index("# the pipeline tag stays last"))
    kept = [line for i, line in enumerate(before) if i not in index_lines]
    after = front.splitlines()
    assert [line for line in after if line in kept] == kept
    assert after[: index_lines.start] == before[: index_lines.start]
    assert after[-4:] == ["# the pipeline tag stays last", "pipeline_tag: text-generation",
                          "base_model: Qwen/Qwen2.5-0.5B-Instruct", "---"]

    # huggingface_hub reads the card: the other tool's result and ours are both there.
    data = ModelCard(card).data
    assert data.base_model == "Qwen/Qwen2.5-0.5B-Instruct"
    assert data.license == "apache-2.0" and data.tags == ["sft", "lora"]
    assert data.model_name == "my-finetune"
    by_dataset = {(r.dataset_type, r.dataset_config, r.metric_type): r.metric_value for r in data.eval_results}
    assert by_dataset[("openai/gsm8k", None, "accuracy")] == 0.41
    assert by_dataset[("forgetcheck/core", "arithmetic", "acc")] == 0.673
    assert by_dataset[("forgetcheck/core", "arithmetic", "forgetcheck_drop")] == 0.04
    assert by_dataset[("forgetcheck/core", "wiki-ppl", "perplexity")] == 11.37


def test_a_new_report_replaces_only_our_section_and_results(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(FRONT + BODY + "\nA last line the authors added later.\n")
    run("card", save_report(tmp_path), "--readme", readme)
    old = readme.read_text()
    comparison = make_comparison()
    comparison.capabilities[0].verdict = "held"
    comparison.capabilities[0].candidate_score = 0.70
    assert run("card", save_report(tmp_path, comparison), "--readme", readme).exit_code == 0
    new = readme.read_text()
    assert new.count(START) == new.count(END) == 1
    outside = lambda card: card[:card.index(START)] + card[card.index(END):]  # noqa: E731
    assert outside(new).split("model-index:")[0] == outside(old).split("model-index:")[0]
    assert outside(new)[outside(new).index("# the pipeline"):] == outside(old)[outside(old).index("# the pipeline"):]
    results = ModelCard(new).data.eval_results
    assert [r.metric_value for r in results if r.dataset_config == "arithmetic" and r.metric_type == "acc"] == [0.7]
    assert len(results) == len(ModelCard(old).data.eval_results)


def test_card_without_front_matter_and_with_crlf_line_endings(tmp_path):
    readme = tmp_path / "README.md"
    original = "# Title\r\n\r\nSome text without a final newline"
    readme.write_bytes(original.encode())
    run("card", save_report(tmp_path), "--readme", readme)
    card = readme.read_bytes().decode()
    assert card.startswith("---\r\n") and "\r\n---\r\n" + original in card
    assert "\n" not in card.replace("\r\n", "")
    assert ModelCard(card).data.base_model == "Qwen/Qwen2.5-0.5B-Instruct"
    run("card", save_report(tmp_path), "--readme", readme)
    assert readme.read_bytes().decode() == card


def test_existing_base_model_is_kept_and_a_new_card_is_created(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("---\nbase_model: someone/else\n---\nHello\n")
    run("card", save_report(tmp_path), "--readme", readme)
    assert ModelCard(readme.read_text()).data.base_model == "someone/else"
    fresh = tmp_path / "new" / "README.md"
    result = run("card", save_report(tmp_path), "--readme", fresh, "--with-chart")
    assert result.exit_code == 0, result.output
    assert "](forgetcheck-chart.png)" in fresh.read_text()
    assert (fresh.parent / "forgetcheck-chart.png").read_bytes()[:4] == b"\x89PNG"


def test_broken_markers_are_one_line_errors(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Card\n\n{START}\nhalf a section\n")
    result = run("card", save_report(tmp_path), "--readme", readme)
    assert result.exit_code == 2
    assert str(readme) in result.output and "broken" in result.output
    assert readme.read_text() == f"# Card\n\n{START}\nhalf a section\n"
    readme.write_text("---\nlicense: [unclosed\n---\nHi\n")
    result = run("card", save_report(tmp_path), "--readme", readme)
    assert result.exit_code == 2 and "front matter" in result.output


def test_card_needs_exactly_one_target(tmp_path):
    result = run("card", save_report(tmp_path))
    assert result.exit_code == 2 and "--readme PATH" in result.output


def test_section_is_inert_against_hostile_answers(tmp_path):
    readme = tmp_path / "README.md"
    run("card", save_report(tmp_path), "--readme", readme)
    card = readme.read_text()
    section = card[card.index(START):card.index(END)]
    assert "<script>" not in section and "@octocat" not in section
    assert section.count("<details>") == section.count("</details>")
    assert yaml.safe_load(split(card)[0].strip("-\n"))["base_model"] == "Qwen/Qwen2.5-0.5B-Instruct"


def test_markers_inside_a_code_fence_are_text(tmp_path):
    readme = tmp_path / "README.md"
    example = (f"## How this card is made\n\nforgetcheck writes between two markers:\n\n````markdown\n{START}\n"
               f"(the report)\n```\n{END}\n```\n{START}\n````\n\n~~~\n{END}\n~~~\n\n    {START}\n")
    readme.write_text("# My model\n\n" + example)
    first = run("card", save_report(tmp_path), "--readme", readme)
    assert first.exit_code == 0, first.output
    card = readme.read_text()
    assert example in card and card.index(example) < card.rindex(START)  # appended after, example untouched

    comparison = make_comparison()
    comparison.capabilities[0].verdict = "held"
    again = run("card", save_report(tmp_path, comparison), "--readme", readme)
    assert again.exit_code == 0, again.output
    updated = readme.read_text()
    assert example in updated and updated.count(START) == card.count(START) == 4
    section = updated[updated.rindex(START):]
    assert "| **arithmetic** |" in section and section != card[card.rindex(START):]


# --- Real datasets, several suites, .eval_results -----------------------------------------------------------

GSM8K = {"id": "openai/gsm8k", "config": "main", "split": "test", "revision": "e53f048856ff4f594e959d75785d2c2d37b678ee",
         "task": "gsm8k"}
RUN = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/model", "GITHUB_RUN_ID": "42"}
RUN_URL = "https://github.com/acme/model/actions/runs/42"


def from_datasets(suite="lm-eval-gsm8k"):
    """A report whose first capability's items came from a Hub dataset (as lm-eval and Hub suites set it)."""
    comparison = make_comparison()
    comparison.capabilities[0].dataset = dict(GSM8K)
    comparison.settings.suites = [{"name": suite, "sha256": "d" * 64}]
    return comparison


def card_cli(env, report, readme, *args):
    from click.testing import CliRunner

    from forgetcheck.cli import main

    return CliRunner(env=env).invoke(main, ["card", str(report), "--readme", str(readme), *map(str, args)],
                                     catch_exceptions=False)


def test_a_real_dataset_is_named_with_its_split_revision_and_source(tmp_path):
    from huggingface_hub import parse_eval_result_entries
    from huggingface_hub.repocard_data import model_index_to_eval_results

    readme = tmp_path / "model" / "README.md"
    readme.parent.mkdir()
    readme.write_text(FRONT + BODY)
    report = save_report(tmp_path, from_datasets())
    first = card_cli(RUN, report, readme)
    assert first.exit_code == 0 and ".eval_results/forgetcheck-lm-eval-gsm8k.yaml" in first.output, first.output
    card = readme.read_bytes()
    results_file = readme.parent / ".eval_results" / "forgetcheck-lm-eval-gsm8k.yaml"
    written = results_file.read_bytes()
    again = card_cli(RUN, report, readme)
    assert "unchanged" in again.output and readme.read_bytes() == card and results_file.read_bytes() == written

    # The model-index, read back by huggingface_hub: the real dataset, its split and revision, and the run.
    model_card = ModelCard(card.decode())
    name, results = model_index_to_eval_results(model_card.data.to_dict()["model-index"])
    assert name == "my-finetune"
    gsm8k = [r for r in results if r.dataset_type == "openai/gsm8k" and r.task_name and "forgetcheck" in r.task_name]
    assert {r.metric_type for r in gsm8k} == {"acc", "forgetcheck_drop"}
    for result in gsm8k:
        assert (result.dataset_config, result.dataset_split, result.dataset_revision) == ("main", "test", GSM8K["revision"])
        assert (result.source_url, result.source_name) == (RUN_URL, "GitHub Actions run")
    own = [r for r in results if r.dataset_type == "forgetcheck/lm-eval-gsm8k"]
    assert {r.dataset_config for r in own} == {"instruction-following", "wiki-ppl"}  # forgetcheck's own probes
    assert any(r.dataset_type == "openai/gsm8k" and r.metric_value == 0.41 for r in results)  # the other tool's

    # .eval_results, read back by huggingface_hub's own parser: only the Hub dataset.
    entries = parse_eval_result_entries(yaml.safe_load(written))
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.dataset_id, entry.task_id, entry.value, entry.dataset_revision) == \
        ("openai/gsm8k", "gsm8k", 0.673, GSM8K["revision"])
    assert (entry.source_url, entry.source_name, entry.date) == (RUN_URL, "GitHub Actions run", "2025-01-01T12:00:00Z")
    assert "arithmetic (main/test)" in entry.notes and "+4.0 points, regressed" in entry.notes


def test_several_suites_share_one_card(tmp_path):
    from huggingface_hub.repocard_data import model_index_to_eval_results

    readme = tmp_path / "README.md"
    readme.write_text(FRONT + BODY)
    core = make_comparison()
    assert card_cli({}, save_report(tmp_path, core), readme).exit_code == 0
    other = from_datasets("mmlu-subset")
    result = card_cli({}, save_report(tmp_path, other), readme, "--source-url", "https://example.org/report.md")
    assert result.exit_code == 0, result.output
    both = readme.read_text()
    assert both.count(START) == both.count(END) == 2
    core.capabilities[0].verdict = "held"  # suite core again, with a new result
    assert card_cli({}, save_report(tmp_path, core), readme).exit_code == 0
    card = readme.read_text()
    assert card.count(START) == 2
    # The core section was replaced where it was; the mmlu-subset section is untouched.
    sections = [card[s:card.index(END, s)] for s in range(len(card)) if card.startswith(START, s)]
    assert "(suite core)" in sections[0] and "(suite mmlu-subset)" in sections[1]
    assert sections[1] == [both[s:both.index(END, s)] for s in range(len(both)) if both.startswith(START, s)][1]
    _, results = model_index_to_eval_results(ModelCard(card).data.to_dict()["model-index"])
    suites = {r.task_name for r in results}
    assert suites == {None, "Forgetting check (forgetcheck, suite core)",
                      "Forgetting check (forgetcheck, suite mmlu-subset)"}
    mmlu = [r for r in results if r.task_name and "mmlu-subset" in r.task_name]
    assert all(r.source_url == "https://example.org/report.md" for r in mmlu) and len(mmlu) == 6
    core_drop = [r.metric_name for r in results if r.task_name and "suite core" in r.task_name
                 and r.metric_type == "forgetcheck_drop" and r.dataset_config == "arithmetic"]
    assert core_drop == ["arithmetic: drop vs base (share of items; positive = forgotten; held)"]


def test_a_bad_source_url_is_one_line(tmp_path):
    result = card_cli({}, save_report(tmp_path), tmp_path / "README.md", "--source-url", "javascript:alert(1)")
    assert result.exit_code == 2 and "--source-url" in result.output and result.output.count("\n") == 1


def test_a_card_written_before_suites_were_named_is_updated_not_doubled(tmp_path):
    legacy = ("---\nmodel-index:\n- name: m\n  results:\n  - task:\n      type: text-generation\n"
              "      name: Forgetting check (forgetcheck)\n    dataset:\n      name: 'forgetcheck core: arithmetic'\n"
              "      type: forgetcheck/core\n      config: arithmetic\n    metrics:\n    - type: acc\n"
              "      value: 0.5\n---\n# Model\n\n" + START + "\n<!-- Written by `forgetcheck card` from report.json: "
              "edits between these markers are replaced on the next run. -->\n\nold report\n" + END + "\n")
    readme = tmp_path / "README.md"
    readme.write_text(legacy)
    assert card_cli({}, save_report(tmp_path), readme).exit_code == 0
    card = readme.read_text()
    assert card.count(START) == 1 and "old report" not in card and "(suite core)" in card
    results = ModelCard(card).data.eval_results
    assert [r.metric_value for r in results if r.dataset_config == "arithmetic" and r.metric_type == "acc"] == [0.673]
