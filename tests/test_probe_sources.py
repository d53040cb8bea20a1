"""Probes from datasets and lm-eval task YAML: local data only, never the Hub."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from forgetcheck.errors import BadInput  # noqa: E402
from forgetcheck.suites.asking import choice_requests  # noqa: E402
from forgetcheck.suites.suite import load_suite, validate_suite  # noqa: E402
from tests.conftest import COLOURS, fact_answer  # noqa: E402
from tests.conftest import assert_one_line_error, run, run_subprocess  # noqa: E402


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    import datasets.config

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-datasets-cache")


def write_facts(folder: Path, n: int = 12) -> Path:
    """A local JSON dataset over the tiny model's facts, shaped like a public benchmark."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"uid": f"f{i:03d}", "question": f"fact {i} is", "options": COLOURS,
             "label": COLOURS.index(fact_answer(i)), "answer": fact_answer(i), "topic": "colour"} for i in range(n)]
    path = folder / "facts.json"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def suite_file(folder: Path, body: str) -> Path:
    path = folder / "suite.yaml"
    path.write_text("name: byo\nprobes:\n" + body)
    return path


def test_dataset_with_a_field_mapping(tmp_path):
    write_facts(tmp_path)
    suite = load_suite(str(suite_file(tmp_path, """
  - name: facts
    kind: choice
    dataset: {path: json, data_files: facts.json, split: train}
    fields: {id: uid, prompt: question, choices: options, target: label, subcategory: topic}
""")))
    probe = suite.probes[0]
    assert len(probe.items) == 12 and probe.source == "json:train"
    first = probe.items[3]
    assert (first.id, first.prompt, first.choices, first.subcategory) == ("f003", "fact 3 is", tuple(COLOURS), "colour")
    assert first.choices[first.target] == fact_answer(3)


def test_dataset_with_templates_and_limit(tmp_path):
    write_facts(tmp_path)
    suite = load_suite(str(suite_file(tmp_path, """
  - name: facts
    kind: choice
    dataset: {path: json, data_files: facts.json}
    template: {prompt: "Q: {{ question }}?\\nA:", choices: "{{ options }}", target: "{{ answer }}"}
    limit: 5
  - name: recall
    kind: generate
    dataset: {path: json, data_files: [facts.json]}
    template: {prompt: "{{ question }}", target: "{{ answer | upper }}"}
""")))
    facts, recall = suite.probes
    assert [i.id for i in facts.items] == [f"facts-{i}" for i in range(5)]  # <probe>-<row index>
    assert facts.items[2].prompt == "Q: fact 2 is?\nA:"
    assert facts.items[2].choices[facts.items[2].target] == fact_answer(2)  # a choice string became its index
    assert len(recall.items) == 12 and recall.items[7].target == fact_answer(7).upper()


def test_dataset_from_a_save_to_disk_folder(tmp_path):
    import datasets

    rows = [{"text": f"fact {i} is {fact_answer(i)}"} for i in range(6)]
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "saved"))
    suite = load_suite(str(suite_file(tmp_path, """
  - name: text
    kind: perplexity
    dataset: {path: saved}
    fields: {text: text}
""")))
    assert [i.text for i in suite.probes[0].items] == [r["text"] for r in rows]


@pytest.mark.parametrize("body, needles", [
    ("fields: {prompt: question, choices: options, target: gold}",
     ("suite.yaml:4: probes[0]", "facts row 0", "fields.target", "'gold'", "not in the dataset")),
    ("template: {prompt: \"{{ question.__class__ }}\", choices: \"{{ options }}\", target: \"{{ label }}\"}",
     ("facts row 0", "template.prompt", "SecurityError")),
    ("template: {prompt: \"{{ question }}\", choices: \"{{ topic }}\", target: \"{{ label }}\"}",
     ("template.choices", "must give a list")),
    ("fields: {question: question}", ("fields.question", "not an item field")),
])
def test_dataset_errors_name_the_suite_probe_and_field(tmp_path, body, needles):
    write_facts(tmp_path)
    path = suite_file(tmp_path, f"""
  - name: facts
    kind: choice
    dataset: {{path: json, data_files: facts.json}}
    {body}
""")
    with pytest.raises(BadInput) as caught:
        load_suite(str(path))
    for needle in needles:
        assert needle in str(caught.value), str(caught.value)


def test_validating_reports_a_mapping_mistake_once_for_all_rows(tmp_path):
    write_facts(tmp_path)
    path = suite_file(tmp_path, """
  - name: facts
    kind: choice
    dataset: {path: json, data_files: facts.json}
    fields: {id: uid, prompt: query, choices: options, target: label}
""")
    suite, problems = validate_suite(str(path))
    assert problems == [f"{path}:4: probes[0]: facts row 0: fields.prompt: column 'query' is not in the dataset "
                        "(columns: uid, question, options, label, answer, topic) (and 11 more rows like it)"]


