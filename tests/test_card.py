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
