"""The content-addressed result cache: per-item scores kept on disk, keyed by what decides them.

In CI only the candidate changes between runs, so the base's scores are worth
keeping. A result is stored under two hashes: the *model key* (weights
fingerprint, adapter fingerprint or "adapter switched off", dtype, device type and
:data:`ENGINE_VERSION`) and the *item key* (the probe settings that decide a score
plus the item's own fields). Any change to either gives a new key, so a stale
score is never reused; bump :data:`ENGINE_VERSION` whenever scoring changes.

Items are scored in fixed chunks (:func:`chunks`) that depend only on the probe,
and each chunk is written as soon as it is done, in one SQLite transaction (WAL
mode, safe with several writers). A run killed half-way therefore resumes from
its finished chunks, and those chunks are exactly the batches an uncached run
scores, so a resumed run gives the same numbers as one that never stopped.
The same chunks are the unit of data-parallel sharding (:mod:`forgetcheck.models.parallel`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import sqlite3
import time
from pathlib import Path
from typing import Callable

from forgetcheck.models import parallel
from forgetcheck.suites.asking import ProbeScores, probe_scores, score_probe, use_chat
from forgetcheck.suites.suite import Item, Probe, Suite

# Bump when a change to scoring, batching or chunking changes any stored number.
# 2: contexts of a batch share their common start, continuations run unpadded in equal-length
#    groups, batches stop at 10% padding; an fp32 LoRA candidate is scored on merged weights.
ENGINE_VERSION = "2"
# Items per chunk: the unit of batching, writing to the cache and sharding across processes.
CHUNK_ITEMS = 128
# The per-item values each kind needs to rebuild its probe's summary numbers.
REQUIRED_VALUES = {"choice": ("acc", "acc_norm"), "perplexity": ("logprob", "n_tokens"), "generate": (),
                   # label-free drift (forgetcheck.workflows.label_free): the base's samples, and a pair's KL results
                   "samples": (), "drift": ()}


def default_root() -> Path:
    """FORGETCHECK_CACHE, or ~/.cache/forgetcheck; results live in its ``results/`` folder."""
    from forgetcheck.demo.run import cache_dir

    return cache_dir()


def model_key(resolved: str, *, adapter: str | None, adapter_disabled: bool, dtype: str, device: str,
              label: str = "", batch_tokens: int | None = None) -> dict:
    """Everything about the model side that decides a score, as a dict with its hash in ``key``.

    ``label`` (the spec as the user typed it) only names the model in ``cache info``.

    The base pass of an adapter comparison runs with the adapter switched off, so
    its key names no adapter, only that one was switched off: the base's cache
    then survives every new adapter.

    ``batch_tokens`` is an explicit ``--batch-tokens`` (None: the device type's
    default budget, which the device field already decides). It is part of the key
    because the budget decides which items share a batch, and batch composition
    moves the last digits of a log-likelihood: a base cached under one budget and a
    candidate scored under another would no longer be computed in the same batches,
    and numeric noise could show up as a fake flip. A new budget costs one fresh
    base pass, never a wrong pairing.
    """
    fields = {"model": resolved, "adapter": None if adapter_disabled else adapter,
              "adapter_disabled": adapter_disabled, "dtype": dtype, "device": device.split(":")[0],
              "engine": ENGINE_VERSION, "batch_tokens": batch_tokens}
    return {**fields, "key": content_hash(fields), "label": label}


# Probe fields that never change a score; every other field (kind, metric, max_tokens,
# stop, match, target_delimiter, and any added later) is part of the item key.
NOT_SCORING = ("name", "items", "source", "info", "chat_template")


def item_key(probe: Probe, item: Item, chat: bool) -> str:
    """Hash of the probe settings that decide this item's score, and the item itself.

    ``chat`` is whether the chat template was applied (the template's text belongs
    to the tokenizer, so to the model key).
    """
    settings = {f.name: getattr(probe, f.name) for f in dataclasses.fields(probe) if f.name not in NOT_SCORING}
    if settings.get("harness") is None:  # added later: only lm-eval probes carry it, older keys stay valid
        settings.pop("harness", None)
    return content_hash([settings, chat, dataclasses.asdict(item)])


def content_hash(value) -> str:
    payload = json.dumps(value, sort_keys=True, ensure_ascii=False, default=list)
    return hashlib.sha256(payload.encode()).hexdigest()


def chunks(probe: Probe) -> list[list[int]]:
    """The probe's items cut into chunks of similar length, longest first; depends only on the probe.

    Sorting by text length before cutting keeps each chunk's batches nearly free of padding.
    """
    def size(k: int) -> int:
        item = probe.items[k]
        return len(item.prompt) + sum(len(c) for c in item.choices) + len(item.text)

    order = sorted(range(len(probe.items)), key=lambda k: (-size(k), k))
    return [sorted(order[i:i + CHUNK_ITEMS]) for i in range(0, len(order), CHUNK_ITEMS)]


class ResultCache:
    """Per-item results in ``ROOT/results/results.sqlite``.

    Reading problems never stop a comparison: an unreadable database or a
    malformed entry is reported once, in one line, through ``warn`` and treated
    as a miss.
    """

    def __init__(self, root: str | Path | None = None, warn: Callable[[str], None] | None = None):
        self.root = Path(root).expanduser() if root else default_root()
        self.path = self.root / "results" / "results.sqlite"
        self.warn = warn or (lambda message: None)
        self.broken = False
        self._warned: set[str] = set()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=60)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE IF NOT EXISTS results (model TEXT, item TEXT, record TEXT, "
                   "PRIMARY KEY (model, item)) WITHOUT ROWID")
        db.execute("CREATE TABLE IF NOT EXISTS models (model TEXT PRIMARY KEY, label TEXT, resolved TEXT, "
                   "adapter TEXT, fields TEXT, created REAL)")
        return db

    def _unreadable(self, exc: Exception) -> None:
        self.broken = True
        self._note(f"result cache {self.path} is unreadable ({exc}); scoring without it. "
                   "`forgetcheck cache clear` starts a fresh one")

    def _note(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self.warn(message)

    def get_many(self, model: str, keys: list[str], kind: str) -> dict[str, dict]:
        """The stored, well-formed records among ``keys``; malformed ones count as misses."""
        if self.broken or not keys:
            return {}
        found: dict[str, dict] = {}
        try:
            with self._connect() as db:
                for start in range(0, len(keys), 500):
                    part = keys[start:start + 500]
                    rows = db.execute(f"SELECT item, record FROM results WHERE model = ? AND item IN "
                                      f"({','.join('?' * len(part))})", [model, *part]).fetchall()
                    found.update(rows)
        except sqlite3.Error as exc:
            self._unreadable(exc)
            return {}
        records = {}
        for key, text in found.items():
            record = parse_record(text, kind)
            if record is None:
                self._note(f"result cache {self.path}: ignored a malformed entry (item {key[:12]}); "
                           "it is scored again")
            else:
                records[key] = record
        return records

    def put_many(self, model: dict, records: dict[str, dict]) -> None:
        """Store one chunk's records in a single transaction: all of them or none."""
        if self.broken or not records:
            return
        try:
            with self._connect() as db:
                db.execute("INSERT OR IGNORE INTO models VALUES (?, ?, ?, ?, ?, ?)",
                           (model["key"], model["label"], model["model"], model["adapter"], json.dumps(model), time.time()))
                db.executemany("INSERT OR REPLACE INTO results VALUES (?, ?, ?)",
                               [(model["key"], key, json.dumps(r)) for key, r in records.items()])
        except sqlite3.Error as exc:
            self._unreadable(exc)

    def info(self) -> dict:
        """Location, size, number of entries and entries per model (by the name it was given)."""
        files = [p for p in self.path.parent.glob(self.path.name + "*") if p.is_file()]
        info = {"location": str(self.path), "size_bytes": sum(p.stat().st_size for p in files), "entries": 0,
                "models": []}
        if not self.path.exists():
            return info
        try:
            with self._connect() as db:
                info["entries"] = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
                rows = db.execute("SELECT m.label, m.fields, COUNT(r.item) FROM models m JOIN results r "
                                  "ON r.model = m.model GROUP BY m.model ORDER BY m.label").fetchall()
        except sqlite3.Error as exc:
            info["error"] = str(exc)
            return info
        for label, fields, count in rows:
            fields = json.loads(fields)
            info["models"].append({"label": label, "resolved": fields["model"], "adapter": fields["adapter"],
                                   "adapter_disabled": fields["adapter_disabled"], "dtype": fields["dtype"],
                                   "device": fields["device"], "engine": fields["engine"], "entries": count})
        return info

    def clear(self, fingerprints: list[str] | None = None, label: str | None = None) -> int:
        """Delete every entry, or those of models with one of ``fingerprints`` (weights or adapter) or ``label``.

        Returns the number of entries deleted. Clearing everything removes the
        database files, so it also recovers from a corrupt database.
        """
        if fingerprints is None and label is None:
            count = 0
            try:
                with self._connect() as db:
                    count = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
            except sqlite3.Error:
                pass
            for file in self.path.parent.glob(self.path.name + "*"):
                file.unlink(missing_ok=True)
            return count
        wanted = list(fingerprints or [])
        marks = ",".join("?" * len(wanted)) or "NULL"
        with self._connect() as db:
            models = [row[0] for row in db.execute(
                f"SELECT model FROM models WHERE resolved IN ({marks}) OR adapter IN ({marks}) OR label = ?",
                [*wanted, *wanted, label])]
            count = 0
            for model in models:
                count += db.execute("DELETE FROM results WHERE model = ?", (model,)).rowcount
                db.execute("DELETE FROM models WHERE model = ?", (model,))
        return count


