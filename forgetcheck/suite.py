"""Suites, probes and items: reading them from disk and refusing bad ones clearly.

A suite is a YAML file naming probes; a probe is a JSONL file of items with stable
ids. Each probe is one capability and one kind (``choice``, ``generate`` or
``perplexity``). Nothing here knows about models: probes become scorer requests in
:mod:`forgetcheck.probing`. Every error names the file (and line) and what to do.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from forgetcheck.errors import BadInput

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

    def fingerprint(self) -> str:
        """Hash of everything that decides this probe's scores (items and settings)."""
        payload = json.dumps(
            [self.kind, self.metric, self.chat_template, self.max_tokens, list(self.stop), self.match,
             [item.__dict__ for item in self.items]],
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


def builtin_suites() -> dict[str, Path]:
    """Names of the suites shipped with forgetcheck, mapped to their suite.yaml."""
    root = Path(str(importlib.resources.files("forgetcheck.probes")))
    return {p.parent.name: p for p in sorted(root.glob("*/suite.yaml"))}


def load_suite(name_or_path: str) -> Suite:
    """A built-in suite by name (``core``) or a suite YAML / single probe JSONL by path."""
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
    return _read_suite_yaml(path)


def _read_suite_yaml(path: Path) -> Suite:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise BadInput(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', None) or exc}); fix the file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read suite ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("probes"), list):
        raise BadInput(f"{path}: a suite needs a 'probes:' list; see probes/core/suite.yaml for the format")
    if not data["probes"]:
        raise BadInput(f"{path}: the suite is empty; add at least one probe under 'probes:'")
    probes = [_read_probe(path, i, entry) for i, entry in enumerate(data["probes"])]
    names = [p.name for p in probes]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise BadInput(f"{path}: probe names must be unique; repeated: {', '.join(dupes)}")
    return Suite(name=str(data.get("name") or path.parent.name), probes=probes, source=str(path))


def _read_probe(suite_path: Path, index: int, entry: Any) -> Probe:
    where = f"{suite_path}: probes[{index}]"
    if not isinstance(entry, dict):
        raise BadInput(f"{where}: each probe is a mapping with name, file and kind")
    for key in ("name", "file", "kind"):
        if not entry.get(key):
            raise BadInput(f"{where}: missing field '{key}'")
    kind = entry["kind"]
    if kind not in KINDS:
        raise BadInput(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    chat = str(entry.get("chat_template", "auto"))
    if chat not in CHAT_MODES:
        raise BadInput(f"{where}: chat_template {chat!r} is not one of {', '.join(CHAT_MODES)}")
    default_metric = {"choice": "acc", "generate": "exact_match", "perplexity": "loglik_per_token"}[kind]
    match = str(entry.get("match", "exact"))
    if kind == "generate":
        if match not in ("exact", "regex"):
            raise BadInput(f"{where}: match {match!r} is not one of exact, regex")
        default_metric = "regex_match" if match == "regex" else "exact_match"
    metric = str(entry.get("metric", default_metric))
    if kind == "choice" and metric not in ("acc", "acc_norm"):
        raise BadInput(f"{where}: metric {metric!r} is not one of acc, acc_norm")
    stop = entry.get("stop", ["\n"])
    if isinstance(stop, str):
        stop = [stop]
    file = suite_path.parent / entry["file"]
    items = read_items(file, kind, match)
    info = {k: entry[k] for k in ("description", "provenance", "license") if k in entry}
    return Probe(name=str(entry["name"]), kind=kind, items=items, metric=metric, chat_template=chat,
                 max_tokens=int(entry.get("max_tokens", 32)), stop=tuple(stop), match=match,
                 source=str(file), info=info)


def read_items(path: Path, kind: str, match: str = "exact") -> list[Item]:
    """Read and check a probe's JSONL file; errors name the file and line."""
    if not path.exists():
        raise BadInput(f"{path}: probe file not found; check the 'file:' entry in the suite")
    items: list[Item] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BadInput(f"{where}: not valid JSON ({exc.msg} at column {exc.colno}); fix that line") from None
            if not isinstance(row, dict):
                raise BadInput(f"{where}: each line must be a JSON object")
            item = _check_item(row, kind, match, where)
            if item.id in seen:
                raise BadInput(f"{where}: id {item.id!r} is used twice; ids must be unique and stable")
            seen.add(item.id)
            items.append(item)
    if not items:
        raise BadInput(f"{path}: the probe has no items; add one JSON object per line")
    return items


def _check_item(row: dict[str, Any], kind: str, match: str, where: str) -> Item:
    if not isinstance(row.get("id"), (str, int)) or row.get("id") == "":
        raise BadInput(f"{where}: missing field 'id' (every item needs a stable id)")
    for key in REQUIRED[kind]:
        if key not in row:
            raise BadInput(f"{where}: missing field '{key}' (a {kind} item needs {', '.join(REQUIRED[kind])})")
    common = {"id": str(row["id"]), "subcategory": row.get("subcategory")}
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
        return Item(prompt=row["prompt"], choices=tuple(choices), target=target, **common)
    regex = row.get("regex")
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
    return Item(prompt=row["prompt"], target=row.get("target"), regex=regex, **common)
