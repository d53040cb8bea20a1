"""Suites, probes and items: reading them from disk and refusing bad ones clearly.

A suite is a YAML file naming probes; a probe is a JSONL file of items with stable
ids. Each probe is one capability and one kind (``choice``, ``generate`` or
``perplexity``). Nothing here knows about models: probes become scorer requests in
:mod:`forgetcheck.suites.asking`. Every error names the file (and line) and what to do.
Items may also come from a dataset or an lm-eval task (:mod:`forgetcheck.suites.sources`).
Loading stops at the first problem; :func:`validate_suite` walks the same code and
collects them all.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.resources
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from forgetcheck.errors import BadInput
from forgetcheck.suites.paths import inside_suite, reading_inside
from forgetcheck.suites import sources
from forgetcheck.suites.dataset_ids import dataset_info
from forgetcheck.suites.lm_eval_tasks import allowing_task_code
from forgetcheck.suites.checkers import check_problem, describe

KINDS = ("choice", "generate", "perplexity")
CHAT_MODES = ("auto", "on", "off")
REQUIRED = {"choice": ("prompt", "choices", "target"), "generate": ("prompt",), "perplexity": ("text",)}


@dataclass(frozen=True)
class Item:
    """One probe item. ``target`` is a choice index for choice items, text otherwise."""

    id: str
    prompt: str = ""
    choices: tuple[str, ...] = ()
    target: Any = None
    regex: str | None = None
    text: str = ""
    subcategory: str | None = None
    n_options: int | None = None  # choice items: len(choices), checked at load time
    difficulty: str | None = None  # a free-text note, e.g. "two-digit operands"
    pair: str | None = None  # id of the same fact asked in the other kind (choice <-> generate)
    check: dict[str, Any] | None = None  # generate items under `match: check`; see forgetcheck.suites.checkers


@dataclass
class Probe:
    """One capability: its items and how to ask them."""

    name: str
    kind: str
    items: list[Item]
    metric: str = ""
    chat_template: str = "auto"
    max_tokens: int = 32
    stop: tuple[str, ...] = ("\n",)
    match: str = "exact"
    source: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    # Text between a choice prompt and each choice; None: a space unless the prompt
    # ends in whitespace, nothing after a chat template. lm-eval tasks set it.
    target_delimiter: str | None = None
    # How lm-eval asks and scores an imported task, as plain data (output_type, filters,
    # exact_match options); None for forgetcheck's own probes. See forgetcheck.suites.asking.
    harness: dict[str, Any] | None = None

    def fingerprint(self) -> str:
        """Hash of everything that decides this probe's scores (items and settings)."""
        # target_delimiter and harness join the hash only when set, so older probes keep their hashes.
        later = [] if self.target_delimiter is None else [self.target_delimiter]
        later += [] if self.harness is None else [self.harness]
        payload = json.dumps(
            [self.kind, self.metric, self.chat_template, self.max_tokens, list(self.stop), self.match,
             [item.__dict__ for item in self.items], *later],
            sort_keys=True, ensure_ascii=False, default=list,
        )
        return hashlib.sha256(payload.encode()).hexdigest()


@dataclass
class Suite:
    name: str
    probes: list[Probe]
    source: str = ""

    def fingerprint(self) -> str:
        return hashlib.sha256("".join(p.fingerprint() for p in self.probes).encode()).hexdigest()


def builtin_root() -> Path:
    """The folder of the suites shipped with forgetcheck."""
    try:
        return Path(str(importlib.resources.files("forgetcheck.probes")))
    except ModuleNotFoundError:  # a source checkout on sys.path, not installed: probes/ sits beside the package
        return Path(__file__).resolve().parents[2] / "probes"


def builtin_suites() -> dict[str, Path]:
    """Names of the suites shipped with forgetcheck, mapped to their suite.yaml."""
    return {p.parent.name: p for p in sorted(builtin_root().glob("*/suite.yaml"))}


LM_EVAL_PREFIX = "lm-eval:"


def load_suite(name_or_path: str, *, files_anywhere: bool = False, task_code: bool = False) -> Suite:
    """A built-in suite by name (``core``), a suite YAML / lm-eval task YAML by path, or
    ``lm-eval:TASK[,TASK...]`` (tasks, groups or tags of an installed lm-eval).

    The suite reads only files inside its own folder (:mod:`forgetcheck.suites.paths`)
    unless ``files_anywhere`` (``--allow-files-outside-suite``); its lm-eval tasks run
    their own Python only with ``task_code`` (``--allow-task-code``,
    :mod:`forgetcheck.suites.lm_eval_tasks`).
    """
    source = _suite_source(name_or_path)
    with reading_inside(_own_folder(source[0]), anywhere=files_anywhere), allowing_task_code(task_code):
        return _read_suite_yaml(*source)


