"""Asking a probe's items through the scorer seam and scoring the answers.

This is where a probe becomes requests (``choice`` → log-likelihoods,
``generate`` → greedy text, ``perplexity`` → rolling log-likelihood) and the
results become one number per item, higher is better. It talks only to the
:class:`~forgetcheck.scoring.seam.Scorer` protocol, never to torch.
"""

from __future__ import annotations

import functools
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
    if (probe.harness or {}).get("multiple_input"):
        # lm-eval's multiple-input tasks (winogrande): each option is a context, and the shared
        # continuation (the item's prompt) is scored after each, split as lm-eval splits it.
        delimiter = "" if chat else probe.target_delimiter or ""
        return [lm_eval_split(render_prompt(option, chat, scorer), delimiter + item.prompt)
                for option in item.choices]
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
        # lm-eval's acc_norm divides by characters; an imported task scores as lm-eval does.
        length = len if probe.harness is not None else (lambda choice: len(choice.encode()))
        best_norm = max(range(len(lls)), key=lambda k: lls[k] / max(length(item.choices[k]), 1))
        values.append({"acc": float(best == item.target), "acc_norm": float(best_norm == item.target)})
        answers.append(item.choices[best_norm if probe.metric == "acc_norm" else best])
    metric = "acc_norm" if probe.metric == "acc_norm" else "acc"
    return probe_scores(probe, [v[metric] for v in values], answers, values)


def _score_generate(probe: Probe, scorer: Scorer, chat: bool, desc: str) -> ProbeScores:
    harness = probe.harness or {}
    if harness.get("output_type") == "loglikelihood":
        return _score_greedy_target(probe, scorer, chat, desc)
    requests = [GenerationRequest(render_prompt(item.prompt, chat, scorer), probe.stop, probe.max_tokens,
                                  _hopeless(item) if probe.match == "check" and not harness else None)
                for item in probe.items]
    outputs = scorer.generate(requests, desc)
    if harness.get("metric") in ("bleu", "chrf"):
        scores = [translation_score(harness["metric"], apply_filters(output, harness["filters"], item.choices),
                                    str(item.target)) for item, output in zip(probe.items, outputs)]
    elif harness:
        scores = [float(lm_eval_exact_match(apply_filters(output, harness["filters"], item.choices), str(item.target),
                                            harness["exact_match"])) for item, output in zip(probe.items, outputs)]
    else:
        scores = [float(answer_is_right(item, output, probe.match)) for item, output in zip(probe.items, outputs)]
    return ProbeScores(scores, outputs)


def _hopeless(item):
    """For a check item: whether an answer begun this way can no longer pass (generation may stop there)."""
    return functools.partial(checkers.cannot_pass, item.check) if item.check else None


def lm_eval_split(context: str, continuation: str) -> tuple[str, str]:
    """lm-eval's context/continuation split: whitespace ending the context moves to the continuation.

    >>> lm_eval_split("Answer: ", "red")
    ('Answer:', ' red')
    """
    stripped = context.rstrip()
    return stripped, context[len(stripped):] + continuation


def _score_greedy_target(probe: Probe, scorer: Scorer, chat: bool, desc: str) -> ProbeScores:
    """lm-eval's ``output_type: loglikelihood`` (lambada): right when the target is the greedy continuation."""
    requests = [lm_eval_split(render_prompt(item.prompt, chat, scorer), str(item.target)) for item in probe.items]
    results = scorer.loglikelihood(requests, desc)
    values = [{"acc": float(r.is_greedy), "logprob": r.logprob} for r in results]
    answers = [str(item.target) if r.is_greedy else None for item, r in zip(probe.items, results)]
    return probe_scores(probe, [v["acc"] for v in values], answers, values)


def translation_score(metric: str, answer: str, reference: str) -> float:
    """One answer's sentence-level chrF or BLEU against its reference, from sacrebleu (as lm-eval uses it),
    on a 0-1 scale so a tolerance of 0.02 is 2 points.

    lm-eval reports the corpus score over all items; a paired comparison needs a number per
    item, so each item gets sacrebleu's sentence score with its defaults.

    >>> round(translation_score("chrf", "the cat sat", "the cat sat"), 3)
    1.0
    """
    import sacrebleu

    scorer = sacrebleu.sentence_chrf if metric == "chrf" else sacrebleu.sentence_bleu
    return scorer(answer, [reference]).score / 100


