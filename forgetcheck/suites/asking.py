"""Asking a probe's items through the scorer seam and scoring the answers.

This is where a probe becomes requests (``choice`` → log-likelihoods,
``generate`` → greedy text, ``perplexity`` → rolling log-likelihood) and the
results become one number per item, higher is better. It talks only to the
:class:`~forgetcheck.scoring.seam.Scorer` protocol, never to torch.
"""

from __future__ import annotations

import math
import re
import string
from dataclasses import dataclass, field

from forgetcheck.suites import checkers
from forgetcheck.scoring.seam import GenerationRequest, Scorer
from forgetcheck.suites.suite import Item, Probe


@dataclass
class ProbeScores:
    """One side's per-item scores on a probe, aligned with ``probe.items``."""

    scores: list[float]
    answers: list[str | None]
    extra: dict[str, float] = field(default_factory=dict)
    # Per item, the numbers ``extra`` is summed from; lets the result cache rebuild
    # a probe's scores from items scored in different runs.
    values: list[dict[str, float]] = field(default_factory=list)


def use_chat(probe: Probe, scorer: Scorer, override: str | None = None) -> bool:
    """auto uses the chat template when the tokenizer has one; on/off force it."""
    mode = override or probe.chat_template
    if mode == "on" and not scorer.has_chat_template:
        from forgetcheck.errors import BadInput

        raise BadInput(f"probe {probe.name!r}: chat template 'on' but the tokenizer has none; use auto or off")
    return mode == "on" or (mode == "auto" and scorer.has_chat_template)


def render_prompt(prompt: str, chat: bool, scorer: Scorer) -> str:
    return scorer.chat_prompt(prompt) if chat else prompt


def normalise_answer(text: str) -> str:
    """Lowercase, trim, drop surrounding punctuation and collapse spaces for exact match.

    >>> normalise_answer("  The Answer:  Paris. ")
    'the answer: paris'
    """
    text = " ".join(text.lower().split())
    return text.strip(string.punctuation + " ")


def score_probe(probe: Probe, scorer: Scorer, chat_override: str | None = None, label: str = "") -> ProbeScores:
    desc = f"{label} {probe.name}".strip()
    if probe.kind == "choice":
        return _score_choice(probe, scorer, use_chat(probe, scorer, chat_override), desc)
    if probe.kind == "generate":
        return _score_generate(probe, scorer, use_chat(probe, scorer, chat_override), desc)
    return _score_perplexity(probe, scorer, desc)


def choice_requests(probe: Probe, item: Item, chat: bool, scorer: Scorer) -> list[tuple[str, str]]:
    """The (context, continuation) pairs a choice item is scored on, one per choice."""
    context = render_prompt(item.prompt, chat, scorer)
    if probe.target_delimiter is not None:
        # As lm-eval: continuation = target_delimiter + choice (no delimiter after a chat
        # template), and whitespace ending the context moves to the continuation before
        # encoding, so the tokens match lm-eval's.
        stripped, delimiter = context.rstrip(), "" if chat else probe.target_delimiter
        return [(stripped, context[len(stripped):] + delimiter + choice) for choice in item.choices]
    # In plain text the answer follows the prompt after a space; in chat it opens the reply.
    sep = "" if chat or context.endswith((" ", "\n")) else " "
    return [(context, sep + choice) for choice in item.choices]


def _score_choice(probe: Probe, scorer: Scorer, chat: bool, desc: str) -> ProbeScores:
    requests, owners = [], []
    for index, item in enumerate(probe.items):
        for request in choice_requests(probe, item, chat, scorer):
            requests.append(request)
            owners.append(index)
    results = scorer.loglikelihood(requests, desc)
    per_item: list[list[float]] = [[] for _ in probe.items]
    for owner, result in zip(owners, results):
        per_item[owner].append(result.logprob)
    values, answers = [], []
    for item, lls in zip(probe.items, per_item):
        best = max(range(len(lls)), key=lambda k: lls[k])
        # acc_norm divides by the answer's length in bytes so long answers are not penalised.
        best_norm = max(range(len(lls)), key=lambda k: lls[k] / max(len(item.choices[k].encode()), 1))
        values.append({"acc": float(best == item.target), "acc_norm": float(best_norm == item.target)})
        answers.append(item.choices[best_norm if probe.metric == "acc_norm" else best])
    metric = "acc_norm" if probe.metric == "acc_norm" else "acc"
    return probe_scores(probe, [v[metric] for v in values], answers, values)


def _score_generate(probe: Probe, scorer: Scorer, chat: bool, desc: str) -> ProbeScores:
    requests = [GenerationRequest(render_prompt(item.prompt, chat, scorer), probe.stop, probe.max_tokens)
                for item in probe.items]
    outputs = scorer.generate(requests, desc)
    scores = [float(answer_is_right(item, output, probe.match)) for item, output in zip(probe.items, outputs)]
    return ProbeScores(scores, outputs)


def answer_is_right(item: Item, output: str, match: str) -> bool:
    if match == "check":
        return checkers.passes(item.check or {}, output)
    if match == "regex":
        return re.search(item.regex or "", output) is not None
    return normalise_answer(output) == normalise_answer(str(item.target))


def _score_perplexity(probe: Probe, scorer: Scorer, desc: str) -> ProbeScores:
    results = scorer.rolling_loglikelihood([item.text for item in probe.items], desc)
    # Per item: mean log-likelihood per token (higher is better), so a drop is in nats/token.
    scores = [r.logprob / max(r.n_tokens, 1) for r in results]
    values = [{"logprob": r.logprob, "n_tokens": r.n_tokens} for r in results]
    return probe_scores(probe, scores, [None] * len(scores), values)


def probe_scores(probe: Probe, scores: list[float], answers: list[str | None],
                 values: list[dict[str, float]]) -> ProbeScores:
    """A probe's scores with its summary numbers, summed from the per-item values in item order."""
    extra: dict[str, float] = {}
    if probe.kind == "choice" and values:
        extra = {name: sum(v[name] for v in values) / len(values) for name in ("acc", "acc_norm")}
    elif probe.kind == "perplexity":
        total_tokens = sum(v["n_tokens"] for v in values)
        extra = {"perplexity": math.exp(-sum(v["logprob"] for v in values) / max(total_tokens, 1))}
    return ProbeScores(scores, answers, extra, values)


def expected_text(probe: Probe, item: Item) -> str | None:
    if probe.kind == "choice":
        return item.choices[item.target]
    if probe.kind == "generate":
        return str(item.target) if item.target is not None else f"/{item.regex}/"
    return None
