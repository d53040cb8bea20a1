"""Probe items from elsewhere: Hugging Face datasets and lm-evaluation-harness tasks.

A suite entry may take its items from a dataset (``dataset:`` plus a ``fields:``
mapping and/or small Jinja ``template:`` strings) or from an lm-eval task YAML
(``lm_eval_task:``). Either way each dataset row becomes the same row dict a JSONL
line would be, and is checked by :func:`forgetcheck.suites.suite.add_item`, so a
dataset-backed probe obeys exactly the rules of a file-backed one.

Templates come from files people download, so they render in Jinja's sandbox.
lm-eval features that run the task's own code or change scoring in ways forgetcheck
does not reproduce (``!function`` hooks, filters, few-shot, other metrics) are
refused with one line naming the file and key: a refused task is better than a
silently different score.
"""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path
from typing import Any, Callable

import yaml

from forgetcheck.errors import BadInput

# -- YAML that knows lm-eval's ``!function`` tag ------------------------------


class FunctionHook(str):
    """The target of an lm-eval ``!function module.name`` tag: recorded, never run."""


class _TaskLoader(yaml.SafeLoader):
    """SafeLoader that reads ``!function`` as a FunctionHook so it can be reported."""


_TaskLoader.add_constructor("!function", lambda loader, node: FunctionHook(loader.construct_scalar(node)))


def read_yaml(path: Path) -> tuple[Any, dict[str, int]]:
    """A YAML file's data and the 1-based line of each top-level key (for file:line errors)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read ({exc})") from None
    loader = _TaskLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise BadInput(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', None) or exc}); fix the file") from None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            lines[str(key_node.value)] = key_node.start_mark.line + 1
            if key_node.value == "probes" and isinstance(value_node, yaml.SequenceNode):
                for i, entry in enumerate(value_node.value):
                    lines[f"probes[{i}]"] = entry.start_mark.line + 1
    return data, lines


# -- templates ----------------------------------------------------------------


def _regex_replace(text: str, pattern: str, replacement: str = "", count: int = 0) -> str:
    return re.sub(pattern, replacement, text, count=count)


def _environment():
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    # The settings lm-eval renders its templates with, so imported prompts match
    # character for character: a missing field is an error, trailing newlines stay.
    env = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)
    env.filters["regex_replace"] = _regex_replace
    return env


_TEMPLATES: dict[str, Any] = {}


def render(template: str, doc: dict[str, Any], where: str) -> str:
    """Render one Jinja template over a dataset row; any failure is the template's author's to fix."""
    try:
        compiled = _TEMPLATES.get(template)
        if compiled is None:
            compiled = _TEMPLATES[template] = _environment().from_string(template)
        return compiled.render(**doc)
    except Exception as exc:  # a user's template can fail in any way Jinja can
        raise BadInput(f"{where}: template {template!r} failed ({type(exc).__name__}: {exc})") from None


def _literal_list(text: str, where: str) -> list:
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        value = None
    if not isinstance(value, (list, tuple)):
        raise BadInput(f"{where}: must give a list (it rendered {text[:80]!r}); use a list field, e.g. {{{{ options }}}}")
    return list(value)


# -- datasets -----------------------------------------------------------------

DATASET_KEYS = ("path", "name", "split", "revision", "data_files")


def load_rows(dataset: Any, base_dir: Path, where: str, limit: int | None = None) -> list[dict[str, Any]]:
    """Rows of a Hugging Face dataset (Hub id, loader name, local folder or ``save_to_disk`` folder)."""
    if not isinstance(dataset, dict) or not dataset.get("path"):
        raise BadInput(f"{where}: dataset: give a mapping with at least 'path' (a Hub id, 'json', 'csv', 'parquet' or a folder)")
    unknown = sorted(set(dataset) - set(DATASET_KEYS))
    if unknown:
        raise BadInput(f"{where}: dataset: unknown key {unknown[0]!r} (known: {', '.join(DATASET_KEYS)})")
    import datasets

    datasets.disable_progress_bars()  # a bar per split would bury forgetcheck's own output
    datasets.logging.set_verbosity_error()
    path = str(dataset["path"])
    local = base_dir / path
    split = dataset.get("split")
    try:
        if local.is_dir() and any((local / f).exists() for f in ("state.json", "dataset_dict.json")):
            loaded = datasets.load_from_disk(str(local))
        else:
            loaded = datasets.load_dataset(str(local) if local.exists() else path, dataset.get("name"),
                                           split=split, revision=dataset.get("revision"),
                                           data_files=_local_files(dataset.get("data_files"), base_dir))
    except Exception as exc:  # datasets reports missing files, splits and Hub ids with many types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise BadInput(f"{where}: dataset {path!r} cannot be loaded ({first[:300]})") from None
    if isinstance(loaded, datasets.DatasetDict):
        if split is None and len(loaded) == 1:
            split = next(iter(loaded))
        if split not in loaded:
            raise BadInput(f"{where}: dataset: split {split!r} not found; give one of {', '.join(loaded)} as 'split:'")
        loaded = loaded[split]
    if limit is not None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise BadInput(f"{where}: limit {limit!r} must be a positive whole number")
        loaded = loaded.select(range(min(limit, len(loaded))))
    return [dict(row) for row in loaded]


def _local_files(data_files: Any, base_dir: Path) -> Any:
    """data_files relative to the file that names them, when they exist there."""
    def fix(name: Any) -> Any:
        candidate = base_dir / str(name)
        return str(candidate) if not Path(str(name)).is_absolute() and candidate.exists() else name

    if isinstance(data_files, dict):
        return {split: _local_files(files, base_dir) for split, files in data_files.items()}
    if isinstance(data_files, list):
        return [fix(name) for name in data_files]
    return fix(data_files) if data_files is not None else None


def dataset_source(dataset: dict[str, Any]) -> str:
    """How a report names a dataset-backed probe's origin."""
    text = str(dataset.get("path"))
    if dataset.get("name"):
        text += f"/{dataset['name']}"
    if dataset.get("split"):
        text += f":{dataset['split']}"
    if dataset.get("revision"):
        text += f"@{dataset['revision']}"
    return text


