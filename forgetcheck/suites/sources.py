"""Probe items from elsewhere: Hugging Face datasets and lm-evaluation-harness tasks.

A suite entry may take its items from a dataset (``dataset:`` plus a ``fields:``
mapping and/or small Jinja ``template:`` strings) or from an lm-eval task YAML
(``lm_eval_task:``). Either way this module only produces plain data: each dataset
row becomes the same row dict a JSONL line would be, and an lm-eval task also gives
plain probe settings; :mod:`forgetcheck.suites.suite` checks and consumes them, so a
dataset-backed probe obeys exactly the rules of a file-backed one. Imports go one
way: suite.py uses this module, never the reverse.

Templates come from files people download, so they render in Jinja's sandbox.
lm-eval features that run the task's own code or change scoring in ways forgetcheck
does not reproduce (``!function`` hooks, ``process_docs``, other metrics) are
refused with one line naming file:line and key: a refused task is better than a
silently different score.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any, Callable

import yaml

from forgetcheck.errors import BadInput
from forgetcheck.suites import lm_eval_tasks
from forgetcheck.suites.dataset_ids import COPIES_VARIABLE, dataset_info, is_hub_id, local_copy
from forgetcheck.suites.paths import inside_suite, is_url

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
    path, name, revision = str(dataset["path"]), dataset.get("name"), dataset.get("revision")
    split = dataset.get("split")
    copy = local_copy(path, name, base_dir)
    if copy is not None:  # the user's own offline copy of this Hub dataset (FORGETCHECK_DATASETS), not the suite's
        path, name, revision, data_files = "json", None, None, copy
    data_files = copy or _local_files(dataset.get("data_files"), base_dir, where)  # refused here, not in the try
    local = base_dir / path
    if not is_url(path) and (local.exists() or Path(path).is_absolute() or path.startswith(".")):
        inside_suite(local, f"{where}: dataset path")
    try:
        if local.is_dir() and any((local / f).exists() for f in ("state.json", "dataset_dict.json")):
            loaded = datasets.load_from_disk(str(local))
        else:
            loaded = datasets.load_dataset(str(local) if local.exists() else path, name,
                                           split=split, revision=revision, data_files=data_files)
    except Exception as exc:  # datasets reports missing files, splits and Hub ids with many types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        offline = f"; offline, keep a copy and set {COPIES_VARIABLE}" if is_hub_id(path, base_dir) else ""
        raise BadInput(f"{where}: dataset {path!r} cannot be loaded ({first[:300]}){offline}") from None
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


def _local_files(data_files: Any, base_dir: Path, where: str = "data_files") -> Any:
    """data_files relative to the file that names them; local ones must lie inside the suite's folder."""
    def fix(name: Any) -> Any:
        if is_url(str(name)):
            return name
        candidate = base_dir / str(name)  # an absolute name stays absolute
        inside_suite(candidate, f"{where}: data_files")
        return str(candidate.absolute())  # absolute, so a second resolution (task, then suite) keeps it

    if isinstance(data_files, dict):
        return {split: _local_files(files, base_dir, where) for split, files in data_files.items()}
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


def row_maker(entry: dict[str, Any], kind: str, where: str,
              item_fields: frozenset[str]) -> Callable[[dict[str, Any], int, str], dict[str, Any]]:
    """The function turning one dataset row into a probe item row, from ``fields:`` and ``template:``."""
    fields = entry.get("fields") or {}
    templates = entry.get("template") or {}
    for key, given in (("fields", fields), ("template", templates)):
        if not isinstance(given, dict):
            raise BadInput(f"{where}: {key}: give a mapping from item field to {'column' if key == 'fields' else 'template'}")
        for name in given:
            if name not in item_fields:
                raise BadInput(f"{where}: {key}.{name}: not an item field (item fields: {', '.join(sorted(item_fields))})")
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


def dataset_rows(entry: dict[str, Any], kind: str, item_fields: frozenset[str], suite_path: Path, where: str,
                 collect: bool = False) -> tuple[list[tuple[str, dict[str, Any]]], list[str], str]:
    """A ``dataset:`` probe entry's item rows (each with where it came from), the problems met, and its origin.

    With ``collect``, a row that cannot be built is noted and skipped; without, it raises.
    """
    make = row_maker(entry, kind, where, item_fields)
    docs = load_rows(entry["dataset"], suite_path.parent, where, entry.get("limit"))
    return (*_build_rows(docs, make, f"{where}: {entry['name']}", collect), dataset_source(entry["dataset"]))


def _build_rows(docs: list[dict[str, Any]], make, where: str, collect: bool):
    rows, found = [], []
    for index, doc in enumerate(docs):
        row_where = f"{where} row {index}"
        try:
            rows.append((row_where, make(doc, index, row_where)))
        except BadInput as exc:
            if not collect:
                raise
            found.append(str(exc))
    return rows, found


