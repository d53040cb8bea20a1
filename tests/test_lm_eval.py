"""lm-evaluation-harness tasks in forgetcheck: imported verbatim, and agreeing with lm-eval item by item.

The first part imports lm-eval's shipped task YAMLs as a user points forgetcheck at them with
local data; tasks that carry code are refused with one line naming file:line and what to do.
The second part runs forgetcheck against lm-evaluation-harness itself, on the same model and data.

Each task here is lm-eval's own YAML (verbatim, from the installed package) reached
through a two-line wrapper that points it at local JSON files with the real
dataset's columns: both tools read the very same wrapper. lm-eval runs through
``simple_evaluate`` with its ``HFLM`` on a copy of the tiny test model; forgetcheck
loads the wrapper as a suite and scores it through its real scorer. Every item's
verdict (acc, acc_norm, exact_match after filters, greedy match) must agree, and
the log-likelihoods must agree to float tolerance.
"""

from __future__ import annotations

import json
import re
import os
import shutil
from pathlib import Path

import pytest

lm_eval = pytest.importorskip("lm_eval")

os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from forgetcheck.suites.asking import choice_requests, lm_eval_split, score_probe  # noqa: E402
from forgetcheck.errors import BadInput  # noqa: E402
from forgetcheck.suites.suite import load_suite, validate_suite  # noqa: E402
from tests.conftest import COLOURS, assert_one_line_error, fact_answer, fact_sentences, run, run_subprocess  # noqa: E402

TASKS = Path(lm_eval.__file__).parent / "tasks"
LETTERS = ["A", "B", "C", "D"]
N = 8


def colour_index(i: int) -> int:
    return COLOURS.index(fact_answer(i))


def arc_row(i: int) -> dict:
    return {"id": f"q{i}", "question": f"fact {i} is", "choices": {"text": COLOURS, "label": LETTERS},
            "answerKey": LETTERS[colour_index(i)]}


# Rows shaped like each real dataset (same columns, same types), about the tiny model's facts.
DATA = {
    "arc": lambda i: arc_row(i),
    "openbookqa": lambda i: {"id": f"o{i}", "question_stem": f"fact {i} is",
                             "choices": {"text": COLOURS, "label": LETTERS}, "answerKey": LETTERS[colour_index(i)]},
    "piqa": lambda i: {"goal": f"fact {i} is", "sol1": COLOURS[(colour_index(i) + i) % 4],
                       "sol2": COLOURS[(colour_index(i) + 1) % 4], "label": int(i % 4 != 0)},
    "boolq": lambda i: {"idx": i, "passage": fact_sentences()[i], "question": f"is fact {i} red",
                        "label": int(fact_answer(i) == "red")},
    # hellaswag's rows after its utils.process_docs (query, choices, string label): saved processed, as told.
    "hellaswag": lambda i: {"query": f"fact {i} is", "choices": COLOURS, "label": str(colour_index(i))},
    "mmlu": lambda i: {"question": f" fact {i} is ", "subject": "anatomy", "choices": COLOURS,
                       "answer": colour_index(i)},
    # Half the sentences are false, so the greedy word is wrong on some.
    "lambada": lambda i: {"text": fact_sentences()[i] if i % 2 else f"fact {i} is {COLOURS[colour_index(i) - 1]}"},
    "wikitext": lambda i: {"page": " ".join(fact_sentences()[i * 3:i * 3 + 3])},
    "gsm8k": lambda i: {"question": f"fact {i} is", "answer": f"fact {i + 1} is next\n#### {i + 1}"},
    # winogrande: the blank is filled by each option, the rest of the sentence is the shared continuation.
    "winogrande": lambda i: {"sentence": f"fact {i} is _ and that is all",
                             "option1": COLOURS[(colour_index(i) + i % 2) % 4],
                             "option2": COLOURS[(colour_index(i) + 1 - i % 2) % 4], "answer": "1" if i % 2 == 0 else "2"},
    # hellaswag's raw columns, for its own process_docs (run by lm-eval with --allow-task-code).
    "hellaswag_raw": lambda i: {"activity_label": "Facts", "ctx_a": f"fact {i}", "ctx_b": "is [title] so",
                                "endings": COLOURS, "label": str(colour_index(i))},
    "facts": lambda i: {"question": f"fact {i} is ", "options": COLOURS, "label": colour_index(i),
                        # multi_choice_regex letters an answer by the row's own choices: some rows list them reversed
                        "answer": fact_answer(i), "choices": COLOURS if i % 3 else COLOURS[::-1]},
}
SPLITS = {"train": range(40, 40 + N), "validation": range(N), "test": range(N), "dev": range(60, 60 + N)}