def row_maker(entry: dict[str, Any], kind: str, where: str) -> Callable[[dict[str, Any], int, str], dict[str, Any]]:
    """The function turning one dataset row into a probe item row, from ``fields:`` and ``template:``."""
    from forgetcheck.suites.suite import Item

    item_keys = {f.name for f in dataclasses.fields(Item)}
    fields = entry.get("fields") or {}
    templates = entry.get("template") or {}
    for key, given in (("fields", fields), ("template", templates)):
        if not isinstance(given, dict):
            raise BadInput(f"{where}: {key}: give a mapping from item field to {'column' if key == 'fields' else 'template'}")
        for name in given:
            if name not in item_keys:
                raise BadInput(f"{where}: {key}.{name}: not an item field (item fields: {', '.join(sorted(item_keys))})")
    both = sorted(set(fields) & set(templates))
    if both:
        raise BadInput(f"{where}: {both[0]!r} is in both fields and template; keep one")
    if not fields and not templates:
        raise BadInput(f"{where}: a dataset probe needs 'fields:' (item field: column) or 'template:' (item field: Jinja)")
    probe = str(entry.get("name"))

    def make(doc: dict[str, Any], index: int, row_where: str) -> dict[str, Any]:
        row: dict[str, Any] = {"id": f"{probe}-{index}"}
        for name, column in fields.items():
            row[name] = _column(doc, str(column), f"{row_where}: fields.{name}")
        for name, template in templates.items():
            here = f"{row_where}: template.{name}"
            if isinstance(template, list):  # a list of choice templates, one per option
                row[name] = [render(str(t), doc, here) for t in template]
            else:
                row[name] = render(str(template), doc, here)
                if name == "choices":
                    row[name] = _literal_list(row[name], here)
        if isinstance(row.get("choices"), list):
            row["choices"] = [c if isinstance(c, str) else str(c) for c in row["choices"]]
        target = row.get("target")
        if kind == "choice" and "target" in templates and target not in (row.get("choices") or []):
            # A rendered target is the choice text when it is one, else an index ("2").
            if target.strip().isdigit():
                row["target"] = int(target)
        return row

    return make


def _column(doc: dict[str, Any], column: str, where: str) -> Any:
    """A row's value for ``column``; dots reach into nested records (``choices.text``)."""
    value: Any = doc
    for part in column.split("."):
        if not isinstance(value, dict) or part not in value:
            raise BadInput(f"{where}: column {column!r} is not in the dataset (columns: {', '.join(map(str, doc))})")
        value = value[part]
    return value


# -- lm-evaluation-harness tasks ----------------------------------------------