def _column(doc: dict[str, Any], column: str, where: str) -> Any:
    """A row's value for ``column``; dots reach into nested records (``choices.text``)."""
    value: Any = doc
    for part in column.split("."):
        if not isinstance(value, dict) or part not in value:
            raise BadInput(f"{where}: column {column!r} is not in the dataset (columns: {', '.join(map(str, doc))})")
        value = value[part]
    return value


# -- lm-evaluation-harness tasks ----------------------------------------------
#
# An lm-eval task YAML becomes plain data here: probe settings (a dict) and item rows,
# built the way lm-eval 0.4 builds its requests (lm_eval/api/task.py: doc_to_text,
# doc_to_target, doc_to_choice, fewshot_context, construct_requests). Whatever
# would need the task's own Python is refused with one line naming file:line.

# lm-eval output_type -> forgetcheck kind. A loglikelihood task (lambada) asks whether
# the greedy continuation is the target: a generate item, scored from one log-likelihood.
LM_EVAL_KINDS = {"multiple_choice": "choice", "generate_until": "generate", "loglikelihood": "generate",
                 "loglikelihood_rolling": "perplexity"}
# A probe scores one of these per item (acc or acc_norm for a choice task); acc_bytes is
# accepted beside them because lm-eval reports acc for those tasks too.
LM_EVAL_METRICS = {"multiple_choice": ("acc", "acc_norm", "acc_bytes"),
                   "generate_until": ("exact_match", "bleu", "chrf", "ter"),
                   "loglikelihood": ("acc", "perplexity"),
                   "loglikelihood_rolling": ("word_perplexity", "byte_perplexity", "bits_per_byte")}
# Keys that only name, group or document a task.
LM_EVAL_HARMLESS = {"task", "task_alias", "tag", "group", "group_alias", "metadata", "should_decontaminate",
                    "doc_to_decontamination_query", "unsafe_code", "include"}
LM_EVAL_USED = {"dataset_path", "dataset_name", "dataset_kwargs", "test_split", "validation_split", "training_split",
                "fewshot_split", "fewshot_config", "fewshot_delimiter", "num_fewshot", "output_type", "doc_to_text",
                "doc_to_choice", "doc_to_target", "target_delimiter", "description", "metric_list",
                "generation_kwargs", "filter_list", "repeats", "gen_prefix"}
LM_EVAL_WHY = {
    "process_docs": "rewrites the rows with the task's own Python; save the processed rows to a data file and "
                    "point the suite entry's dataset: at it",
    "process_results": "scores with the task's own Python, which forgetcheck does not run (only a "
                       "loglikelihood_rolling task's may run, with --allow-task-code)",
    "use_prompt": "promptsource prompts are not supported; write doc_to_text/doc_to_choice/doc_to_target",
    "doc_to_image": "multimodal tasks are not supported",
    "doc_to_audio": "multimodal tasks are not supported",
    "multiple_inputs": "multiple-input tasks (one context per choice) are not supported",
    "multiple_targets": "several gold answers per row are not supported",
}
# lm-eval's filters that need no task code, with the arguments each takes.
LM_EVAL_FILTERS = {"take_first": set(), "majority_vote": set(), "remove_whitespace": set(), "lowercase": set(),
                   "uppercase": set(), "regex": {"regex_pattern", "group_select", "fallback"},
                   "map": {"mapping_dict", "default_value"},
                   "multi_choice_regex": {"regex_pattern", "group_select", "fallback", "ignore_case",
                                          "ignore_punctuation", "regexes_to_ignore"}}
# Translation metrics a generate probe can score with, per item (sacrebleu's sentence scores), in the
# order forgetcheck prefers them: chrF reads well per sentence; sentence BLEU is mostly 0 on short answers.
# TER is lower-is-better; a task that lists it lists one of these too, and that one scores the probe.
TRANSLATION_METRICS = ("chrf", "bleu")
EXACT_MATCH_OPTIONS = ("regexes_to_ignore", "ignore_case", "ignore_punctuation", "ignore_numbers")
FEWSHOT_KEYS = {"sampler", "split", "samples", "doc_to_text", "doc_to_choice", "doc_to_target", "fewshot_delimiter",
                "target_delimiter", "gen_prefix"}
DEFAULT_FEWSHOT_SEED = 1234  # lm-eval's --fewshot_random_seed default


