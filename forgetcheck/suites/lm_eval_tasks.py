"""lm-eval tasks that carry Python, built by lm-eval itself, asked and scored by forgetcheck.

Some task YAMLs need their own code to build a prompt: ``!function`` hooks for
doc_to_text/doc_to_target/doc_to_choice (winogrande), ``process_docs`` (hellaswag),
or a detokenizer (wikitext). forgetcheck does not reimplement that code. With
``--allow-task-code`` (the user trusts the task: it runs arbitrary Python), this
module hands the task to lm-eval's own ``TaskManager``, lets ``build_all_requests``
make every request exactly as ``lm_eval`` would (few-shot examples, seed 1234,
delimiters), and turns the requests into plain forgetcheck item rows. From there
nothing differs from any other probe: forgetcheck's scorer asks both models, its
scoring rules (:mod:`forgetcheck.suites.asking`) give one number per item, and the
paired statistics judge the drop.

Scoring stays forgetcheck's, so a task whose *scoring* is its own code (a custom
``process_results`` on a choice or generation task, a custom filter or metric) is
still refused; on a rolling-perplexity task ``process_results`` only counts words
for lm-eval's aggregate, and forgetcheck scores the same request per token.

Multiple-input tasks (winogrande: one context per option, one shared continuation)
become choice items whose ``choices`` are the contexts and whose ``prompt`` is the
shared continuation; :func:`forgetcheck.suites.asking.choice_requests` asks them as
lm-eval does ("partial evaluation": the log-likelihood of the continuation after
each context).
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from forgetcheck.errors import BadInput
from forgetcheck.suites.dataset_ids import COPIES_VARIABLE, is_hub_id

FLAG = "--allow-task-code"
EXTRA = "pip install 'forgetcheck[lm-eval]'"
# Whether the suite being loaded may run its lm-eval tasks' Python. A context variable, like the
# folder confinement in forgetcheck.suites.paths, so concurrent loads each keep their own answer.
_ALLOWED: ContextVar[bool] = ContextVar("forgetcheck_task_code", default=False)

# Keys whose code only builds requests: lm-eval runs them, forgetcheck scores the result.
REQUEST_KEYS = {"process_docs", "doc_to_text", "doc_to_target", "doc_to_choice", "gen_prefix", "description",
                "fewshot_config"}


@contextlib.contextmanager
def allowing_task_code(allowed: bool):
    """Let lm-eval tasks loaded inside the block run their own Python (``--allow-task-code``)."""
    token = _ALLOWED.set(bool(allowed))
    try:
        yield
    finally:
        _ALLOWED.reset(token)


def task_code_allowed() -> bool:
    return _ALLOWED.get()


def code_lm_eval_runs(key: str, output_type: str) -> bool:
    """Whether a task's code under ``key`` only builds requests, so lm-eval may run it for forgetcheck."""
    return key in REQUEST_KEYS or (key == "process_results" and output_type == "loglikelihood_rolling")


def runs_code_for(key: str, output_type: str) -> bool:
    """Whether lm-eval runs a task's code under ``key`` in this load (the user allowed task code)."""
    return task_code_allowed() and code_lm_eval_runs(key, output_type)


def how_to_allow() -> str:
    """The end of a refusal of task code: the flag that lifts it, and the extra it needs."""
    return f"pass {FLAG} to run it through lm-eval ({EXTRA}) if you trust the task"


def version() -> str:
    from importlib.metadata import version as installed

    return installed("lm_eval")


def build_items(task_path: Path, config: dict[str, Any], entry: dict[str, Any], base_dir: Path, where: str,
                probe: str, collect: bool, reads_choices: bool = False) -> tuple[list[tuple[str, dict[str, Any]]], list[str], Any]:
    """Item rows for a task with code: lm-eval builds the requests, each document becomes one row.

    Returns the rows (with where each came from), the documents that could not become an
    item (with ``collect``; otherwise the first raises), and the lm-eval task object.
    """
    task = _lm_eval_task(task_path, config, entry, base_dir, where)
    by_doc: dict[int, list] = defaultdict(list)
    for instance in task.instances:
        by_doc[instance.doc_id].append(instance)
    rows, problems = [], []
    for doc_id in sorted(by_doc):
        instances = sorted(by_doc[doc_id], key=lambda i: i.idx)
        row_where = f"{where}: {task_path.name} document {doc_id}"
        try:
            rows.append((row_where, _row(task, instances, f"{probe}-{doc_id}", row_where, reads_choices)))
        except BadInput as exc:
            if not collect:
                raise
            problems.append(str(exc))
    return rows, problems, task