def test_a_missing_dataset_is_one_clear_error(tmp_path):
    path = suite_file(tmp_path, """
  - name: facts
    kind: choice
    dataset: {path: json, data_files: nowhere.json}
    fields: {prompt: q, choices: c, target: t}
""")
    with pytest.raises(BadInput, match=r"suite.yaml:4: probes\[0\]: dataset 'json' cannot be loaded"):
        load_suite(str(path))


def test_a_hub_dataset_is_named_and_read_from_a_local_copy(tmp_path, monkeypatch):
    """FORGETCHECK_DATASETS stands in for the Hub: the probe names the dataset, without the revision it cannot vouch for."""
    copy = tmp_path / "copies" / "someone" / "facts" / "default"
    write_facts(copy).rename(copy / "test.jsonl")
    monkeypatch.setenv("FORGETCHECK_DATASETS", str(tmp_path / "copies"))
    entry = """
  - name: facts
    kind: choice
    dataset: {path: %s, split: test, revision: 0123456789abcdef0123456789abcdef01234567}
    fields: {prompt: question, choices: options, target: label}
"""
    probe = load_suite(str(suite_file(tmp_path, entry % "someone/facts"))).probes[0]
    assert len(probe.items) == 12 and probe.info["dataset"] == {"id": "someone/facts", "split": "test"}
    # A suite cannot climb out of the copies folder with its dataset id.
    outside = tmp_path / "copies" / ".." / "secret" / "default"
    outside.mkdir(parents=True)
    (copy / "test.jsonl").rename(outside / "test.jsonl")
    with pytest.raises(BadInput, match=r"dataset 'x/\.\./\.\./secret' cannot be loaded"):
        load_suite(str(suite_file(tmp_path, entry % "x/../../secret")))


# -- lm-evaluation-harness tasks ----------------------------------------------

MC_BASE = """\
dataset_path: json
dataset_kwargs:
  data_files: facts.json
test_split: train
output_type: multiple_choice
doc_to_choice: "{{ options }}"
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
"""


def write_tasks(folder: Path) -> None:
    write_facts(folder)
    (folder / "_facts_base.yaml").write_text(MC_BASE)
    (folder / "facts_mc.yaml").write_text("""\
include: _facts_base.yaml
task: facts_mc
doc_to_text: question
doc_to_target: label
""")
    (folder / "facts_mc_text_target.yaml").write_text(MC_BASE + """\
task: facts_mc_text
description: "Colours.\\n\\n"
doc_to_text: "Q: {{ question }}"
doc_to_target: "{{ answer }}"
target_delimiter: ""
""")
    (folder / "facts_gen.yaml").write_text("""\
task: facts_gen
dataset_path: json
dataset_kwargs:
  data_files: facts.json
validation_split: train
output_type: generate_until
doc_to_text: "{{ question }}"
doc_to_target: answer
generation_kwargs:
  until: ["<|endoftext|>", "fact"]
  max_gen_toks: 3
  do_sample: false
metric_list:
  - metric: exact_match
    ignore_case: true
filter_list:
  - name: whole-answer
    filter:
      - function: remove_whitespace
      - function: take_first
""")


def test_lm_eval_multiple_choice_task(tmp_path):
    write_tasks(tmp_path)
    suite = load_suite(str(tmp_path / "facts_mc.yaml"))  # a task YAML works as a one-probe suite
    probe = suite.probes[0]
    assert (probe.name, probe.kind, probe.metric, probe.chat_template) == ("facts_mc", "choice", "acc", "off")
    assert len(probe.items) == 12 and probe.items[0].id == "facts_mc-0"
    item = probe.items[5]
    assert item.prompt == "fact 5 is" and item.choices[item.target] == fact_answer(5)
    # lm-eval's convention: context = doc_to_text, continuation = target_delimiter + choice.
    assert choice_requests(probe, item, False, None)[0] == ("fact 5 is", " red")


def test_lm_eval_choices_after_a_chat_template_have_no_delimiter(tmp_path, tiny_base):
    from transformers import AutoTokenizer

    from forgetcheck.scoring.hf import HFScorer

    write_tasks(tmp_path)
    probe = load_suite(str(tmp_path / "facts_mc.yaml")).probes[0]
    scorer = HFScorer(None, AutoTokenizer.from_pretrained(tiny_base), progress=False)
    # As lm-eval with --apply_chat_template: no delimiter, and the template's trailing
    # whitespace (none for this tokenizer) would move into the continuation.
    assert choice_requests(probe, probe.items[5], True, scorer)[0] == ("<|user|> fact 5 is\n<|assistant|>", "red")


def test_lm_eval_target_as_choice_text_description_and_delimiter(tmp_path):
    write_tasks(tmp_path)
    (tmp_path / "suite.yaml").write_text("name: s\nprobes:\n  - lm_eval_task: facts_mc_text_target.yaml\n    limit: 3\n")
    probe = load_suite(str(tmp_path / "suite.yaml")).probes[0]
    item = probe.items[2]
    assert len(probe.items) == 3 and item.prompt == "Colours.\n\nQ: fact 2 is"
    assert item.choices[item.target] == fact_answer(2)  # a choice string, as lm-eval accepts
    # target_delimiter "" is honoured even though the prompt does not end in a space.
    assert [c for _, c in choice_requests(probe, item, False, None)] == COLOURS


