"""Do forgotten answers come back with a few examples?

If a handful of worked examples in the prompt bring a forgotten answer back, the
knowledge was never gone — the fine-tune only lost the answer format (Zheng et al.
2025, "Spurious Forgetting"). After a run, each forgotten generation item is asked
again of the candidate with ``shots`` examples in front: other items of the same
probe that the base answered right, each followed by the base's own answer, so the
examples show exactly the format the base used. Examples are picked with a seeded
RNG per item, so reruns ask the same prompts.
"""

from __future__ import annotations

import random
from dataclasses import replace

from forgetcheck.comparison import ItemResult
from forgetcheck.results.runner import score_suite
from forgetcheck.suites.suite import Suite


def few_shot_prompt(examples: list[tuple[str, str]], prompt: str) -> str:
    """Worked examples, a blank line apart, then the question.

    >>> few_shot_prompt([("2+2=", "4")], "3+3=")
    '2+2= 4\\n\\n3+3='
    """
    shots = [f"{q}{'' if q.endswith((' ', chr(10))) else ' '}{a.strip()}" for q, a in examples]
    return "\n\n".join([*shots, prompt])


def recover(suite: Suite, items: list[ItemResult], scorer, *, shots: int = 3, seed: int = 0,
            chat_override: str | None = None, cache=None, model_key: dict | None = None) -> int:
    """Re-ask forgotten generation items with ``shots`` examples; sets ``item.recovered``. Returns how many were asked.

    The re-asked prompts are ordinary generation items, so they go through the result
    cache like any other (``cache``, ``model_key``: the candidate's key): a warm rerun asks nothing.
    """

    asked_probes, originals = [], {}
    for probe in suite.probes:
        if probe.kind != "generate" or shots <= 0:
            continue
        results = {i.item_id: i for i in items if i.capability == probe.name}
        known = [r for r in results.values() if r.base_score >= 0.5 and r.base_answer and r.base_answer.strip()]
        forgotten = [item for item in probe.items if results.get(item.id) and results[item.id].flip == "forgotten"]
        if not forgotten or len(known) < shots + 1:
            continue
        prompts = {i.id: i.prompt for i in probe.items}
        asked = []
        for item in forgotten:
            rng = random.Random(f"{seed}:{probe.name}:{item.id}")
            pool = [r for r in known if r.item_id != item.id]
            examples = [(prompts[r.item_id], r.base_answer) for r in rng.sample(pool, shots)]
            asked.append(replace(item, prompt=few_shot_prompt(examples, item.prompt)))
        # Same probe settings (max_tokens, stop, match) as the run; the examples only add context.
        asked_probes.append(replace(probe, items=asked))
        originals[probe.name] = [results[item.id] for item in forgotten]
    if not asked_probes:
        return 0
    scores = score_suite(Suite(f"{suite.name}-recovery", asked_probes), scorer, chat_override, cache, model_key or {})
    for probe in asked_probes:
        for result, score in zip(originals[probe.name], scores[probe.name].scores):
            result.recovered = score >= 0.5
    return sum(len(p.items) for p in asked_probes)