def lm_eval_entry(entry: dict[str, Any], suite_path: Path, where: str, collect: bool = False) -> dict[str, Any]:
    """A suite entry with ``lm_eval_task:`` turned into plain probe settings and item rows.

    Returns a dict with the probe settings (``name``, ``kind``, ``metric``, ``stop``,
    ``harness``, ...), ``rows`` (pairs of where-from and item row), ``problems`` (rows
    that could not be built, with ``collect``) and ``source``. Settings in the suite
    entry (name, chat_template, metric, max_tokens, stop, limit, filter, fewshot_seed,
    dataset overrides such as local ``data_files``) win over the task's. With
    refusals, :class:`TaskRefused` lists every reason the task cannot be imported.
    """
    task_path = inside_suite(suite_path.parent / str(entry["lm_eval_task"]), f"{where}: lm_eval_task")
    if not task_path.exists():
        raise BadInput(f"{where}: lm_eval_task {str(entry['lm_eval_task'])!r} not found next to {suite_path.name}")
    config, written_at = _read_task(task_path, [])
    refusals = _refusals(config, written_at, task_path, entry)
    output_type = config.get("output_type", "generate_until")
    if refusals:
        # Stop before loading data for a task that cannot run; validation sees every refusal.
        raise TaskRefused(refusals)
    kind = LM_EVAL_KINDS[output_type]
    metric_specs = {spec["metric"] if isinstance(spec, dict) else spec: spec for spec in config.get("metric_list") or []}
    generation = dict(config.get("generation_kwargs") or {})
    until = generation.get("until", [config.get("fewshot_delimiter", "\n\n")])
    harness: dict[str, Any] = {"output_type": output_type}
    info: dict[str, Any] = {}
    if output_type == "generate_until":
        spec = metric_specs.get("exact_match")
        options = {k: spec[k] for k in EXACT_MATCH_OPTIONS if isinstance(spec, dict) and k in spec}
        harness.update(filters=_chosen_filters(config, entry, where, written_at), exact_match=options)
        sampled = {k: generation[k] for k in ("do_sample", "temperature", "top_p", "top_k") if k in generation}
        if generation.get("do_sample"):
            # One sampled answer per item would add dice to both sides of a paired comparison; greedy asks
            # base and candidate the same deterministic way. Recorded in the probe (hash) and the report.
            harness["sampling_replaced"] = sampled
            info["note"] = (f"lm-eval samples this task ({', '.join(f'{k} {v}' for k, v in sampled.items())}); "
                            "forgetcheck asks it greedily, so its scores are not lm-eval's sampled numbers")
    if kind == "choice":
        metric = "acc_norm" if list(metric_specs) == ["acc_norm"] else "acc"
    elif output_type == "generate_until" and metric_specs and "exact_match" not in metric_specs:
        metric = next(m for m in TRANSLATION_METRICS if m in metric_specs)  # _check_task saw one is there
        harness["metric"] = entry.get("metric", metric)
        if harness["metric"] not in set(TRANSLATION_METRICS) & set(metric_specs):
            raise BadInput(f"{where}: metric {harness['metric']!r}: the task scores with "
                           f"{', '.join(metric_specs)}; choose one of {', '.join(TRANSLATION_METRICS)} it lists")
        _sacrebleu(where)
    else:
        metric = {"generate_until": "exact_match", "loglikelihood": "acc"}.get(output_type, "loglik_per_token")
    shots = int(config.get("num_fewshot") or 0)
    name = entry.get("name") or config.get("task") or task_path.stem
    dataset = _task_dataset(config, entry, task_path)
    if carries_code(config):  # allowed, or _refusals would have refused it: lm-eval builds the requests
        rows, problems, task = lm_eval_tasks.build_items(task_path, config, entry, suite_path.parent, where,
                                                         str(name), collect, _reads_choices(harness))
        if task.multiple_input:
            if metric == "acc_norm":
                raise BadInput(f"{written_at.get('metric_list', task_path)}: metric_list: acc_norm on a "
                               "multiple-input task is not supported; use acc")
            harness["multiple_input"] = True
        source = f"{task_path} ({dataset_source(dataset)}, requests built by lm-eval {lm_eval_tasks.version()})"
    else:
        rows, problems, source = _task_rows(config, entry, task_path, suite_path.parent, where, kind, shots,
                                              collect, _reads_choices(harness))
    settings = {
        "name": name,
        "kind": kind,
        "metric": entry.get("metric", metric),
        # lm-eval asks without a chat template unless told to; so does an imported task.
        "chat_template": entry.get("chat_template", "off"),
        "max_tokens": entry.get("max_tokens", generation.get("max_gen_toks", 256)),
        "stop": entry.get("stop", [until] if isinstance(until, str) else until),
        "match": "exact",
        "target_delimiter": config.get("target_delimiter", " ") if kind == "choice" else None,
        "harness": harness,
        "rows": rows,
        "problems": problems,
        "source": source,
        "dataset_info": dataset_info(dataset, suite_path.parent, str(config.get("task") or task_path.stem)),
    }
    info.update({k: entry[k] for k in ("description", "provenance", "license", "ids", "chance") if k in entry})
    info.setdefault("provenance", f"lm-evaluation-harness task {task_path}")
    return {**settings, **info}


def read_task(path: Path, entry: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[str]]:
    """An lm-eval task YAML (includes merged) and why forgetcheck would refuse it, one line each; no data is loaded.

    An empty list means the task imports. ``entry`` is the suite entry naming the task
    (its dataset override can supply a split the task lacks).
    """
    config, written_at = _read_task(path, [])
    return config, _refusals(config, written_at, path, entry or {})