def parse_record(text: str, kind: str) -> dict | None:
    """A stored record if it is well-formed for ``kind``, else None."""
    try:
        record = json.loads(text)
        score, answer, values = record["score"], record["answer"], record["values"]
        ok = (isinstance(score, (int, float)) and math.isfinite(score) and (answer is None or isinstance(answer, str))
              and isinstance(values, dict) and all(isinstance(values.get(name), (int, float))
                                                   for name in REQUIRED_VALUES[kind]))
    except (ValueError, KeyError, TypeError):
        return None
    return record if ok else None


@dataclasses.dataclass
class SuiteCounts:
    """How many items came from the cache and how many were scored, for the timings."""

    cached: int = 0
    scored: int = 0  # by all processes together
    scored_here: int = 0  # by this process, under data-parallel scoring its share


def score_suite(suite: Suite, scorer, chat_override: str | None, cache: ResultCache | None, model: dict,
                counts: SuiteCounts | None = None) -> dict[str, ProbeScores]:
    """Every probe's scores, taking what the cache has and scoring the rest chunk by chunk.

    Chunks with a missing item are scored (only their missing items) and stored
    as each finishes. Under ``torchrun``/``accelerate launch`` each process scores
    every n-th such chunk and the records are gathered, so every process returns
    the same scores as a single process would.
    """
    counts = counts if counts is not None else SuiteCounts()
    keys, known, todo = {}, {}, []
    for probe in suite.probes:
        chat = use_chat(probe, scorer, chat_override) if probe.kind != "perplexity" else False
        keys[probe.name] = [item_key(probe, item, chat) for item in probe.items]
    # One process reads the cache and shares what it found, so every process plans the same chunks.
    if parallel.is_main():
        known = {p.name: (cache.get_many(model["key"], keys[p.name], p.kind) if cache else {}) for p in suite.probes}
    known = parallel.broadcast(known)
    for probe in suite.probes:
        for chunk in chunks(probe):
            missing = [k for k in chunk if keys[probe.name][k] not in known[probe.name]]
            if missing:
                todo.append((probe, missing))
    fresh: dict[str, dict[str, dict]] = {p.name: {} for p in suite.probes}
    for probe, missing in parallel.shard(todo):
        counts.scored_here += len(missing)
        part = dataclasses.replace(probe, items=[probe.items[k] for k in missing])
        scored = score_probe(part, scorer, chat_override)
        values = scored.values or [{} for _ in missing]
        records = {keys[probe.name][k]: {"score": s, "answer": a, "values": v}
                   for k, s, a, v in zip(missing, scored.scores, scored.answers, values)}
        if cache:
            cache.put_many(model, records)
        fresh[probe.name].update(records)
    for part in parallel.gather(fresh):
        for name, records in part.items():
            known[name].update(records)
    results = {}
    for probe in suite.probes:
        records = [known[probe.name][key] for key in keys[probe.name]]
        results[probe.name] = probe_scores(probe, [r["score"] for r in records], [r["answer"] for r in records],
                                           [r["values"] for r in records])
    scored = sum(len(missing) for _, missing in todo)
    counts.scored += scored
    counts.cached += sum(len(p.items) for p in suite.probes) - scored
    return results