def test_lm_eval_generate_until_task(tmp_path):
    write_tasks(tmp_path)
    probe = load_suite(str(tmp_path / "facts_gen.yaml")).probes[0]
    assert (probe.kind, probe.max_tokens, probe.stop, probe.metric) == ("generate", 3, ("<|endoftext|>", "fact"), "exact_match")
    assert (probe.items[4].prompt, probe.items[4].target) == ("fact 4 is", fact_answer(4))


@pytest.mark.parametrize("yaml_text, key", [
    ("process_docs: !function utils.process_docs\n", "process_docs"),
    ("process_results: !function utils.process_results\n", "process_results"),
    ("metric_list:\n  - metric: acc\n    aggregation: !function utils.agg\n", "metric_list"),
    ("fewshot_config:\n  sampler: balanced\n", "fewshot_config"),
    ("metric_list:\n  - metric: f1\n", "metric_list"),
    ("filter_list:\n  - name: x\n    filter:\n      - function: take_first_k\n", "filter_list"),
    ("output_type: generate_image\n", "output_type"),
    ("use_prompt: 'promptsource:GPT-3 style'\n", "use_prompt"),
    ("repeats: 4\n", "repeats"),
    ("dataset_kwargs:\n  data_files: facts.json\n  streaming: true\n", "dataset_kwargs"),
])
def test_lm_eval_unsupported_features_are_refused_by_name(tmp_path, yaml_text, key):
    write_tasks(tmp_path)
    assert_refused_at_its_line(tmp_path / "task.yaml", (tmp_path / "facts_mc.yaml").read_text() + yaml_text, key)


def assert_refused_at_its_line(task, text: str, key: str) -> None:
    """Loading the task YAML ``text`` is refused with a message starting at the line of ``key``."""
    task.write_text(text)
    with pytest.raises(BadInput) as caught:
        load_suite(str(task))
    line = next(n for n, row in enumerate(task.read_text().splitlines(), 1) if row.startswith(key))
    assert str(caught.value).startswith(f"{task}:{line}: {key}:"), str(caught.value)


def test_function_hook_is_one_line_and_exit_2(tiny_base, tmp_path):
    write_tasks(tmp_path)
    task = tmp_path / "hooked.yaml"
    task.write_text((tmp_path / "facts_mc.yaml").read_text() + "doc_to_text: !function utils.doc_to_text\n")
    result = run_subprocess("compare", tiny_base, tiny_base, "--suite", task, "--out", tmp_path / "r",
                            env={"HF_DATASETS_OFFLINE": "1"})
    assert_one_line_error(result, f"{task}:", "doc_to_text", "!function utils.doc_to_text")


def test_imported_probes_score_end_to_end(tiny_base, tmp_path):
    """One cheap run: a dataset probe and two lm-eval tasks through `forgetcheck compare`."""
    write_tasks(tmp_path)
    suite = tmp_path / "suite.yaml"
    suite.write_text("""name: imported
probes:
  - name: mapped
    kind: choice
    chat_template: "off"
    dataset: {path: json, data_files: facts.json}
    fields: {id: uid, prompt: question, choices: options, target: label}
  - lm_eval_task: facts_mc.yaml
  - lm_eval_task: facts_gen.yaml
""")
    out = tmp_path / "report"
    result = run("compare", tiny_base, tiny_base, "--suite", suite, "--out", out, "--quiet")
    assert result.exit_code == 0, result.output
    caps = {c["name"]: c for c in json.loads((out / "report.json").read_text())["capabilities"]}
    assert set(caps) == {"mapped", "facts_mc", "facts_gen"}
    assert all(c["n"] == 12 for c in caps.values())
    # The tiny model memorised these facts: asked lm-eval's way, it still knows them.
    assert caps["facts_mc"]["base_score"] >= 0.9 and caps["mapped"]["base_score"] >= 0.9
    assert caps["facts_gen"]["base_score"] >= 0.9


@pytest.mark.parametrize("yaml_text, key", [
    ("generation_kwargs:\n  until: [1, 2]\n", "generation_kwargs"),
    ("generation_kwargs:\n  max_gen_toks: lots\n", "generation_kwargs"),
    ("target_delimiter: 3\n", "target_delimiter"),
    ("fewshot_config:\n  fewshot_delimiter: [x]\n", "fewshot_config"),
])
def test_lm_eval_settings_of_the_wrong_type_are_one_line(tmp_path, yaml_text, key):
    write_tasks(tmp_path)
    plain = (tmp_path / "facts_gen.yaml").read_text().replace(
        "generation_kwargs:\n  until: [\"<|endoftext|>\", \"fact\"]\n  max_gen_toks: 3\n  do_sample: false\n", "")
    assert_refused_at_its_line(tmp_path / "task.yaml", plain + yaml_text, key)