# task name -> (lm-eval YAML it includes, extra lines). Only data location (and, where a
# task runs code, the documented replacement) is overridden.
WRAPPERS = {
    "arc_easy": ("arc/arc_easy.yaml", "arc", ""),
    "arc_challenge": ("arc/arc_challenge.yaml", "arc", "num_fewshot: 2\n"),
    "openbookqa": ("openbookqa/openbookqa.yaml", "openbookqa", ""),
    "piqa": ("piqa/piqa.yaml", "piqa", ""),
    "boolq": ("super_glue/boolq/default.yaml", "boolq", ""),
    "hellaswag": ("hellaswag/hellaswag.yaml", "hellaswag", "process_docs: null\n"),
    "mmlu_anatomy": ("mmlu/default/mmlu_anatomy.yaml", "mmlu", "num_fewshot: 2\n"),
    "lambada_openai": ("lambada/lambada_openai.yaml", "lambada", ""),
    "wikitext": ("wikitext/wikitext.yaml", "wikitext", 'doc_to_target: "{{page}}"\nprocess_results: null\n'),
    "gsm8k": ("gsm8k/gsm8k.yaml", "gsm8k", ""),
}

# Tasks that carry Python, verbatim (only the data location overridden): built by lm-eval itself
# under --allow-task-code, asked and scored by forgetcheck.
CODE_WRAPPERS = {
    "winogrande": ("winogrande/default.yaml", "winogrande", ""),
    "hellaswag_code": ("hellaswag/hellaswag.yaml", "hellaswag_raw", ""),
    "wikitext_code": ("wikitext/wikitext.yaml", "wikitext", ""),
}

# Features lm-eval's shipped tasks above leave out: the asked split as the few-shot pool
# (lm-eval leaves the asked row out), few-shot samples written in the YAML, a description,
# custom delimiters, gen_prefix (a text or a template, in examples too), a prompt ending in a
# space, doc_to_choice as a mapping or a column, a target given as choice text, and a
# generate target compared without stripping.
OWN_TASKS = {
    "facts_fewshot": """\
output_type: multiple_choice
test_split: test
fewshot_split: test
num_fewshot: 3
description: "Colours of facts.\\n"
doc_to_text: "{{question}}"
doc_to_choice: {a: red, b: blue, c: green, d: gold}
doc_to_target: label
target_delimiter: ""
fewshot_delimiter: "\\n"
metric_list:
  - metric: acc
  - metric: acc_norm
""",
    "facts_samples": """\
output_type: multiple_choice
test_split: test
num_fewshot: 2
fewshot_config:
  samples:
    - {question: "fact 3 is", options: [red, blue, green, gold], label: 1}
    - {question: "fact 9 is", options: [red, blue, green, gold], label: 2}
    - {question: "fact 11 is", options: [red, blue, green, gold], label: 3}
doc_to_text: "Q: {{question}}"
doc_to_choice: options
doc_to_target: "{{options[label]}}"
metric_list:
  - metric: acc
  - metric: acc_bytes
""",
    "facts_prefix": """\
output_type: multiple_choice
test_split: test
fewshot_split: train
num_fewshot: 2
doc_to_text: "{{question.strip()}}"
gen_prefix: "Colour:"
doc_to_choice: options
doc_to_target: label
metric_list:
  - metric: acc
""",
    "facts_gen_prefix": """\
output_type: generate_until
test_split: test
fewshot_split: train
num_fewshot: 1
doc_to_text: "{{question.split(' is')[0]}}"
gen_prefix: "{{'is'}}"
doc_to_target: "{{' ' + answer}}"
target_delimiter: " "
fewshot_delimiter: ". "
generation_kwargs: {until: ["<|endoftext|>", "."], max_gen_toks: 3}
metric_list:
  - metric: exact_match
""",
    "facts_gen_exact": """\
output_type: generate_until
test_split: test
doc_to_text: "{{question.strip()}}"
doc_to_target: "{{answer}}"
generation_kwargs: {until: ["<|endoftext|>", "fact"], max_gen_toks: 3}
metric_list:
  - metric: exact_match
""",
    "facts_gen_spaced": """\
output_type: generate_until
test_split: test
doc_to_text: "{{question.strip()}}"
doc_to_target: "{{' ' + answer.upper()}}"
generation_kwargs: {until: ["<|endoftext|>", "fact"], max_gen_toks: 3}
metric_list:
  - metric: exact_match
    ignore_case: true
    ignore_punctuation: true
filter_list:
  - name: upper
    filter:
      - function: uppercase
      - function: take_first
""",
    # A translation-style task: lm-eval reports corpus BLEU/chrF/TER over the (reference, answer) pairs it logs.
    "facts_translate": """\
output_type: generate_until
test_split: test
doc_to_text: "{{question.strip()}}"
doc_to_target: "{{answer}} it is"
generation_kwargs: {until: ["<|endoftext|>", "fact"], max_gen_toks: 4}
metric_list:
  - metric: bleu
  - metric: ter
  - metric: chrf
""",
    # multi_choice_regex: the answer text found among the row's choices becomes its letter.
    "facts_letters": """\
output_type: generate_until
test_split: test
doc_to_text: "{{question.strip()}}"
doc_to_target: "{{['(A)', '(B)', '(C)', '(D)'][label]}}"
generation_kwargs: {until: ["<|endoftext|>", "fact"], max_gen_toks: 3}
metric_list:
  - metric: exact_match
filter_list:
  - name: letters
    filter:
      - function: multi_choice_regex
        regex_pattern: "\\\\(([A-D])\\\\)"
        ignore_case: true
        ignore_punctuation: true
      - function: take_first
""",
    "facts_gen_regex": """\
output_type: generate_until
test_split: test
doc_to_text: "{{question.strip()}}"
doc_to_target: "{{answer}}"
generation_kwargs: {until: ["<|endoftext|>"], max_gen_toks: 4}
metric_list:
  - metric: exact_match
    ignore_numbers: true
    regexes_to_ignore: ["^x+"]
filter_list:
  - name: colour
    filter:
      - function: regex
        regex_pattern: "(re)d|(GR)EEN|(gr)een"
        fallback: "none"
      - function: map
        mapping_dict: {re: "xRed", gr: "Green1"}
        default_value: other
      - function: lowercase
      - function: remove_whitespace
      - function: take_first
""",
}