def validate_suite(name_or_path: str, *, files_anywhere: bool = False,
                   task_code: bool = False) -> tuple[Suite | None, list[str]]:
    """Read a suite the way :func:`load_suite` does, but note every problem instead of stopping at the first."""
    problems: list[str] = []
    try:
        source = _suite_source(name_or_path)
        with reading_inside(_own_folder(source[0]), anywhere=files_anywhere), allowing_task_code(task_code):
            suite = _read_suite_yaml(*source, problems)
    except BadInput as exc:  # a problem that leaves nothing further to check (unreadable YAML, ...)
        return None, problems + [str(exc)]
    return suite, problems


def _own_folder(suite_file: Path) -> Path:
    """The folder a suite may read: its own, or for a built-in suite all of forgetcheck's suites
    (``core-quick`` reuses ``core``'s files)."""
    builtin = builtin_root().resolve()
    return builtin if suite_file.resolve().is_relative_to(builtin) else suite_file.parent


@contextlib.contextmanager
def collecting(problems: list[str] | None):
    """Loading raises the first problem; validating (a ``problems`` list) notes it and goes on."""
    try:
        yield
    except BadInput as exc:
        if problems is None:
            raise
        problems.append(str(exc))


def suite_path(name_or_path: str) -> Path:
    """The suite YAML a name or path stands for."""
    path = Path(name_or_path)
    if path.is_dir() and (path / "suite.yaml").exists():
        path = path / "suite.yaml"
    if not path.exists():
        builtins = builtin_suites()
        if name_or_path in builtins:
            path = builtins[name_or_path]
        else:
            known = ", ".join(builtins) or "none"
            raise BadInput(f"suite {name_or_path!r}: no such built-in suite or file (built-in suites: {known})")
    if path.suffix == ".jsonl":
        raise BadInput(f"{path}: a probe file needs a suite YAML naming its kind; see probes/core/suite.yaml")
    return path


def _suite_source(name_or_path: str) -> tuple[Path, Any, dict[str, int]]:
    """The suite file, its data and the line of each key; lm-eval registry names become a suite of their YAMLs."""
    if name_or_path.startswith(LM_EVAL_PREFIX):
        names = [n.strip() for n in name_or_path[len(LM_EVAL_PREFIX):].split(",") if n.strip()]
        tasks = sources.lm_eval_registry(names, f"--suite {name_or_path}")
        # The spec stands in for a suite file in messages; the task paths are absolute.
        return Path(name_or_path), {"name": name_or_path, "probes": [{"lm_eval_task": str(t)} for t in tasks]}, {}
    path = suite_path(name_or_path)
    return (path, *sources.read_yaml(path))


def _read_suite_yaml(path: Path, data: Any, lines: dict[str, int], problems: list[str] | None = None) -> Suite:
    if sources.is_lm_eval_task(data):
        # An lm-eval task YAML given as the suite: a one-probe suite importing it.
        data, lines = {"name": path.stem, "probes": [{"lm_eval_task": path.name}]}, {}
    if not isinstance(data, dict) or not isinstance(data.get("probes"), list):
        raise BadInput(f"{path}: a suite needs a 'probes:' list; see probes/core/suite.yaml for the format")
    if not data["probes"]:
        raise BadInput(f"{path}: the suite is empty; add at least one probe under 'probes:'")
    probes = []
    for i, entry in enumerate(data["probes"]):
        with collecting(problems):
            line = lines.get(f"probes[{i}]")
            where = f"{path}:{line}: probes[{i}]" if line else f"{path}: probes[{i}]"
            probes.append(_read_probe(path, where, entry, problems))
    names = [p.name for p in probes]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        with collecting(problems):
            raise BadInput(f"{path}: probe names must be unique; repeated: {', '.join(dupes)}")
    return Suite(name=str(data.get("name") or path.parent.name), probes=probes, source=str(path))