def _lm_eval_task(task_path: Path, config: dict[str, Any], entry: dict[str, Any], base_dir: Path, where: str):
    """lm-eval's Task for the YAML (includes and ``!function`` resolved by lm-eval), requests built."""
    try:
        from lm_eval.tasks import TaskManager
        from lm_eval.tasks._yaml_loader import load_yaml
    except ImportError:
        raise BadInput(f"{where}: {task_path.name} runs task code through lm-eval, which is not installed; "
                       f"{EXTRA}") from None
    from forgetcheck.suites.sources import DEFAULT_FEWSHOT_SEED, lm_eval_dataset  # sources imports this module

    import datasets

    # lm-eval's per-task notices and bars would bury forgetcheck's own output.
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    dataset = lm_eval_dataset(config, entry, task_path, base_dir, where)
    try:
        full = load_yaml(task_path, resolve_func=True)
        full.update(dataset)
        # Through lm-eval's own TaskManager, as `lm_eval --tasks` builds it; no other tasks indexed.
        manager = TaskManager(include_defaults=False)
        task = next(iter(manager.load(full)["tasks"].values()))
        task.set_fewshot_seed(entry.get("fewshot_seed", DEFAULT_FEWSHOT_SEED))
        with _no_bars():
            task.build_all_requests(limit=entry.get("limit"), rank=0, world_size=1)
    except BadInput:
        raise
    except Exception as exc:  # the task's own code and its dataset can fail in any way
        first = (str(exc).strip().splitlines() or [""])[0][:300]
        offline = (f"; offline, keep a copy of its dataset and set {COPIES_VARIABLE}"
                   if is_hub_id(dataset["dataset_path"], base_dir) else "")
        raise BadInput(f"{where}: lm-eval could not build {task_path.name} ({type(exc).__name__}: {first}){offline}") \
            from None
    return task


@contextlib.contextmanager
def _no_bars():
    """Without lm-eval's request-building bar: its module's tqdm, disabled while requests are built."""
    import functools

    import lm_eval.api.task as task_module

    original = task_module.tqdm
    task_module.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        task_module.tqdm = original


def _row(task, instances: list, item_id: str, where: str, reads_choices: bool) -> dict[str, Any]:
    """One document's requests as an item row, checked against what forgetcheck will ask."""
    doc = instances[0].doc
    output_type = task.OUTPUT_TYPE
    if output_type == "loglikelihood_rolling":
        return {"id": item_id, "text": instances[0].arguments[0]}
    if output_type == "loglikelihood":
        context, continuation = instances[0].arguments[:2]
        return {"id": item_id, "prompt": context, "target": continuation}
    if output_type == "generate_until":
        gold = task.doc_to_target(doc)
        if task.config.doc_to_choice is not None:
            gold = task.doc_to_choice(doc)[gold]
        if isinstance(gold, list):
            raise BadInput(f"{where}: doc_to_target gives several gold answers; not supported")
        row = {"id": item_id, "prompt": instances[0].arguments[0], "target": str(gold)}
        if reads_choices:
            from forgetcheck.suites.sources import row_choices

            row["choices"] = row_choices(doc, where)
        return row
    contexts = [i.arguments[0] for i in instances]
    continuations = [i.arguments[1] for i in instances]
    delimiter = task.config.target_delimiter
    if task.multiple_input:
        # Several contexts, one continuation: the contexts are the options, the continuation is asked.
        gold, shared = task.doc_to_text(doc), continuations[0]
        if any(c != shared for c in continuations) or not shared.startswith(delimiter):
            raise BadInput(f"{where}: lm-eval asked different continuations per option; not supported")
        row = {"id": item_id, "prompt": shared[len(delimiter):], "choices": contexts}
    else:
        choices = [str(c) for c in task.doc_to_choice(doc)]
        if any(c != contexts[0] for c in contexts) or continuations != [delimiter + c for c in choices]:
            raise BadInput(f"{where}: lm-eval's requests are not one context with one continuation per choice; "
                           "not supported")
        gold = task.doc_to_target(doc)
        row = {"id": item_id, "prompt": contexts[0], "choices": choices}
        if isinstance(gold, str):
            gold = choices.index(gold) if gold in choices else -1
    if not isinstance(gold, int) or isinstance(gold, bool) or not 0 <= gold < len(row["choices"]):
        raise BadInput(f"{where}: the gold answer {gold!r} is not one of the {len(row['choices'])} options; "
                       "several gold answers are not supported")
    row["target"] = gold
    return row