def _refusals(config: dict[str, Any], written_at: dict[str, str], path: Path, entry: dict[str, Any]) -> list[str]:
    refusals: list[str] = []

    def refuse(key: str, why: str) -> None:
        refusals.append(f"{written_at.get(key, path)}: {key}: {why}")

    _check_task(config, refuse, entry)
    return refusals


class TaskRefused(BadInput):
    """An lm-eval task with features forgetcheck does not reproduce; ``refusals`` lists each, one line apiece.

    Its message is the first refusal in file order, the one a user fixes first.
    """

    def __init__(self, refusals: list[str]):
        super().__init__(refusals[0])
        self.refusals = refusals


def _check_task(config: dict[str, Any], refuse: Callable[[str, str], None], entry: dict[str, Any]) -> None:
    """Refuse, by key, everything in a task that forgetcheck would not score as lm-eval does."""
    output_type = config.get("output_type", "generate_until")
    for key, value in config.items():
        if value is None:  # lm-eval reads null as unset (an including file may clear process_docs so)
            continue
        hook = _function_hook(value)
        if lm_eval_tasks.runs_code_for(key, output_type):
            continue  # --allow-task-code: lm-eval runs this code to build the requests
        if key in LM_EVAL_WHY:
            allow = f"; or {lm_eval_tasks.how_to_allow()}" if lm_eval_tasks.code_lm_eval_runs(key, output_type) else ""
            refuse(key, (f"!function {hook}: " if hook else "") + LM_EVAL_WHY[key] + allow)
        elif hook:
            allow = (f", or {lm_eval_tasks.how_to_allow()}" if lm_eval_tasks.code_lm_eval_runs(key, output_type)
                     else "; forgetcheck scores with its own rules")
            refuse(key, f"!function {hook} runs the task's own Python, which forgetcheck does not run; "
                        f"write it as a Jinja template or a field name{allow}")
        elif key not in LM_EVAL_HARMLESS | LM_EVAL_USED:
            refuse(key, "is not an lm-eval key forgetcheck knows; remove it or ask for it in an issue")
    if output_type not in LM_EVAL_KINDS:
        refuse("output_type", f"{output_type!r} is not supported (supported: {', '.join(LM_EVAL_KINDS)})")
        return
    shots = config.get("num_fewshot")
    if shots is not None and (not isinstance(shots, int) or isinstance(shots, bool) or shots < 0):
        refuse("num_fewshot", "must be a whole number of examples, 0 or more")
    fewshot = config.get("fewshot_config")
    if fewshot is not None and not isinstance(fewshot, dict):
        refuse("fewshot_config", "must be a mapping (sampler, split, ...)")
    elif fewshot:
        extra = sorted(set(fewshot) - FEWSHOT_KEYS)
        if extra:
            refuse("fewshot_config", f"{extra[0]} is not supported (supported: {', '.join(sorted(FEWSHOT_KEYS))})")
        if fewshot.get("sampler", "default") not in ("default", "first_n"):
            refuse("fewshot_config", f"sampler {fewshot['sampler']!r} is not supported (default, first_n are)")
        samples = fewshot.get("samples")
        if samples is not None and not (isinstance(samples, list) and all(isinstance(s, dict) for s in samples)):
            refuse("fewshot_config", "samples must be a list of rows (mappings of column to value)")
    if config.get("repeats") not in (None, 1):
        refuse("repeats", "repeated sampling is not supported; forgetcheck generates greedily once")
    _check_filters(config, refuse)
    for spec in config.get("metric_list") or []:
        name = spec.get("metric") if isinstance(spec, dict) else spec
        if name not in LM_EVAL_METRICS[output_type]:
            refuse("metric_list", f"metric {name!r} is not supported for {output_type} (supported: "
                                  f"{', '.join(LM_EVAL_METRICS[output_type])})")
    names = {spec.get("metric") if isinstance(spec, dict) else spec for spec in config.get("metric_list") or []}
    if output_type == "generate_until" and "ter" in names and not names & {"exact_match", *TRANSLATION_METRICS}:
        refuse("metric_list", "ter alone is not supported (it is lower-is-better); add chrf or bleu to score by")
    generation = config.get("generation_kwargs") or {}
    if not isinstance(generation, dict):
        refuse("generation_kwargs", "must be a mapping (until, max_gen_toks, ...)")
    else:  # do_sample is asked greedily, with a note (lm_eval_entry)
        until, most = generation.get("until", []), generation.get("max_gen_toks", 256)
        if not isinstance(until, str) and not (isinstance(until, list) and all(isinstance(u, str) for u in until)):
            refuse("generation_kwargs", "until must be a text or a list of texts")
        if isinstance(most, bool) or not isinstance(most, int) or most < 1:
            refuse("generation_kwargs", "max_gen_toks must be a positive whole number")
    delimiters = [(key, config.get(key)) for key in ("target_delimiter", "fewshot_delimiter")]
    delimiters += [("fewshot_config", (fewshot or {}).get(key)) for key in ("target_delimiter", "fewshot_delimiter")
                   if isinstance(fewshot, dict)]
    for key, value in delimiters:
        if value is not None and not isinstance(value, str):
            refuse(key, f"a delimiter must be text, not {value!r}")
    dataset_kwargs = config.get("dataset_kwargs") or {}
    # trust_remote_code is ignored: datasets 4 and later no longer run loading scripts, so it changes nothing.
    known = {"data_files", "revision", "trust_remote_code"}
    extra = sorted(set(dataset_kwargs) - known) if isinstance(dataset_kwargs, dict) else ["it"]
    if extra:
        refuse("dataset_kwargs", f"{extra[0]} is not supported (data_files and revision are)")
    needed = {"multiple_choice": ("doc_to_text", "doc_to_target", "doc_to_choice"),
              "loglikelihood_rolling": ("doc_to_target",)}.get(output_type, ("doc_to_text", "doc_to_target"))
    for key in needed:
        if config.get(key) is None:
            refuse(key, "is missing; forgetcheck needs it to build the items")
    if not (entry.get("dataset") or {}).get("split") and not (config.get("test_split") or config.get("validation_split")):
        refuse("test_split", "is missing (and no validation_split); name the split to evaluate")