def write_local(folder: Path) -> dict[str, Path]:
    """A wrapper YAML per task over local JSON files; returns task name -> wrapper."""
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[str, dict[str, str]] = {}
    for name, row in DATA.items():
        files[name] = {}
        for split, indices in SPLITS.items():
            path = folder / f"{name}-{split}.json"
            path.write_text("".join(json.dumps(row(i)) + "\n" for i in indices))
            files[name][split] = str(path)
    wrappers = {}
    for task, (included, data, extra) in {**WRAPPERS, **CODE_WRAPPERS}.items():
        path = folder / f"local_{task}.yaml"
        path.write_text(f"include: {TASKS / included}\ntask: local_{task}\ndataset_path: json\ndataset_name: null\n"
                        f"dataset_kwargs:\n  data_files: {json.dumps(files[data])}\n{extra}")
        wrappers[task] = path
    for task, body in OWN_TASKS.items():
        path = folder / f"{task}.yaml"
        path.write_text(f"task: {task}\ndataset_path: json\ndataset_kwargs:\n  data_files: "
                        f"{json.dumps(files['facts'])}\n{body}")
        wrappers[task] = path
    (folder / "code-suite.yaml").write_text("name: task-code\nprobes:\n" + "".join(
        f"  - lm_eval_task: {wrappers[task].name}\n" for task in CODE_WRAPPERS))
    # gsm8k scores both of its filter pipelines; forgetcheck takes one per probe entry.
    (folder / "suite.yaml").write_text("name: agreement\nprobes:\n" + "".join(
        f"  - lm_eval_task: {path.name}\n" for task, path in wrappers.items() if task not in CODE_WRAPPERS)
        + f"  - lm_eval_task: {wrappers['gsm8k'].name}\n    name: local_gsm8k-flexible\n    filter: flexible-extract\n")
    return wrappers


@pytest.fixture(scope="module")
def model_dir(tiny_base, tmp_path_factory) -> Path:
    """The tiny test model with room for few-shot prompts plus lm-eval's 256 generated tokens.

    Its rotary positions do not depend on max_position_embeddings, so only lm-eval's
    context limit (read from it) changes.
    """
    path = tmp_path_factory.mktemp("agreement-model")
    shutil.copytree(tiny_base, path, dirs_exist_ok=True)
    config = json.loads((path / "config.json").read_text())
    config["max_position_embeddings"] = 1024
    (path / "config.json").write_text(json.dumps(config))
    return path


