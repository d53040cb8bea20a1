"""The scorer seam: the only way probes talk to a model.

Three request kinds, as in lm-evaluation-harness's ``LM`` interface, so a new
backend implements three methods and every probe works with it:

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

Backends must score a list of requests in a way that depends only on the list
(same batches, same order), so base and candidate see identical computations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence


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


class Scorer(Protocol):
    has_chat_template: bool

    def chat_prompt(self, user_text: str) -> str:
        """The user turn rendered with the tokenizer's chat template, ready for the reply."""

    def loglikelihood(self, requests: Sequence[tuple[str, str]], desc: str = "") -> list[LoglikelihoodResult]: ...

    def rolling_loglikelihood(self, texts: Sequence[str], desc: str = "") -> list[LoglikelihoodResult]: ...

    def generate(self, requests: Sequence[GenerationRequest], desc: str = "") -> list[str]: ...