LM_EVAL_KINDS = {"multiple_choice": "choice", "generate_until": "generate", "loglikelihood_rolling": "perplexity"}
LM_EVAL_METRICS = {"choice": ("acc", "acc_norm"), "generate": ("exact_match",),
                   "perplexity": ("word_perplexity", "byte_perplexity", "bits_per_byte")}
# Keys that only name or group a task, or only matter for few-shot prompts (refused below).
LM_EVAL_HARMLESS = {"task", "task_alias", "tag", "group", "group_alias", "metadata", "training_split", "fewshot_split",
                    "fewshot_delimiter", "fewshot_config", "should_decontaminate", "doc_to_decontamination_query",
                    "unsafe_code", "output_type", "num_fewshot", "include"}
LM_EVAL_USED = {"dataset_path", "dataset_name", "dataset_kwargs", "test_split", "validation_split", "doc_to_text",
                "doc_to_choice", "doc_to_target", "target_delimiter", "description", "metric_list",
                "generation_kwargs", "filter_list", "repeats"}
LM_EVAL_WHY = {
    "process_docs": "rewrites the rows with the task's own Python; save the processed rows to a data file and "
                    "point dataset_path/dataset_kwargs.data_files at it",
    "process_results": "scores with the task's own Python; forgetcheck scores choices by log-likelihood and "
                       "generations by exact match",
    "use_prompt": "promptsource prompts are not supported; write doc_to_text/doc_to_choice/doc_to_target",
    "gen_prefix": "is not supported",
    "doc_to_image": "multimodal tasks are not supported",
    "doc_to_audio": "multimodal tasks are not supported",
    "multiple_inputs": "multiple-input tasks (one context per choice) are not supported",
    "multiple_targets": "several gold answers per row are not supported",
}


def lm_eval_entry(entry: dict[str, Any], suite_path: Path, where: str, problems: list[str] | None = None) -> dict[str, Any]:
    """A suite entry with ``lm_eval_task:`` turned into a dataset-backed forgetcheck entry.

    Settings in the suite entry (name, chat_template, metric, max_tokens, stop,
    dataset overrides such as a local ``data_files``) win over the task's.
    """
    from forgetcheck.suites.suite import collecting

    task_path = suite_path.parent / str(entry["lm_eval_task"])
    if not task_path.exists():
        raise BadInput(f"{where}: lm_eval_task {str(entry['lm_eval_task'])!r} not found next to {suite_path.name}")
    config, written_at = _read_task(task_path, [])
    refusals: list[str] = []

    def refuse(key: str, why: str) -> None:
        with collecting(refusals if problems is not None else None):
            raise BadInput(f"{written_at.get(key, task_path)}: {key}: {why}")

    for key, value in config.items():
        hook = _function_hook(value)
        if hook:
            refuse(key, f"!function {hook} runs the task's own Python, which forgetcheck does not run; "
                        "write it as a Jinja template or a field name")
        elif key in LM_EVAL_WHY:
            refuse(key, LM_EVAL_WHY[key])
        elif key not in LM_EVAL_HARMLESS | LM_EVAL_USED:
            refuse(key, "is not an lm-eval key forgetcheck knows")
    output_type = config.get("output_type", "generate_until")
    kind = LM_EVAL_KINDS.get(output_type)
    if kind is None:
        refuse("output_type", f"{output_type!r} is not supported (supported: {', '.join(LM_EVAL_KINDS)})")
        kind = "generate"
    if config.get("num_fewshot") not in (None, 0):
        refuse("num_fewshot", "few-shot prompts are not supported; forgetcheck asks every task zero-shot")
    if config.get("repeats") not in (None, 1):
        refuse("repeats", "repeated sampling is not supported; forgetcheck generates greedily once")
    pipelines = config.get("filter_list") or []
    filters = [step for pipeline in pipelines if isinstance(pipeline, dict) for step in pipeline.get("filter") or []]
    if not isinstance(pipelines, list) or any(not isinstance(step, dict) or step.get("function") != "take_first"
                                               for step in filters):
        refuse("filter_list", "answer-extraction filters are not supported; forgetcheck matches the whole generated answer")
    metric = _lm_eval_metric(config, kind, refuse)
    generation = config.get("generation_kwargs") or {}
    if not isinstance(generation, dict):
        refuse("generation_kwargs", "must be a mapping (until, max_gen_toks, ...)")
        generation = {}
    if generation.get("do_sample"):  # without sampling, transformers ignores temperature
        refuse("generation_kwargs", "sampling is not supported; forgetcheck generates greedily")
    dataset_kwargs = config.get("dataset_kwargs") or {}
    extra = sorted(set(dataset_kwargs) - {"data_files", "revision"}) if isinstance(dataset_kwargs, dict) else ["it"]
    if extra:
        refuse("dataset_kwargs", f"{extra[0]} is not supported (data_files and revision are)")
    for key in ("doc_to_text", "doc_to_target") + (("doc_to_choice",) if kind == "choice" else ()):
        if kind == "perplexity" and key == "doc_to_text":
            continue
        if config.get(key) is None:
            refuse(key, "is missing; forgetcheck needs it to build the items")

    if refusals:
        # Validating: note every refusal, and stop before loading data for a task that cannot run.
        problems.extend(refusals[:-1])
        raise BadInput(refusals[-1])
    dataset_path = config.get("dataset_path")
    if dataset_path and (task_path.parent / str(dataset_path)).exists():
        dataset_path = str(task_path.parent / str(dataset_path))
    dataset = {"path": dataset_path, "name": config.get("dataset_name"),
               "split": config.get("test_split") or config.get("validation_split"),
               "revision": dataset_kwargs.get("revision"),
               "data_files": _local_files(dataset_kwargs.get("data_files"), task_path.parent)}
    dataset.update(entry.get("dataset") or {})
    until = generation.get("until", [config.get("fewshot_delimiter", "\n\n")])
    converted = {
        "name": entry.get("name") or config.get("task") or task_path.stem,
        "kind": kind,
        "metric": entry.get("metric", metric),
        # lm-eval asks without a chat template unless told to; so does an imported task.
        "chat_template": entry.get("chat_template", "off"),
        "max_tokens": entry.get("max_tokens", generation.get("max_gen_toks", 256)),
        "stop": entry.get("stop", [until] if isinstance(until, str) else until),
        "match": "exact",
        "dataset": {k: v for k, v in dataset.items() if v is not None},
        "limit": entry.get("limit"),
        "_lm_eval": (config, str(task_path)),
    }
    if kind == "choice":
        converted["target_delimiter"] = config.get("target_delimiter", " ")
    info = {k: entry[k] for k in ("description", "provenance", "license") if k in entry}
    info.setdefault("provenance", f"lm-evaluation-harness task {task_path}")
    return {**converted, **info}


