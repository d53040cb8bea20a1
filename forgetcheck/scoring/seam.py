"""The scorer seam: the only way anything in forgetcheck talks to a model.

Probes use three request kinds, as in lm-evaluation-harness's ``LM`` interface, so a
new backend implements them and every probe works with it:

* ``loglikelihood(requests)``: for each ``(context, continuation)``, the summed
  log-probability of the continuation's tokens given the context. The context is
  encoded as the tokenizer encodes a fresh text (special tokens included, unless
  the context already starts with the BOS text), the continuation without special
  tokens, and the two token lists are joined as is: no space is added, so a
  probe that wants " Paris" after "capital is" passes the space itself.
* ``rolling_loglikelihood(texts)``: log-probability of every token of each text,
  the first one conditioned on the BOS (or EOS) token, in windows no longer than
  the model's context.
* ``generate(requests)``: greedy continuation of each context, at most
  ``max_tokens`` new tokens, cut before the first stop string.

Label-free drift, re-asking and replay need the model's own distribution, so two
more kinds serve them (each with its contract on the method below):

* ``sample(contexts, ...)``: seeded ancestral samples of each context.
* ``token_logprobs(sequences, ...)``: per-position log-probabilities of given token
  sequences, with the top-k alternatives or the log-probs of chosen token ids.

Backends must score a list of requests in a way that depends only on the list
(same batches, same order), so base and candidate see identical computations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence


@dataclass(frozen=True)
class LoglikelihoodResult:
    logprob: float
    n_tokens: int
    is_greedy: bool


@dataclass(frozen=True)
class GenerationRequest:
    context: str
    stop: tuple[str, ...] = ("\n",)
    max_tokens: int = 32
    # Optional: says of the text generated so far that no continuation of it can score, so a scorer may
    # stop that row there (the score is the same; the answer kept is shorter). Scorers may ignore it.
    hopeless: Callable[[str], bool] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Sample:
    """One sampled continuation: the context's token ids, the sampled token ids and their text.

    ``tokens`` keeps the end-of-text token when the model chose to stop, and nothing after it.
    """

    context_tokens: list[int]
    tokens: list[int]
    text: str


@dataclass(frozen=True)
class TokenLogprobs:
    """Log-probabilities along one continuation, one row per continuation token.

    ``tokens``: the log-prob of each continuation token given everything before it, [T].
    ``top_ids`` / ``top_logprobs``: the ``top_k`` most likely next tokens and their
    log-probs at each position, [T, k] (None unless asked).
    ``at_logprobs``: the log-probs of the token ids asked for at each position, [T, k]
    (None unless asked). Values are CPU float32 tensors, so arithmetic on them (a KL
    over the vocabulary) is exact to the backend's own numbers.
    """

    tokens: Any
    top_ids: Any = None
    top_logprobs: Any = None
    at_logprobs: Any = None


class Scorer(Protocol):
    has_chat_template: bool

    def chat_prompt(self, user_text: str) -> str:
        """The user turn rendered with the tokenizer's chat template, ready for the reply."""

    def loglikelihood(self, requests: Sequence[tuple[str, str]], desc: str = "") -> list[LoglikelihoodResult]:
        """For each (context, continuation): the summed log-probability of the continuation given the context.

        The context is encoded as the tokenizer encodes a fresh text (special tokens
        included, unless it already starts with the BOS text); the continuation without
        special tokens; the two token lists are joined as they are, with no space added.
        ``is_greedy``: every continuation token was the most likely one. A context too
        long for the model keeps its end.
        """

    def rolling_loglikelihood(self, texts: Sequence[str], desc: str = "") -> list[LoglikelihoodResult]:
        """For each text: the log-probability of every token, the first conditioned on BOS (or EOS).

        Texts longer than the model's context are scored in windows; each later window
        predicts new tokens given up to a context of tokens before them, so every token
        is predicted exactly once.
        """

    def generate(self, requests: Sequence[GenerationRequest], desc: str = "") -> list[str]:
        """For each request: the greedy continuation of its context, at most ``max_tokens`` new tokens,
        cut before the first of its ``stop`` strings. Special tokens are not part of the text.
        """

    def sample(self, contexts: Sequence[str], *, seed: int, max_tokens: int, temperature: float = 1.0,
               desc: str = "") -> list[Sample]:
        """One ancestral sample per context: plain sampling at ``temperature``, no top-k or top-p.

        Contexts are encoded as in :meth:`loglikelihood`. The generator is seeded once
        with ``seed`` and contexts are sampled in their given order in fixed batches, so
        the same arguments give the same samples. At most ``max_tokens`` new tokens;
        a sample ends after the end-of-text token if the model emits it.
        """

    def token_logprobs(self, sequences: Sequence[tuple[list[int], list[int]]], *, top_k: int = 0,
                       at: Sequence[Any] | None = None, desc: str = "") -> list[TokenLogprobs]:
        """For each (context tokens, continuation tokens): log-probs of the continuation, position by position.

        Position t of the result predicts continuation token t from the context and the
        continuation tokens before it. ``top_k`` > 0 also returns the k most likely tokens
        at each position; ``at`` (one [T, k] id tensor per sequence) returns the log-probs
        of those ids instead, which is how a candidate is measured on the base's top tokens.
        Sequences are computed in their given order in fixed batches.
        """