def _check_filters(config: dict[str, Any], refuse: Callable[[str, str], None]) -> None:
    pipelines = config.get("filter_list")
    if pipelines is None:
        return
    if not isinstance(pipelines, list) or not all(isinstance(p, dict) and isinstance(p.get("filter"), list)
                                                  for p in pipelines):
        refuse("filter_list", "must be a list of {name, filter: [steps]}")
        return
    for pipeline in pipelines:
        for step in pipeline["filter"]:
            function = step.get("function") if isinstance(step, dict) else None
            if function not in LM_EVAL_FILTERS:
                refuse("filter_list", f"filter {function!r} is not supported (supported: {', '.join(LM_EVAL_FILTERS)})")
                continue
            extra = sorted(set(step) - {"function"} - LM_EVAL_FILTERS[function])
            if extra:
                refuse("filter_list", f"filter {function}: argument {extra[0]!r} is not supported")


def _chosen_filters(config: dict[str, Any], entry: dict[str, Any], where: str,
                    written_at: dict[str, str]) -> list[dict[str, Any]]:
    """The filter pipeline a generate probe scores with: the entry's ``filter:`` by name, else the task's first.

    lm-eval scores every pipeline; a forgetcheck probe has one score per item, so one
    pipeline is chosen (a second probe entry can choose another).
    """
    pipelines = config.get("filter_list") or [{"name": "none", "filter": [{"function": "take_first"}]}]
    wanted = entry.get("filter")
    if wanted is None:
        return [dict(step) for step in pipelines[0]["filter"]]
    for pipeline in pipelines:
        if pipeline.get("name") == wanted:
            return [dict(step) for step in pipeline["filter"]]
    names = ", ".join(str(p.get("name")) for p in pipelines)
    raise BadInput(f"{where}: filter {wanted!r} is not in {written_at.get('filter_list', 'the task')}'s "
                   f"filter_list (pipelines: {names})")


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
    include = config.pop("include", None)
    if include is None:
        return config, where
    merged: dict[str, Any] = {}
    merged_where: dict[str, str] = {}
    for name in include if isinstance(include, list) else [include]:  # later files win, this one last
        parent_path = inside_suite(path.parent / str(name), f"{where['include']}: include")  # absolute stays absolute
        if parent_path in seen or len(seen) > 8:
            raise BadInput(f"{where['include']}: include: includes loop back to {parent_path.name}")
        if not parent_path.exists():
            raise BadInput(f"{where['include']}: include: {name!r} not found next to {path.name}")
        parent, parent_where = _read_task(parent_path, seen + [path])
        parent.pop("task_list", None)
        merged.update(parent)
        merged_where.update(parent_where)
    return {**merged, **config}, {**merged_where, **where}


_NAME_LINE = re.compile(r"""^["']?(task|group)["']?\s*:\s*["']?([^"'\s#]+)["']?\s*(#.*)?$""", re.MULTILINE)