def _function_hook(value: Any) -> FunctionHook | None:
    """The first ``!function`` anywhere in a task setting (metric_list entries hide them too)."""
    if isinstance(value, FunctionHook):
        return value
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return next((hook for hook in map(_function_hook, children) if hook), None)


def _read_task(path: Path, seen: list[Path]) -> tuple[dict[str, Any], dict[str, str]]:
    """A task YAML with its ``include:`` chain merged in (the including file wins), as lm-eval does.

    Also returns where each key was written, as ``file:line``, so errors point at it.
    """
    config, lines = read_yaml(path)
    if not isinstance(config, dict):
        raise BadInput(f"{path}: an lm-eval task YAML is a mapping (task, dataset_path, doc_to_text, ...)")
    where = {key: f"{path}:{line}" for key, line in lines.items()}
    include = config.get("include")
    if include is None:
        return config, where
    parent_path = path.parent / str(include)
    if parent_path in seen or len(seen) > 8:
        raise BadInput(f"{where['include']}: include: includes loop back to {parent_path.name}")
    if not parent_path.exists():
        raise BadInput(f"{where['include']}: include: {include!r} not found next to {path.name}")
    parent, parent_where = _read_task(parent_path, seen + [path])
    return {**parent, **config}, {**parent_where, **where}


def _lm_eval_metric(config: dict[str, Any], kind: str, refuse: Callable[[str, str], None]) -> str:
    """The forgetcheck metric that matches the task's metric_list; other metrics are refused."""
    names = []
    for spec in config.get("metric_list") or []:
        name = spec.get("metric") if isinstance(spec, dict) else spec
        if isinstance(name, FunctionHook) or name not in LM_EVAL_METRICS[kind]:
            refuse("metric_list", f"metric {name!r} is not supported for this task (supported: "
                                  f"{', '.join(LM_EVAL_METRICS[kind])})")
        elif isinstance(spec, dict) and spec.get("regexes_to_ignore"):
            refuse("metric_list", "exact_match with regexes_to_ignore is not supported")
        names.append(name)
    if kind == "choice":
        return "acc_norm" if names == ["acc_norm"] else "acc"
    return {"generate": "exact_match", "perplexity": "loglik_per_token"}[kind]