def _read_probe(suite_path: Path, where: str, entry: Any, problems: list[str] | None = None) -> Probe:
    if not isinstance(entry, dict):
        raise BadInput(f"{where}: each probe is a mapping with name, file and kind")
    if entry.get("lm_eval_task"):
        try:
            entry = sources.lm_eval_entry(entry, suite_path, where, collect=problems is not None)
        except sources.TaskRefused as refused:
            if problems is None:
                raise
            problems.extend(refused.refusals[:-1])  # validating: every refusal, the last one noted by the caller
            raise BadInput(refused.refusals[-1]) from None
    for key in ("name", "kind"):
        if not entry.get(key):
            raise BadInput(f"{where}: missing field '{key}'")
    if "rows" not in entry and bool(entry.get("file")) == bool(entry.get("dataset")):
        raise BadInput(f"{where}: give the items as 'file:' (a JSONL file) or 'dataset:' (a Hugging Face dataset), "
                       "or import them with 'lm_eval_task:'")
    kind = entry["kind"]
    if kind not in KINDS:
        raise BadInput(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    chat = str(entry.get("chat_template", "auto"))
    if chat not in CHAT_MODES:
        raise BadInput(f"{where}: chat_template {chat!r} is not one of {', '.join(CHAT_MODES)}")
    default_metric = {"choice": "acc", "generate": "exact_match", "perplexity": "loglik_per_token"}[kind]
    match = str(entry.get("match", "exact"))
    if kind == "generate":
        if match not in ("exact", "regex", "check"):
            raise BadInput(f"{where}: match {match!r} is not one of exact, regex, check")
        default_metric = {"regex": "regex_match", "check": "check_pass"}.get(match, "exact_match")
    metric = str(entry.get("metric", default_metric))
    if kind == "choice" and metric not in ("acc", "acc_norm"):
        raise BadInput(f"{where}: metric {metric!r} is not one of acc, acc_norm")
    stop = entry.get("stop", ["\n"])
    if isinstance(stop, str):
        stop = [stop]
    delimiter = entry.get("target_delimiter")
    if delimiter is not None and not isinstance(delimiter, str):
        raise BadInput(f"{where}: target_delimiter must be text, e.g. \" \"")
    if entry.get("file"):
        file = inside_suite(suite_path.parent / str(entry["file"]), where)
        items = read_items(file, kind, match, problems)
    else:
        items, origin = _dataset_items(entry, kind, match, suite_path, where, problems)
        file = Path(origin)
    if "ids" in entry:
        items = _select_items(items, entry["ids"], where, file)
    info = {k: entry[k] for k in ("description", "provenance", "license", "note") if k in entry}
    # The public dataset the items came from, for the report and the model card (CapabilityResult.dataset).
    found = entry.get("dataset_info") if "rows" in entry else (
        dataset_info(entry["dataset"], suite_path.parent) if isinstance(entry.get("dataset"), dict) else None)
    if found:
        info["dataset"] = found
    if "chance" in entry:
        # The score of a trivial answerer, for probes where that is not 1/k (see the report's "at chance").
        chance = entry["chance"]
        if isinstance(chance, bool) or not isinstance(chance, (int, float)) or not 0 <= chance < 1:
            raise BadInput(f"{where}: chance must be a number from 0 to below 1, the score of a trivial answerer")
        info["chance"] = float(chance)
    return Probe(name=str(entry["name"]), kind=kind, items=items, metric=metric, chat_template=chat,
                 max_tokens=int(entry.get("max_tokens", 32)), stop=tuple(stop), match=match,
                 source=str(file), info=info, target_delimiter=delimiter, harness=entry.get("harness"))


ITEM_FIELDS = frozenset(f.name for f in dataclasses.fields(Item))


def _dataset_items(entry: dict[str, Any], kind: str, match: str, suite_path: Path, where: str,
                   problems: list[str] | None) -> tuple[list[Item], str]:
    """A dataset-backed (or lm-eval) probe entry's items, checked as JSONL items are, and where they came from."""
    if "rows" in entry:  # an lm-eval task, already turned into rows by sources.lm_eval_entry
        rows, found, origin = entry["rows"], list(entry["problems"]), entry["source"]
    else:
        rows, found, origin = sources.dataset_rows(entry, kind, ITEM_FIELDS, suite_path, where,
                                                   collect=problems is not None)
    items: list[Item] = []
    seen: set[str] = set()
    for row_where, row in rows:
        with collecting(found if problems is not None else None):
            add_item(items, seen, row, kind, match, row_where)
    if problems is not None:
        distinct = _once_per_kind(found)
        problems.extend(distinct[:20])
        if len(distinct) > 20:
            problems.append(f"{where}: {len(distinct) - 20} more problems in {entry['name']}'s rows, not shown")
    if not items and not found:
        raise BadInput(f"{where}: {origin} gave no rows; check the split and data_files")
    return items, origin


def _once_per_kind(found: list[str]) -> list[str]:
    """A mapping mistake fails every row the same way: report it once, with how many rows it hit."""
    first: dict[str, str] = {}
    count: dict[str, int] = {}
    for message in found:
        key = re.sub(r" row \d+: ", " row N: ", message)
        first.setdefault(key, message)
        count[key] = count.get(key, 0) + 1
    return [first[k] + (f" (and {count[k] - 1} more rows like it)" if count[k] > 1 else "") for k in first]


def reference_probe(path: str | Path) -> Probe:
    """A perplexity probe from a plain-text file: one item per paragraph (blank-line separated).

    For ``compare --reference FILE``: drift on text the user cares about, with no
    labels, reported as the candidate/base perplexity ratio with an interval.
    """
    file = Path(path).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"--reference {path}: no such file; give a UTF-8 text file of paragraphs") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"--reference {path}: cannot read it as UTF-8 text ({type(exc).__name__})") from None
    paragraphs = [" ".join(block.split()) for block in text.replace("\r\n", "\n").split("\n\n")]
    items = [Item(id=f"reference-{k + 1}", text=para) for k, para in enumerate(p for p in paragraphs if p)]
    if not items:
        raise BadInput(f"--reference {path}: the file has no text; put paragraphs in it, separated by blank lines")
    return Probe(name="reference-text", kind="perplexity", items=items, metric="loglik_per_token",
                 chat_template="off", source=str(file), info={"description": f"paragraphs of {file.name}"})