def lm_eval_registry(names: list[str], where: str) -> list[Path]:
    """lm-eval task, group and tag names resolved to the task YAML files of the installed lm-eval.

    Task and group names are found the way lm-eval's index finds them (the ``task:`` or
    ``group:`` line of its shipped YAMLs) by reading the files' text, which takes seconds;
    a tag (``ai2_arc``) needs includes merged, so it goes through lm-eval's own
    TaskManager, which parses every YAML and takes a minute or more. A group or tag
    stands for all its tasks (mmlu: one probe per subject).
    """
    try:
        import lm_eval
    except ImportError:
        raise BadInput(f"{where}: lm-eval is not installed; pip install 'forgetcheck[lm-eval]', "
                       "or give the task YAML's path") from None
    if not names:
        raise BadInput(f"{where}: name at least one lm-eval task, e.g. lm-eval:arc_easy,hellaswag")
    files: dict[tuple[str, str], Path] = {}
    texts: list[str] = []
    for path in sorted(Path(lm_eval.__file__).parent.joinpath("tasks").glob("**/*.yaml")):
        texts.append(path.read_text(encoding="utf-8", errors="replace"))
        for match in _NAME_LINE.finditer(texts[-1]):
            files.setdefault((match.group(1), match.group(2)), path)  # lm-eval keeps the first, too
    found: list[Path] = []
    tags: dict[str, set[str]] | None = None

    def expand(name: str, depth: int) -> None:
        nonlocal tags
        if ("task", name) in files:
            if files["task", name] not in found:
                found.append(files["task", name])
            return
        if ("group", name) in files and depth < 8:
            config, _ = read_yaml(files["group", name])
            for member in (config or {}).get("task") or []:
                if not isinstance(member, str):
                    raise BadInput(f"{where}: group {name!r} defines a task inline in {files['group', name]}; "
                                   "name its tasks one by one")
                expand(member, depth + 1)
            return
        if not any(name in text for text in texts):  # a typo: no need to wait for lm-eval's index
            tags = tags or {}
        elif tags is None:
            from lm_eval.tasks import TaskManager

            tags = {n: e.tags for n, e in TaskManager(verbosity="ERROR").task_index.items() if e.kind.name == "TAG"}
        if name not in tags or depth >= 8:
            raise BadInput(f"{where}: {name!r} is not an lm-eval task, group or tag (`lm-eval ls tasks` lists them)")
        for member in sorted(tags[name]):
            expand(member, depth + 1)

    for name in names:
        expand(name, 0)
    return found


def is_lm_eval_task(data: Any) -> bool:
    """Whether a YAML file's data is an lm-eval task (or an include-only file that overrides one)."""
    return isinstance(data, dict) and "probes" not in data and (
        "include" in data or "doc_to_text" in data or "output_type" in data or "doc_to_target" in data)


def _task_dataset(config: dict[str, Any], entry: dict[str, Any], task_path: Path) -> dict[str, Any]:
    dataset_kwargs = config.get("dataset_kwargs") or {}
    path = config.get("dataset_path")
    if path and (task_path.parent / str(path)).exists():
        path = str(task_path.parent / str(path))
    dataset = {"path": path, "name": config.get("dataset_name"),
               "split": config.get("test_split") or config.get("validation_split"),
               "revision": dataset_kwargs.get("revision"),
               "data_files": _local_files(dataset_kwargs.get("data_files"), task_path.parent, str(task_path))}
    override = entry.get("dataset") or {}
    if override.get("path"):  # another source altogether: the task's dataset name and files do not carry over
        dataset = {"split": dataset["split"]}
    dataset.update(override)
    return {k: v for k, v in dataset.items() if v is not None}


def _fewshot_split(config: dict[str, Any]) -> tuple[str | None, bool]:
    """The split few-shot examples come from (None: fewshot_config's samples), and whether lm-eval
    leaves the asked row out of them; in lm-eval's order of preference."""
    fewshot = config.get("fewshot_config") or {}
    split = fewshot.get("split") or config.get("fewshot_split")
    if split is not None:
        return split, split == config.get("test_split")
    if fewshot.get("samples") is not None:
        return None, False
    return config.get("training_split") or config.get("validation_split") or config.get("test_split"), False


def _reads_choices(harness: dict[str, Any]) -> bool:
    """Whether the probe's filters read each row's ``choices`` column (lm-eval's multi_choice_regex does)."""
    return any(step.get("function") == "multi_choice_regex" for step in harness.get("filters") or [])


def row_choices(doc: dict[str, Any], where: str) -> list[str]:
    """A row's ``choices`` column, which lm-eval's multi_choice_regex filter reads as the options."""
    choices = doc.get("choices")
    if not isinstance(choices, list):
        raise BadInput(f"{where}: filter multi_choice_regex reads the row's 'choices' column (a list); "
                       "this row has none")
    return [str(c) for c in choices]


def _sacrebleu(where: str) -> None:
    """Refuse a translation task up front when sacrebleu (which lm-eval brings) is missing."""
    try:
        import sacrebleu  # noqa: F401
    except ImportError:
        raise BadInput(f"{where}: scoring bleu/chrf needs sacrebleu; pip install 'forgetcheck[lm-eval]'") from None