def lm_eval_row_maker(config: dict[str, Any], task_file: str, kind: str, probe: str):
    """Turn one dataset row into a probe item row the way lm-eval builds its requests."""
    has_choices = config.get("doc_to_choice") is not None

    def value(key: str, doc: dict[str, Any], where: str) -> tuple[Any, bool]:
        """The row's value for an lm-eval doc_to_* key, and whether a template made it."""
        spec = config.get(key)
        if isinstance(spec, str) and spec in doc:
            return doc[spec], False
        if isinstance(spec, str):
            return render(spec, doc, f"{where}: {key} (from {task_file})"), True
        return spec, False

    def make(doc: dict[str, Any], index: int, where: str) -> dict[str, Any]:
        row: dict[str, Any] = {"id": f"{probe}-{index}"}
        if kind == "perplexity":
            row["text"] = str(value("doc_to_target", doc, where)[0])
            return row
        text, templated = value("doc_to_text", doc, where)
        if isinstance(text, int) or (templated and has_choices and text.strip().isdigit()):
            raise BadInput(f"{where}: doc_to_text gives a choice index (a multiple-input task such as winogrande); "
                           "not supported")
        description = render(config["description"], doc, f"{where}: description") if config.get("description") else ""
        row["prompt"] = description + str(text)
        target, templated = value("doc_to_target", doc, where)
        if templated and target.strip().isdigit() and has_choices:
            target = int(target.strip())
        if isinstance(target, list) or (templated and target.startswith("[") and target.endswith("]")):
            raise BadInput(f"{where}: doc_to_target gives several gold answers; not supported")
        choices = None
        if has_choices:
            spec = config["doc_to_choice"]
            if isinstance(spec, dict):
                choices = list(spec.values())
            elif isinstance(spec, list):
                choices = spec
            elif isinstance(spec, str) and spec in doc:
                choices = doc[spec]
            else:
                choices = _literal_list(render(str(spec), doc, f"{where}: doc_to_choice"), f"{where}: doc_to_choice")
            choices = [str(c) for c in choices]
        if kind == "choice":
            row["choices"] = choices
            row["target"] = target
        else:
            # lm-eval: with doc_to_choice set, doc_to_target is an index into the choices.
            if choices is not None and isinstance(target, int) and 0 <= target < len(choices):
                target = choices[target]
            row["target"] = str(target)
        return row

    return make


def dataset_items(entry: dict[str, Any], kind: str, match: str, suite_path: Path, where: str,
                  problems: list[str] | None = None) -> tuple[list, str]:
    """A dataset-backed (or lm-eval) probe entry's items, and a name for where they came from."""
    from forgetcheck.suites.suite import add_item, collecting

    lm_eval = entry.get("_lm_eval")
    if lm_eval:
        config, task_file = lm_eval
        make = lm_eval_row_maker(config, task_file, kind, str(entry["name"]))
    else:
        make = row_maker(entry, kind, where)
    # Paths from a task YAML are already absolute; the suite's own are relative to it.
    rows = load_rows(entry["dataset"], suite_path.parent, where, entry.get("limit"))
    items: list = []
    seen: set[str] = set()
    noted = len(problems or [])
    found: list[str] = []
    for index, doc in enumerate(rows):
        row_where = f"{where}: {entry['name']} row {index}"
        with collecting(found if problems is not None else None):
            add_item(items, seen, make(doc, index, row_where), kind, match, row_where)
    if problems is not None:
        distinct = _once_per_kind(found)
        problems.extend(distinct[:20])
        if len(distinct) > 20:
            problems.append(f"{where}: {len(distinct) - 20} more problems in {entry['name']}'s rows, not shown")
    if not items and len(problems or []) == noted:
        raise BadInput(f"{where}: dataset {dataset_source(entry['dataset'])} gave no rows; check the split and data_files")
    origin = dataset_source(entry["dataset"])
    return items, f"{lm_eval[1]} ({origin})" if lm_eval else origin


def _once_per_kind(found: list[str]) -> list[str]:
    """A mapping mistake fails every row the same way: report it once, with how many rows it hit."""
    first: dict[str, str] = {}
    count: dict[str, int] = {}
    for message in found:
        key = re.sub(r" row \d+: ", " row N: ", message)
        first.setdefault(key, message)
        count[key] = count.get(key, 0) + 1
    return [first[k] + (f" (and {count[k] - 1} more rows like it)" if count[k] > 1 else "") for k in first]