def _select_items(items: list[Item], ids: Any, where: str, file: Path) -> list[Item]:
    """A fixed subset of a probe file's items, in the file's order (how core-quick reuses core's files)."""
    if not isinstance(ids, list) or not ids or not all(isinstance(i, (str, int)) for i in ids):
        raise BadInput(f"{where}: 'ids' must be a non-empty list of item ids from {file.name}")
    wanted = [str(i) for i in ids]
    known = {item.id for item in items}
    missing = [i for i in wanted if i not in known]
    if missing:
        raise BadInput(f"{where}: ids not found in {file}: {', '.join(missing[:5])}; pick ids that the file has")
    if len(set(wanted)) != len(wanted):
        raise BadInput(f"{where}: 'ids' lists an id twice; list each once")
    chosen = set(wanted)
    return [item for item in items if item.id in chosen]


def read_items(path: Path, kind: str, match: str = "exact", problems: list[str] | None = None) -> list[Item]:
    """Read and check a probe's JSONL file; errors name the file and line."""
    if not path.exists():
        raise BadInput(f"{path}: probe file not found; check the 'file:' entry in the suite")
    items: list[Item] = []
    seen: set[str] = set()
    first_line: dict[str, tuple[int, str]] = {}  # validating only: an item's content -> its first line and id
    noted = len(problems or [])
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[:exc.start].count(b"\n") + 1
        raise BadInput(f"{path}:{line}: not UTF-8 text (byte {exc.start}); a probe file is JSON lines in UTF-8") \
            from None
    except OSError as exc:
        raise BadInput(f"{path}: cannot read ({exc.strerror}); check the 'file:' entry in the suite") from None
    # Lines as a text file reads them (universal newlines), not str.splitlines, which also breaks at U+2028.
    for lineno, line in enumerate(io.StringIO(text, newline=None), 1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        with collecting(problems):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadInput(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}); fix that line") from None
            if not isinstance(row, dict):
                raise BadInput(f"{where}: each line must be a JSON object")
            add_item(items, seen, row, kind, match, where)
            if problems is not None:
                problems.extend(_repeats(items[-1], lineno, where, first_line))
    if not items and len(problems or []) == noted:
        raise BadInput(f"{path}: the probe has no items; add one JSON object per line")
    return items