def carries_code(config: dict[str, Any]) -> bool:
    """Whether an lm-eval task needs its own Python: a ``!function`` anywhere, or process_docs/process_results."""
    return bool(_function_hook(config)) or any(config.get(k) is not None for k in ("process_docs", "process_results"))


def lm_eval_dataset(config: dict[str, Any], entry: dict[str, Any], task_path: Path, base_dir: Path,
                    where: str) -> dict[str, Any]:
    """The dataset keys of a task's lm-eval config, with the suite entry's overrides and any local copy
    (FORGETCHECK_DATASETS) applied, every local file absolute: what lm-eval itself then loads."""
    dataset = _task_dataset(config, entry, task_path)
    kwargs = {k: v for k, v in (config.get("dataset_kwargs") or {}).items() if k not in ("data_files", "revision")}
    path, name = dataset.get("path"), dataset.get("name")
    data_files = local_copy(path, name, base_dir)
    if data_files is not None:
        path, name = "json", None
    else:
        data_files = _local_files(dataset.get("data_files"), base_dir, where)
        if path and not is_url(str(path)) and (base_dir / str(path)).exists():
            path = str(inside_suite(base_dir / str(path), f"{where}: dataset path").absolute())
        kwargs["revision"] = dataset.get("revision")
    kwargs["data_files"] = data_files
    return {"dataset_path": path, "dataset_name": name, "test_split": dataset.get("split"),
            "dataset_kwargs": {k: v for k, v in kwargs.items() if v is not None}}


def _task_rows(config: dict[str, Any], entry: dict[str, Any], task_path: Path, base_dir: Path, where: str, kind: str,
               shots: int, collect: bool, reads_choices: bool = False) -> tuple[list[tuple[str, dict[str, Any]]], list[str], str]:
    dataset = _task_dataset(config, entry, task_path)
    # The task's own data_files are already absolute; the suite entry's are relative to the suite.
    docs = load_rows(dataset, base_dir, where, entry.get("limit"))
    fewshot = config.get("fewshot_config") or {}
    pool: list[dict[str, Any]] = []
    leave_out = False
    if shots:
        split, leave_out = _fewshot_split(config)
        pool = list(fewshot["samples"]) if split is None else load_rows(
            {**dataset, "split": split}, base_dir, f"{where}: few-shot split {split!r}", None)
    seed = entry.get("fewshot_seed", DEFAULT_FEWSHOT_SEED)
    sampler = FewshotSampler(pool, fewshot.get("sampler", "default"), seed, where)
    task_file = str(task_path)
    make = _lm_eval_row_maker(config, task_file, kind, str(entry.get("name") or config.get("task") or task_path.stem),
                              shots, sampler, leave_out, reads_choices)
    rows, problems = _build_rows(docs, make, f"{where}: {task_path.name}", collect)
    return rows, problems, f"{task_file} ({dataset_source(dataset)})"


class FewshotSampler:
    """lm-eval's few-shot samplers (``default``: seeded random; ``first_n``), drawing in the same order.

    lm-eval seeds one ``random.Random`` per task and draws for each asked row in turn,
    so the same seed, rows and order give the same examples here.
    """

    def __init__(self, pool: list[dict[str, Any]], kind: str, seed: int, where: str):
        import random

        self.pool, self.kind, self.rnd, self.where = pool, kind, random.Random(seed), where

    def sample(self, n: int, asked: dict[str, Any] | None) -> list[dict[str, Any]]:
        """``n`` examples; ``asked`` (when the pool is the asked split) is never its own example."""
        if n == 0:
            return []
        if self.kind == "first_n":
            pool = [doc for doc in self.pool if doc != asked] if asked is not None else self.pool
            if n > len(pool):
                raise BadInput(f"{self.where}: num_fewshot {n} but the few-shot split has {len(pool)} rows")
            return pool[:n]
        try:
            if asked is None:
                return self.rnd.sample(self.pool, n)
            drawn = [doc for doc in self.rnd.sample(self.pool, n + 1) if doc != asked][:n]
            if len(drawn) < n:
                drawn = self.rnd.sample([doc for doc in self.pool if doc != asked], n)
            return drawn
        except ValueError:  # random.sample: more examples asked than rows
            raise BadInput(f"{self.where}: num_fewshot {n} but the few-shot split has {len(self.pool)} rows; "
                           "lower num_fewshot or give more rows") from None


