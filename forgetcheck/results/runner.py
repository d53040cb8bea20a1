"""Scoring a suite through the result cache: take what is stored, score the rest chunk by chunk.

Items are scored in fixed chunks (:func:`chunks`) that depend only on the probe,
and each chunk is written to the cache as soon as it is done. A run killed half-way
therefore resumes from its finished chunks, and those chunks are exactly the batches
an uncached run scores, so a resumed run gives the same numbers as one that never
stopped. The same chunks are the unit of data-parallel sharding
(:mod:`forgetcheck.models.parallel`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading

from forgetcheck.models import parallel
from forgetcheck.results.keys import item_key
from forgetcheck.results.store import ResultCache
from forgetcheck.suites.asking import ProbeScores, probe_scores, score_probe, use_chat
from forgetcheck.suites.suite import Probe, Suite

# Items per chunk: the unit of batching, writing to the cache and sharding across processes.
CHUNK_ITEMS = 128


def chunks(probe: Probe) -> list[list[int]]:
    """The probe's items cut into chunks of similar length, longest first; depends only on the probe.

    Sorting by text length before cutting keeps each chunk's batches nearly free of padding.
    """
    order = sorted(range(len(probe.items)), key=lambda k: (-_item_chars(probe.items[k]), k))
    return [sorted(order[i:i + CHUNK_ITEMS]) for i in range(0, len(order), CHUNK_ITEMS)]


@dataclasses.dataclass
class SuiteCounts:
    """How many items came from the cache and how many were scored, for the timings."""

    cached: int = 0
    scored: int = 0  # by all processes together
    scored_here: int = 0  # by this process, under data-parallel scoring its share


def item_keys(suite: Suite, scorer, chat_override: str | None) -> dict[str, list[str]]:
    """Each probe's cache keys, item by item, as the scorer would ask its items."""
    keys = {}
    for probe in suite.probes:
        chat = use_chat(probe, scorer, chat_override) if probe.kind != "perplexity" else False
        keys[probe.name] = [item_key(probe, item, chat) for item in probe.items]
    return keys


def score_suite(suite: Suite, scorer, chat_override: str | None, store: ResultCache | None, model_key: dict,
                counts: SuiteCounts | None = None) -> dict[str, ProbeScores]:
    """Every probe's scores, taking what the cache has and scoring the rest chunk by chunk.

    Chunks with a missing item are scored (only their missing items) and stored
    as each finishes. Under ``torchrun``/``accelerate launch`` each process scores
    every n-th such chunk and the records are gathered, so every process returns
    the same scores as a single process would.
    """
    counts = counts if counts is not None else SuiteCounts()
    keys, known, todo = item_keys(suite, scorer, chat_override), {}, []
    # One process reads the cache and shares what it found, so every process plans the same chunks.
    if parallel.is_main():
        known = {p.name: (store.get_many(model_key["key"], keys[p.name], p.kind) if store else {})
                 for p in suite.probes}
    known = parallel.broadcast(known)
    for probe in suite.probes:
        for chunk in chunks(probe):
            missing = [k for k in chunk if keys[probe.name][k] not in known[probe.name]]
            if missing:
                todo.append((probe, missing))
    fresh: dict[str, dict[str, dict]] = {p.name: {} for p in suite.probes}
    mine = parallel.shard(todo)
    workers = parallel.cpu_workers(getattr(scorer, "device", "")) if getattr(scorer, "thread_safe", False) else 1
    if workers > 1:  # the costliest chunks first, so the two workers finish close together
        mine.sort(key=lambda task: -_chunk_cost(*task))
    bars = _CapabilityBars(scorer, mine)

    def score_chunk(task):
        probe, missing = task
        with bars.chunk(probe, len(missing)):
            return score_probe(dataclasses.replace(probe, items=[probe.items[k] for k in missing]), scorer,
                               chat_override)

    for (probe, missing), scored in parallel.in_threads(mine, score_chunk, workers):
        counts.scored_here += len(missing)
        values = scored.values or [{} for _ in missing]
        records = {keys[probe.name][k]: {"score": s, "answer": a, "values": v}
                   for k, s, a, v in zip(missing, scored.scores, scored.answers, values)}
        if store:
            store.put_many(model_key, records)
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


def _chunk_cost(probe: Probe, missing: list[int]) -> int:
    """A rough cost for ordering chunks, in characters read: the costliest go first so two workers end together.

    Reading costs about the same per character for every kind; a generated token costs about
    five characters' worth (one decoding step per token). Measured on core-quick with SmolLM2,
    this puts the chunks in nearly the order of their CPU time; counting items did not
    (100 one-word morphology items ran in 1 s, 67 reading passages in 22 s).
    """
    chars = sum(_item_chars(probe.items[k]) for k in missing)
    return chars + (5 * probe.max_tokens * len(missing) if probe.kind == "generate" else 0)


def _item_chars(item) -> int:
    """The characters an item gives the model to read: prompt, choices and text."""
    return len(item.prompt) + sum(len(c) for c in item.choices) + len(item.text)


class _CapabilityBars:
    """One progress bar per capability across all its chunks, where the scorer can report into one.

    Scorers without ``reporting_to`` (the seam does not require it) keep their own bars.
    Chunks scored side by side (:func:`forgetcheck.models.parallel.in_threads`) each
    report into their capability's bar; a bar closes when its last chunk is done.
    """

    def __init__(self, scorer, todo: list[tuple[Probe, list[int]]]):
        self.scorer = scorer
        self.left: dict[str, int] = {}
        for probe, missing in todo:
            self.left[probe.name] = self.left.get(probe.name, 0) + len(missing)
        self.bars: dict[str, object] = {}
        self.lock = threading.Lock()

    @contextlib.contextmanager
    def chunk(self, probe: Probe, items: int):
        report = getattr(self.scorer, "reporting_to", None)
        if report is None:
            yield
            return
        with self.lock:
            if probe.name not in self.bars:
                self.bars[probe.name] = self.scorer.progress_bar(self.left[probe.name], probe.name)
            bar = self.bars[probe.name]
        with report(bar, items):
            yield
        with self.lock:
            self.left[probe.name] -= items
            if not self.left[probe.name]:
                self.bars.pop(probe.name).close()