@pytest.fixture(scope="module")
def local_tasks(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("agreement-data")
    write_local(folder)
    return folder


def run_lm_eval(folder: Path, tasks: list[str], **model_args) -> dict:
    """lm-eval's own evaluation (its HFLM, batch size 1, float32 on CPU) of local tasks; per-sample results."""
    import datasets.config
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    datasets.config.HF_HUB_OFFLINE = True
    lm = HFLM(batch_size=1, device="cpu", dtype="float32", **model_args)
    manager = TaskManager(include_path=str(folder), include_defaults=False)
    return lm_eval.simple_evaluate(model=lm, tasks=tasks, task_manager=manager, log_samples=True,
                                   bootstrap_iters=0)["samples"]


@pytest.fixture(scope="module")
def both(model_dir, local_tasks):
    """lm-eval's per-sample results and forgetcheck's probes, scores and scorer on the same tasks."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from forgetcheck.scoring.hf import HFScorer

    folder = local_tasks
    tasks = [f"local_{t}" for t in {**WRAPPERS, **CODE_WRAPPERS}] + list(OWN_TASKS)
    samples = run_lm_eval(folder, tasks, pretrained=str(model_dir))
    suite = load_suite(str(folder / "suite.yaml"))
    suite.probes += load_suite(str(folder / "code-suite.yaml"), task_code=True).probes
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    scorer = HFScorer(model, AutoTokenizer.from_pretrained(model_dir), progress=False)
    probes = {probe.name: probe for probe in suite.probes}
    scores = {name: score_probe(probe, scorer) for name, probe in probes.items()}
    return samples, probes, scores, scorer


def lm_eval_items(samples, task: str, filter_name: str | None = None) -> list[dict]:
    rows = [s for s in samples[task] if filter_name is None or s["filter"] == filter_name]
    return sorted(rows, key=lambda s: s["doc_id"])


CHOICE_TASKS = ["arc_easy", "arc_challenge", "openbookqa", "piqa", "boolq", "hellaswag", "mmlu_anatomy"]


@pytest.mark.parametrize("task", CHOICE_TASKS + ["facts_fewshot", "facts_samples", "facts_prefix", "winogrande",
                                  "hellaswag_code"])
def test_choice_tasks_agree_item_by_item(both, task):
    samples, probes, scores, scorer = both
    name = f"local_{task}" if task in WRAPPERS or task in CODE_WRAPPERS else task
    theirs, probe = lm_eval_items(samples, name), probes[name]
    assert len(theirs) == len(probe.items) == N
    ours = scores[name]
    for sample, item, values in zip(theirs, probe.items, ours.values):
        # Same requests, character for character (few-shot examples, delimiters, whitespace moved).
        # winogrande's requests have one context per option and one shared continuation.
        their_requests = [tuple(arg) for arg in sample["arguments"]]
        assert choice_requests(probe, item, False, scorer) == [lm_eval_split(*request) for request in their_requests]
        their_lls = [resp[0][0] for resp in sample["resps"]]
        our_lls = [r.logprob for r in scorer.loglikelihood(choice_requests(probe, item, False, scorer))]
        assert our_lls == pytest.approx(their_lls, abs=1e-4)
        assert values["acc"] == sample["acc"]
        if "acc_norm" in sample:
            assert values["acc_norm"] == sample["acc_norm"]


def test_loglikelihood_task_agrees_item_by_item(both):
    samples, probes, scores, _ = both
    theirs, ours = lm_eval_items(samples, "local_lambada_openai"), scores["local_lambada_openai"]
    assert len(theirs) == len(ours.scores) == N
    for sample, score, values in zip(theirs, ours.scores, ours.values):
        assert score == sample["acc"]
        assert values["logprob"] == pytest.approx(sample["resps"][0][0][0], abs=1e-4)


@pytest.mark.parametrize("task", ["local_wikitext", "local_wikitext_code"])
def test_rolling_perplexity_agrees_item_by_item(both, task):
    samples, probes, scores, _ = both
    theirs, ours = lm_eval_items(samples, task), scores[task]
    assert [item.text for item in probes[task].items] == [s["arguments"][0][0] for s in theirs]
    for sample, values in zip(theirs, ours.values):
        assert values["logprob"] == pytest.approx(sample["word_perplexity"][0], abs=1e-3)


@pytest.mark.parametrize("task, filter_name", [
    ("local_gsm8k", "strict-match"), ("local_gsm8k-flexible", "flexible-extract"),
    ("facts_gen_exact", "none"), ("facts_gen_spaced", "upper"), ("facts_gen_regex", "colour"),
    ("facts_gen_prefix", "none"), ("facts_letters", "letters")])
def test_generate_tasks_agree_item_by_item(both, task, filter_name):
    samples, probes, scores, _ = both
    theirs = lm_eval_items(samples, task.removesuffix("-flexible"), filter_name)
    ours = scores[task]
    assert len(theirs) == len(ours.scores) == N
    assert [s["arguments"][0][0] for s in theirs] == [item.prompt for item in probes[task].items]
    assert [s["resps"][0][0] for s in theirs] == ours.answers
    assert [float(s["exact_match"]) for s in theirs] == ours.scores


def test_translation_metrics_score_lm_eval_s_logged_pairs(both):
    """bleu/chrf: lm-eval logs (reference, answer) per item and reports the corpus score; forgetcheck asks the
    same prompt, gets the same answer and scores each item with sacrebleu's sentence chrF (its default)."""
    import sacrebleu

    samples, probes, scores, _ = both
    theirs, ours, probe = lm_eval_items(samples, "facts_translate"), scores["facts_translate"], probes["facts_translate"]
    assert probe.metric == "chrf" and len(theirs) == len(ours.scores) == N
    assert [s["resps"][0][0] for s in theirs] == ours.answers
    assert [s["chrf"][0] for s in theirs] == [item.target for item in probe.items]
    assert ours.scores == pytest.approx([sacrebleu.sentence_chrf(s["chrf"][1], [s["chrf"][0]]).score / 100
                                         for s in theirs])
    assert 0 < min(ours.scores) < max(ours.scores), ours.scores


def test_a_target_is_compared_as_lm_eval_compares_it(both):
    """lm-eval does not strip " red" to "red": the answer " red" misses "red" and hits " RED" (ignore_case)."""
    _, _, scores, _ = both
    assert sum(scores["facts_gen_exact"].scores) == 0
    assert sum(scores["facts_gen_spaced"].scores) >= N // 2


def test_filters_and_greedy_checks_see_both_outcomes(both):
    """The agreement above is not agreement on all-zero or all-one columns."""
    _, _, scores, _ = both
    for name in ("facts_gen_regex", "local_lambada_openai", "local_arc_challenge", "local_boolq", "local_winogrande",
                 "facts_letters"):
        assert 0 < sum(scores[name].scores) < N, name


LOGGED = ["local_arc_easy", "local_lambada_openai", "local_wikitext", "facts_gen_regex"]


def write_logs(samples: dict, folder: Path) -> Path:
    """Per-sample files exactly as `lm_eval --log_samples` writes them (lm-eval's own EvaluationTracker)."""
    import copy

    from lm_eval.loggers import EvaluationTracker

    import datetime

    tracker = EvaluationTracker(output_path=str(folder))
    # Set, as lm-eval's save_results_aggregated sets it before the samples are saved.
    tracker.date_id = datetime.datetime.now().isoformat().replace(":", "-")
    for task in LOGGED:
        tracker.save_results_samples(task, copy.deepcopy(samples[task]))
    return folder


def test_compare_logs_judges_two_lm_eval_runs_without_a_model(both, local_tasks, model_dir, forgetful_adapter,
                                                                tmp_path):

    base_samples = both[0]
    cand_samples = run_lm_eval(local_tasks, LOGGED, pretrained=str(model_dir), peft=str(forgetful_adapter))
    base_logs, cand_logs = write_logs(base_samples, tmp_path / "base"), write_logs(cand_samples, tmp_path / "cand")
    result = run("compare-logs", base_logs, cand_logs, "--out", tmp_path / "report", "--fail-on", "never")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report" / "report.json").read_text())
    caps = {c["name"]: c for c in report["capabilities"]}
    assert set(caps) == set(LOGGED) and all(c["n"] == N for c in caps.values())
    assert (caps["local_arc_easy"]["metric"], caps["local_wikitext"]["metric"]) == ("acc", "loglik_per_word")
    # Per item, the report holds lm-eval's own numbers for each side.
    items = {(i["capability"], i["item_id"]): i for i in report["items"]}
    for task in LOGGED:
        for side, samples in (("base_score", base_samples), ("candidate_score", cand_samples)):
            for sample in samples[task]:
                logged = sample.get("acc", sample.get("exact_match"))
                if task == "local_wikitext":
                    logged = sample["word_perplexity"][0] / sample["word_perplexity"][1]
                assert items[task, str(sample["doc_id"])][side] == pytest.approx(float(logged))
    # The adapter forgot the facts: lm-eval's logs show it, and so does the verdict's drop.
    assert caps["local_lambada_openai"]["drop"] > 0


def test_compare_logs_refuses_runs_of_different_documents(both, tmp_path):
    samples = both[0]
    base_logs = write_logs(samples, tmp_path / "base")
    fewer = {task: samples[task][:-1] for task in LOGGED}
    cand_logs = write_logs(fewer, tmp_path / "cand")

    result = run_subprocess("compare-logs", base_logs, cand_logs, "--out", tmp_path / "r")
    assert_one_line_error(result, "BASE and CANDIDATE logged different documents", "doc_id 7")


# -- shipped task YAMLs, imported verbatim with local data ------------------------------------

def local_files(folder: Path, data: str) -> dict[str, str]:
    files = {}
    for split, indices in SPLITS.items():
        path = folder / f"{data}-{split}.json"
        path.write_text("".join(json.dumps(DATA[data](i)) + "\n" for i in indices))
        files[split] = path.name
    return files


def verbatim_suite(folder: Path, task: str, included: str, data: str, extra: str = "") -> Path:
    suite = folder / f"{task}-suite.yaml"
    suite.write_text(f"name: verbatim\nprobes:\n  - lm_eval_task: {TASKS / included}\n"
                     f"    dataset: {{path: json, data_files: {json.dumps(local_files(folder, data))}}}\n{extra}")
    return suite


@pytest.mark.parametrize("task", ["arc_easy", "arc_challenge", "openbookqa", "piqa", "boolq", "mmlu_anatomy",
                                  "lambada_openai", "gsm8k"])
def test_shipped_task_yaml_imports_with_local_data(tmp_path, task):
    included, data, _ = WRAPPERS[task]
    probe = load_suite(str(verbatim_suite(tmp_path, task, included, data))).probes[0]
    assert probe.name == task and len(probe.items) == N
    assert probe.info["provenance"] == f"lm-evaluation-harness task {TASKS / included}"
    if probe.kind == "choice":  # targets that Jinja rendered as "2" are indices, as in lm-eval
        assert all(0 <= item.target < len(item.choices) for item in probe.items)


def test_gsm8k_keeps_its_five_shots_and_strict_filter(tmp_path):
    probe = load_suite(str(verbatim_suite(tmp_path, "gsm8k", "gsm8k/gsm8k.yaml", "gsm8k"))).probes[0]
    assert probe.items[0].prompt.count("Question:") == 6 and probe.items[0].prompt.endswith("Answer:")
    assert probe.stop == ("Question:", "</s>", "<|im_end|>") and probe.max_tokens == 256
    assert probe.harness["filters"][0] == {"function": "regex", "regex_pattern": "#### (\\-?[0-9\\.\\,]+)"}
    assert probe.harness["exact_match"]["regexes_to_ignore"] == [",", "\\$", "(?s).*#### ", "\\.$"]


def test_an_unknown_filter_pipeline_name_is_one_line(tmp_path):
    suite = verbatim_suite(tmp_path, "gsm8k", "gsm8k/gsm8k.yaml", "gsm8k", "    filter: loose\n")
    with pytest.raises(BadInput, match=r"filter 'loose' is not in .*gsm8k.yaml:\d+'s filter_list "
                                       r"\(pipelines: strict-match, flexible-extract\)"):
        load_suite(str(suite))


@pytest.mark.parametrize("included, data, key, needle", [
    ("winogrande/default.yaml", "arc", "doc_to_text", "!function preprocess_winogrande.doc_to_text"),
    ("hellaswag/hellaswag.yaml", "hellaswag", "process_docs", "save the processed rows to a data file"),
    ("wikitext/wikitext.yaml", "wikitext", "doc_to_target", "!function preprocess_wikitext.wikitext_detokenizer"),
])
def test_tasks_that_run_code_are_refused_at_their_line(tmp_path, included, data, key, needle):
    suite = verbatim_suite(tmp_path, "t", included, data)
    with pytest.raises(BadInput) as caught:
        load_suite(str(suite))
    message = str(caught.value)
    line = next(n for n, text in enumerate((TASKS / included).read_text().splitlines(), 1) if text.startswith(key))
    assert f"{TASKS / included}:{line}: {key}: " in message and needle in message, message
    assert "\n" not in message


def test_validation_lists_every_refusal_of_a_task(tmp_path):
    suite = verbatim_suite(tmp_path, "w", "wikitext/wikitext.yaml", "wikitext")
    _, problems = validate_suite(str(suite))
    assert [p.split(": ")[1] for p in problems] == ["doc_to_target", "process_results"]


def test_a_refused_shipped_task_exits_2_with_one_line(tmp_path, tiny_base):
    suite = verbatim_suite(tmp_path, "w", "winogrande/default.yaml", "arc")
    result = run_subprocess("compare", tiny_base, tiny_base, "--suite", suite, "--out", tmp_path / "r",
                            env={"HF_DATASETS_OFFLINE": "1"})
    assert_one_line_error(result, "winogrande/default.yaml:", "!function preprocess_winogrande", "--allow-task-code")


def test_a_task_with_code_imports_with_the_flag(tmp_path):
    """winogrande verbatim, local data: lm-eval builds one context per option, forgetcheck validates the items."""
    suite = verbatim_suite(tmp_path, "w", "winogrande/default.yaml", "winogrande")
    result = run_subprocess("probes", "validate", "--allow-task-code", suite, env={"HF_DATASETS_OFFLINE": "1"})
    assert result.returncode == 0 and f"1 probes, {N} items (winogrande {N})" in result.stdout, result.stderr
    probe = load_suite(str(suite), task_code=True).probes[0]
    first = DATA["winogrande"](0)
    assert probe.harness["multiple_input"] and probe.items[0].prompt == "and that is all"
    assert probe.items[0].choices == (f"fact 0 is {first['option1']}", f"fact 0 is {first['option2']}")
    assert probe.items[0].target == 0 and probe.info["provenance"].endswith("winogrande/default.yaml")


def test_a_sampled_task_is_asked_greedily_with_a_note(tmp_path):
    """do_sample: lm-eval's numbers are one random draw; forgetcheck compares greedy answers and says so."""
    (tmp_path / "task.yaml").write_text(
        f"task: sampled\ndataset_path: json\ndataset_kwargs:\n  data_files: {json.dumps(local_files(tmp_path, 'facts'))}\n"
        "output_type: generate_until\ntest_split: test\ndoc_to_text: '{{question}}'\ndoc_to_target: answer\n"
        "generation_kwargs: {do_sample: true, temperature: 0.8, top_p: 0.95, until: [fact]}\n")
    probe = load_suite(str(tmp_path / "task.yaml")).probes[0]
    assert probe.harness["sampling_replaced"] == {"do_sample": True, "temperature": 0.8, "top_p": 0.95}
    assert probe.info["note"].startswith("lm-eval samples this task (do_sample True, temperature 0.8, top_p 0.95)")


def test_scoring_code_is_refused_even_with_the_flag(tmp_path):
    """A choice task that scores with its own process_results: forgetcheck scores with its own rules, so no."""
    (tmp_path / "rules.py").write_text("def score(doc, results):\n    return {'acc': 1.0}\n")
    (tmp_path / "task.yaml").write_text(
        f"task: own_rules\ndataset_path: json\ndataset_kwargs:\n  data_files: {json.dumps(local_files(tmp_path, 'facts'))}\n"
        "output_type: multiple_choice\ntest_split: test\ndoc_to_text: '{{question}}'\ndoc_to_choice: options\n"
        "doc_to_target: label\nprocess_results: !function rules.score\n")
    with pytest.raises(BadInput, match=r"task.yaml:\d+: process_results: !function rules.score: scores with the "
                                       r"task's own Python"):
        load_suite(str(tmp_path / "task.yaml"), task_code=True)


def test_registry_names_resolve_to_the_shipped_yamls():
    from forgetcheck.suites.sources import lm_eval_registry

    paths = lm_eval_registry(["arc_easy", "mmlu_anatomy", "gsm8k", "arc_easy"], "--suite lm-eval:...")
    assert paths == [TASKS / "arc/arc_easy.yaml", TASKS / "mmlu/default/mmlu_anatomy.yaml", TASKS / "gsm8k/gsm8k.yaml"]
    with pytest.raises(BadInput, match=r"--suite lm-eval:\.\.\.: 'arc_eazy' is not an lm-eval task, group or tag"):
        lm_eval_registry(["arc_eazy"], "--suite lm-eval:...")


def test_suite_from_lm_eval_names_validates_each_task(tmp_path):
    """Offline, the Hub datasets cannot load: each task says so in one line, winogrande says why it is refused."""
    result = run_subprocess("probes", "validate", "lm-eval:arc_easy,winogrande",
                            env={"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    lines = result.stdout.splitlines()
    assert "lm-eval:arc_easy,winogrande: probes[0]: dataset 'allenai/ai2_arc' cannot be loaded" in result.stdout, lines
    assert any("winogrande/default.yaml:7: doc_to_text: !function" in line for line in lines), lines


# -- the public suite and Hub dataset ids, offline through FORGETCHECK_DATASETS copies -----------

def public_rows(i: int) -> dict[str, dict]:
    """One row per public dataset, with the real dataset's columns (HellaSwag keeps its [tags])."""
    labels = LETTERS[:4]
    return {
        "allenai/ai2_arc/ARC-Challenge": {"id": f"a{i}", "question": f"fact {i} is",
                                          "choices": {"text": COLOURS, "label": labels},
                                          "answerKey": labels[colour_index(i)]},
        "Rowan/hellaswag/default": {"ind": i, "activity_label": "Facts", "ctx_a": f"fact {i}  [header] is",
                                    "ctx_b": "A COLOUR [title] of", "endings": [f" {c} [step] " for c in COLOURS],
                                    "source_id": "x", "split": "val", "split_type": "indomain",
                                    "label": str(colour_index(i))},
        "cais/mmlu/high_school_biology": {"question": f" fact {i} is ", "subject": "high_school_biology",
                                          "choices": COLOURS, "answer": colour_index(i)},
        "allenai/openbookqa/main": {"id": f"o{i}", "question_stem": f"fact {i} is",
                                    "choices": {"text": COLOURS, "label": labels}, "answerKey": " " + labels[i % 4]},
        "openai/gsm8k/main": {"question": f"fact {i} has how many?", "answer": f"so it is {i}\n#### 1,00{i}"},
        "allenai/winogrande/winogrande_xl": DATA["winogrande"](i),
    }


def write_copies(folder: Path) -> Path:
    """FORGETCHECK_DATASETS copies: <id>/<config>/<split>.jsonl for every split the tasks read."""
    for split in ("train", "validation", "test", "dev"):
        for name in public_rows(0):
            path = folder / name / f"{split}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(public_rows(i)[name]) + "\n" for i in range(N)))
    return folder


@pytest.fixture
def copies(tmp_path, monkeypatch) -> Path:
    folder = write_copies(tmp_path / "copies")
    monkeypatch.setenv("FORGETCHECK_DATASETS", str(folder))
    return folder


def test_the_public_suite_names_its_datasets_and_reads_local_copies(copies):
    result = run_subprocess("probes", "validate", "public", env={"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0 and "5 probes" in result.stdout, result.stdout + result.stderr
    probes = {p.name: p for p in load_suite("public").probes}
    # Read from a copy, a probe keeps the dataset's id, config and split, but not the pinned revision.
    assert probes["science-reasoning"].info["dataset"] == {"id": "allenai/ai2_arc", "config": "ARC-Challenge",
                                                            "split": "test"}
    assert probes["commonsense-completion"].info["dataset"] == {"id": "Rowan/hellaswag", "split": "validation"}
    gsm8k = probes["math-word-problems"].items[3]
    assert gsm8k.target == "1003" and re.search(gsm8k.regex, "3 more, so 1003.") and not re.search(gsm8k.regex, "11003")


def test_the_public_suite_asks_what_lm_eval_asks(copies):
    """Its templates give lm-eval's own requests (hellaswag's process_docs included) on the same rows."""
    ours = {p.name: p for p in load_suite("public").probes}
    theirs = {p.name: p for p in load_suite("lm-eval:arc_challenge,hellaswag,mmlu_high_school_biology,openbookqa",
                                            task_code=True).probes}
    for mine, task in [("science-reasoning", "arc_challenge"), ("commonsense-completion", "hellaswag"),
                       ("knowledge-biology", "mmlu_high_school_biology"), ("elementary-science", "openbookqa")]:
        assert [(i.prompt, i.choices, i.target) for i in ours[mine].items] == [
            (i.prompt, i.choices, i.target) for i in theirs[task].items], task
        assert ours[mine].target_delimiter == theirs[task].target_delimiter == " "
    assert "[" not in ours["commonsense-completion"].items[0].prompt
    assert theirs["hellaswag"].info["dataset"] == {"id": "Rowan/hellaswag", "split": "validation", "task": "hellaswag"}


def test_a_task_with_code_runs_through_compare_and_names_its_dataset(copies, tiny_base, tmp_path):
    """--suite lm-eval:winogrande --allow-task-code: the flag reaches the suite, the report names the dataset."""
    result = run_subprocess("compare", tiny_base, tiny_base, "--suite", "lm-eval:winogrande", "--allow-task-code",
                            "--out", tmp_path / "r", "--fail-on", "never", "--kl-samples", "0", "--recovery-shots", "0",
                            "--no-cache", "--quiet", env={"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    capability = json.loads((tmp_path / "r" / "report.json").read_text())["capabilities"][0]
    assert capability["name"] == "winogrande" and capability["n"] == N
    assert capability["dataset"] == {"id": "allenai/winogrande", "config": "winogrande_xl", "split": "validation",
                                     "task": "winogrande"}