def _doc_value(config: dict[str, Any], key: str, doc: dict[str, Any], where: str, spec: Any = None) -> Any:
    """A row's value for an lm-eval doc_to_* key, with lm-eval's types (lm_eval/api/task.py).

    A column name gives the column's value; a template gives text, except that an
    all-digit rendering of doc_to_text/doc_to_target is an index when the task has
    choices, a bracketed doc_to_target is a list, and doc_to_choice is always a list.
    """
    spec = config.get(key) if spec is None else spec
    has_choices = config.get("doc_to_choice") is not None
    if key == "doc_to_choice":
        if isinstance(spec, dict):
            return list(spec.values())
        if isinstance(spec, list):
            return spec
        if isinstance(spec, str) and spec in doc:
            return doc[spec]
        return _literal_list(render(str(spec), doc, f"{where}: doc_to_choice"), f"{where}: doc_to_choice")
    if not isinstance(spec, str):
        return spec  # an int or list written in the YAML
    if spec in doc:
        return doc[spec]
    text = render(spec, doc, f"{where}: {key}")
    if text.isdigit() and has_choices:
        return int(text)
    if key == "doc_to_target" and len(text) >= 2 and text[0] == "[" and text[-1] == "]":
        try:
            return ast.literal_eval(text)
        except (SyntaxError, ValueError):
            return text
    return text


def _needs_space(text: str, prefix: str) -> bool:
    """lm-eval's requires_delimiter: a gen_prefix follows the question after the delimiter unless
    either side already has whitespace at the join."""
    return bool(text and prefix) and not (text[-1].isspace() or prefix[0].isspace())


def _lm_eval_row_maker(config: dict[str, Any], task_file: str, kind: str, probe: str, shots: int,
                       sampler: FewshotSampler, leave_out: bool, reads_choices: bool = False):
    """Turn one dataset row into a probe item row the way lm-eval builds its requests."""
    output_type = config.get("output_type", "generate_until")
    fewshot = config.get("fewshot_config") or {}
    has_choices = config.get("doc_to_choice") is not None

    def prefix(doc: dict[str, Any], spec: Any, where: str) -> str:
        """gen_prefix for a row (a column or a template), as lm-eval's resolve_field; "" without one."""
        if not spec:
            return ""
        return str(doc[spec]) if spec in doc else render(str(spec), doc, f"{where}: gen_prefix")

    def example(doc: dict[str, Any], where: str) -> str:
        """One few-shot example as lm-eval writes it (build_qa_turn): question, delimiter, [gen_prefix] answer,
        few-shot delimiter."""
        text = _doc_value(config, "doc_to_text", doc, where, fewshot.get("doc_to_text"))
        answer = _doc_value(config, "doc_to_target", doc, where, fewshot.get("doc_to_target"))
        choices = (_doc_value(config, "doc_to_choice", doc, where, fewshot.get("doc_to_choice"))
                   if fewshot.get("doc_to_choice") or has_choices else None)
        if isinstance(answer, int) and choices:
            answer = choices[answer] if 0 <= answer < len(choices) else None
        elif isinstance(answer, list):
            answer = answer[0] if answer else None
        if answer is None or not isinstance(text, str) or not isinstance(answer, str):
            raise BadInput(f"{where}: a few-shot example's doc_to_text/doc_to_target is not text; not supported")
        before = prefix(doc, fewshot.get("gen_prefix", config.get("gen_prefix")), where)
        delimiter = fewshot.get("target_delimiter", config.get("target_delimiter", " "))
        if answer == "":
            return text + (delimiter if _needs_space(text, before) else "") + before
        if before:
            answer = before + ("" if not answer or before[-1].isspace() or answer[0].isspace() else " ") + answer
        return (text + (delimiter if not before or _needs_space(text, before) else "") + answer
                + fewshot.get("fewshot_delimiter", config.get("fewshot_delimiter", "\n\n")))

    def make(doc: dict[str, Any], index: int, where: str) -> dict[str, Any]:
        here = f"{where} (from {task_file})"
        row: dict[str, Any] = {"id": f"{probe}-{index}"}
        target = _doc_value(config, "doc_to_target", doc, here)
        if isinstance(target, list):
            raise BadInput(f"{here}: doc_to_target gives several gold answers; not supported")
        if output_type == "loglikelihood_rolling":
            row["text"] = str(target)
            return row
        text = _doc_value(config, "doc_to_text", doc, here)
        if isinstance(text, int):
            raise BadInput(f"{here}: doc_to_text gives a choice index (a multiple-input task such as winogrande); "
                           "not supported")
        description = config.get("description")
        description_text = (doc[description] if description in doc
                            else render(description, doc, f"{here}: description")) if description else ""
        shown = sampler.sample(shots, doc if leave_out else None)
        before = prefix(doc, config.get("gen_prefix"), here)
        delimiter = config.get("target_delimiter", " ") if _needs_space(str(text), before) else ""
        row["prompt"] = (str(description_text) + "".join(example(shot, here) for shot in shown) + str(text)
                         + delimiter + before)
        choices = [str(c) for c in _doc_value(config, "doc_to_choice", doc, here)] if has_choices else None
        if kind == "choice":
            row["choices"] = choices
            row["target"] = target
        elif choices is not None and isinstance(target, int) and 0 <= target < len(choices):
            row["target"] = choices[target]  # lm-eval: with choices, doc_to_target is an index into them
        else:
            row["target"] = str(target)
        if reads_choices:
            row["choices"] = row_choices(doc, here)
        return row

    return make
