"""lm-eval's shipped task YAMLs, verbatim, as a user points forgetcheck at them with local data.

The suite entry names the YAML inside the installed lm-eval package and overrides only
where the data comes from; tasks that carry code are refused with one line naming
file:line and what to do, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

lm_eval = pytest.importorskip("lm_eval")

from forgetcheck.errors import BadInput  # noqa: E402
from forgetcheck.suites.suite import load_suite, validate_suite  # noqa: E402
from tests.test_cli import assert_one_line_error, run_subprocess  # noqa: E402
from tests.test_lm_eval_agreement import DATA, N, SPLITS, TASKS, WRAPPERS  # noqa: E402


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
    assert_one_line_error(result, "winogrande/default.yaml:", "!function preprocess_winogrande")


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
