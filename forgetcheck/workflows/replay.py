"""Self-generated replay: the base model's own samples, ready to mix into fine-tuning data.

Mixing a model's own samples into its fine-tuning data nearly removes forgetting
(Marek et al. 2026, arXiv 2605.26097): the samples pull the weights back towards
what the base already did, and they need no dataset. ``forgetcheck replay`` writes
them as JSONL that ``datasets.load_dataset("json", data_files=...)`` and the common
trainers read directly: chat ``messages`` rows when the model has a chat template,
plain ``text`` rows otherwise.

Prompts are a quarter neutral openers and the rest the suite's own questions, drawn
with a seeded RNG (:func:`forgetcheck.workflows.label_free.drift_prompts`); given a report,
only the questions of the capabilities it marks ``regressed`` are used, so the
replay targets what was lost.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from forgetcheck.errors import BadInput
from forgetcheck.files import write_atomic
from forgetcheck.workflows.label_free import drift_prompts, sample_from_base
from forgetcheck.suites.suite import Suite

# A starting point, not a law: enough replay to anchor the base's behaviour without
# drowning the new task. Check the result with forgetcheck compare and adjust.
SUGGESTED_SHARE = 0.2


def focus(suite: Suite, regressed: list[str]) -> tuple[Suite, str]:
    """The suite cut to the regressed capabilities, and a line saying what was chosen."""
    if not regressed:
        return suite, "the report shows nothing regressed, so prompts come from every capability"
    kept = [p for p in suite.probes if p.name in regressed]
    if not kept:
        raise BadInput(f"none of the regressed capabilities ({', '.join(regressed)}) is in suite {suite.name!r}; "
                       "give the --suite the report was made with")
    return replace(suite, probes=kept), f"prompts focus on the regressed capabilities: {', '.join(regressed)}"


def replay_rows(scorer, suite: Suite, n: int, *, seed: int = 0, max_new_tokens: int = 128) -> list[dict]:
    """Up to ``n`` rows sampled from the base: ``messages`` with a chat template, else ``text``.

    Samples that end before saying anything are left out.
    """
    chat = scorer.has_chat_template
    raw = drift_prompts(suite, lambda probe, text: text, n, seed)
    rendered = [(group, scorer.chat_prompt(text) if chat else text) for group, text in raw]
    samples = sample_from_base(scorer, rendered, seed=seed, max_new_tokens=max_new_tokens)
    rows = []
    for index, reply in zip(samples.prompt_index, samples.texts):
        group, text = raw[index]
        reply = reply.strip()
        if not reply:
            continue
        if chat:
            rows.append({"messages": [{"role": "user", "content": text}, {"role": "assistant", "content": reply}],
                         "source": group})
        else:
            rows.append({"text": f"{text}{'' if text.endswith((' ', chr(10))) else ' '}{reply}", "source": group})
    return rows


def write_rows(rows: list[dict], out: str | Path) -> None:
    write_atomic(out, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