def apply_filters(output: str, steps: list[dict], choices: tuple[str, ...] = ()) -> str:
    r"""An answer passed through one lm-eval filter pipeline (lm_eval/filters), for one greedy answer.

    ``choices`` are the row's options, which multi_choice_regex reads.

    >>> apply_filters("so 3 + 4 = 7. #### 7", [{"function": "regex"}, {"function": "take_first"}])
    '7'
    >>> apply_filters("I pick Paris.", [{"function": "multi_choice_regex", "regex_pattern": r"\(([A-D])\)"}],
    ...               ("Rome", "Paris"))
    '(B)'
    """
    answer = output
    for step in steps:
        function = step["function"]
        if function == "multi_choice_regex":
            answer = _multi_choice_regex(answer, step, choices)
        elif function == "regex":
            found = re.findall(step.get("regex_pattern", r"#### (\-?[0-9\.\,]+)"), answer)
            if not found:
                answer = step.get("fallback", "[invalid]")
                continue
            match = found[step.get("group_select", 0)]
            if isinstance(match, tuple):  # several groups: the first that matched
                match = next((m for m in match if m), step.get("fallback", "[invalid]"))
            answer = match.strip()
        elif function == "remove_whitespace":
            answer = answer.strip()
        elif function == "lowercase":
            answer = answer.lower()
        elif function == "uppercase":
            answer = answer.upper()
        elif function == "map":
            answer = str((step.get("mapping_dict") or {}).get(answer, step.get("default_value")))
        # take_first and majority_vote keep the one answer a greedy run gives
    return answer


def _first_match(pattern: re.Pattern, text: str, group: int, convert: dict[str, str]) -> str:
    """lm-eval's find_match: the chosen match, its first non-empty group, stripped and converted."""
    found = pattern.findall(text)
    if not found:
        return ""
    match = found[group]
    if isinstance(match, tuple):
        match = next((m for m in match if m), "")
    match = match.strip()
    return convert.get(match, match) if match else match


def _punctuation_table() -> dict[int, None]:
    import sys
    import unicodedata

    global _PUNCTUATION
    if _PUNCTUATION is None:  # every Unicode punctuation code point, as lm-eval strips them; built once
        _PUNCTUATION = dict.fromkeys(i for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith("P"))
    return _PUNCTUATION


_PUNCTUATION: dict[int, None] | None = None


def _multi_choice_regex(answer: str, step: dict, choices: tuple[str, ...]) -> str:
    """lm-eval's MultiChoiceRegexFilter (lm_eval/filters/extraction.py) on one answer: the step's regex;
    else an option's text found in the answer, as its letter "(B)"; else ": B" as "(B)"; else the fallback."""
    def ignoring(text: str) -> str:
        for pattern in step.get("regexes_to_ignore") or []:
            text = re.sub(pattern, "", text)
        if step.get("ignore_case"):
            text = text.lower()
        if step.get("ignore_punctuation"):
            text = text.translate(_punctuation_table())
        return text

    group = step.get("group_select", 0)
    letters = [chr(ord("A") + k) for k in range(len(choices))]
    as_letter = {ignoring(choice.strip()): f"({letter})" for choice, letter in zip(choices, letters)}
    # Longest first, as lm-eval: a choice that is a prefix of another must not shadow it.
    by_text = re.compile("|".join(sorted((re.escape(text) for text in as_letter), key=len, reverse=True)))
    by_letter = re.compile(rf":[\s]*({'|'.join(letters)})")
    match = _first_match(re.compile(step.get("regex_pattern", r"#### (\-?[0-9\.\,]+)")), answer, group, {})
    if not match:
        match = _first_match(by_text, ignoring(answer), group, as_letter)
    if not match:
        match = _first_match(by_letter, answer, group, {letter: f"({letter})" for letter in letters})
    return match or step.get("fallback", "[invalid]")


def lm_eval_exact_match(answer: str, target: str, options: dict) -> bool:
    """lm-eval's exact_match with its options, in its order; the target is compared as written.

    >>> lm_eval_exact_match("red", " red", {})
    False
    >>> lm_eval_exact_match("$1,000.", "1000", {"regexes_to_ignore": [",", "\\$", "\\.$"]})
    True
    """
    for pattern in options.get("regexes_to_ignore") or []:
        answer, target = re.sub(pattern, "", answer), re.sub(pattern, "", target)
    if options.get("ignore_case"):
        answer, target = answer.lower(), target.lower()
    for flag, chars in (("ignore_punctuation", string.punctuation), ("ignore_numbers", string.digits)):
        if options.get(flag):
            table = str.maketrans("", "", chars)
            answer, target = answer.translate(table), target.translate(table)
    return answer == target


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
    elif (probe.harness or {}).get("output_type") == "loglikelihood" and values:
        # lm-eval's perplexity for a loglikelihood task: exp of minus the mean log-likelihood per item.
        extra = {"perplexity": math.exp(-sum(v["logprob"] for v in values) / len(values))}
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