def _repeats(item: Item, lineno: int, where: str, first_line: dict[str, tuple[int, str]]) -> list[str]:
    """Validation's extra checks on one item: a choice listed twice, or an item asked twice.

    Only ``probes validate`` reports these; loading for a run lets them pass, so
    imported datasets that carry repeats still run. A repeated item counts twice
    in a score, and a repeated choice makes the item ambiguous for a scorer.
    """
    found = []
    repeated = sorted({c for c in item.choices if item.choices.count(c) > 1})
    if repeated:
        found.append(f"{where}: choices {', '.join(map(repr, repeated))} appear more than once in item {item.id!r}; "
                     "make every choice different")
    # The same question with the same answer options and answer, in any choice order.
    answer = item.choices[item.target] if item.choices and isinstance(item.target, int) else item.target
    key = json.dumps([item.prompt, sorted(item.choices), answer, item.regex, item.check, item.text],
                     sort_keys=True, ensure_ascii=False, default=str)
    if key in first_line:
        line, first_id = first_line[key]
        found.append(f"{where}: item {item.id!r} repeats item {first_id!r} (line {line}): same prompt, "
                     "choices and answer; remove one or change it")
    else:
        first_line[key] = (lineno, item.id)
    return found


def add_item(items: list[Item], seen: set[str], row: dict[str, Any], kind: str, match: str, where: str) -> None:
    """Check one item row (from a JSONL line or a dataset row) and add it; ids must be unique."""
    item = _check_item(row, kind, match, where)
    if item.id in seen:
        raise BadInput(f"{where}: id {item.id!r} is used twice; ids must be unique and stable")
    seen.add(item.id)
    items.append(item)


def _check_item(row: dict[str, Any], kind: str, match: str, where: str) -> Item:
    if not isinstance(row.get("id"), (str, int)) or row.get("id") == "":
        raise BadInput(f"{where}: missing field 'id' (every item needs a stable id)")
    for key in REQUIRED[kind]:
        if key not in row:
            raise BadInput(f"{where}: missing field '{key}' (a {kind} item needs {', '.join(REQUIRED[kind])})")
    common = {"id": str(row["id"]), "subcategory": row.get("subcategory")}
    for key in ("subcategory", "difficulty", "pair"):
        if row.get(key) is not None and not isinstance(row[key], (str, int)):
            raise BadInput(f"{where}: field '{key}' must be text")
        if row.get(key) is not None:
            common[key] = str(row[key])
    if kind == "perplexity":
        if not isinstance(row["text"], str) or not row["text"].strip():
            raise BadInput(f"{where}: field 'text' must be non-empty text")
        return Item(text=row["text"], **common)
    if not isinstance(row["prompt"], str):
        raise BadInput(f"{where}: field 'prompt' must be text")
    if kind == "choice":
        choices = row["choices"]
        if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) and c for c in choices):
            raise BadInput(f"{where}: field 'choices' must be a list of at least two non-empty strings")
        target = row["target"]
        if isinstance(target, str):
            if target not in choices:
                raise BadInput(f"{where}: target {target!r} is not among the choices; make it one of them or an index")
            target = choices.index(target)
        elif not isinstance(target, int) or isinstance(target, bool) or not 0 <= target < len(choices):
            raise BadInput(f"{where}: target {target!r} is not among the choices (use an index 0..{len(choices) - 1} or the choice text)")
        n_options = row.get("n_options", len(choices))
        if n_options != len(choices) or isinstance(n_options, bool):
            raise BadInput(f"{where}: n_options is {n_options!r} but the item has {len(choices)} choices; fix one or drop n_options")
        return Item(prompt=row["prompt"], choices=tuple(choices), target=target, n_options=len(choices), **common)
    regex = row.get("regex")
    if match == "check":
        problem = check_problem(row.get("check"))
        if problem:
            raise BadInput(f"{where}: {problem}; see forgetcheck/suites/checkers.py for the check types")
        target = row.get("target", describe(row["check"]))
        return Item(prompt=row["prompt"], target=str(target), check=dict(row["check"]), **common)
    if match == "regex":
        if not isinstance(regex, str):
            raise BadInput(f"{where}: missing field 'regex' (the probe checks answers with match: regex)")
        import re

        try:
            re.compile(regex)
        except re.error as exc:
            raise BadInput(f"{where}: field 'regex' does not compile ({exc})") from None
    elif not isinstance(row.get("target"), str):
        raise BadInput(f"{where}: missing field 'target' (the expected answer text)")
    # An lm-eval generate item keeps its row's choices when its multi_choice_regex filter reads them.
    choices = row.get("choices")
    if choices is not None and not (isinstance(choices, list) and all(isinstance(c, str) for c in choices)):
        raise BadInput(f"{where}: field 'choices' must be a list of strings")
    return Item(prompt=row["prompt"], target=row.get("target"), regex=regex, choices=tuple(choices or ()), **common)
