"""Label-free drift: how far the candidate moved on the base model's own distribution.

Probes only see what they ask. A language model can sample its own training
distribution, and those self-generated samples are good enough to serve as replay
data (Marek et al. 2026, arXiv 2605.26097). So they also make a probe that needs no
dataset: sample sequences from the base, then score every sampled token under both
models and measure

* the mean per-token KL(base ‖ candidate) over the full vocabulary — how much the
  candidate's next-token distribution moved where the base puts its mass;
* the mean log-likelihood drop of the sampled tokens (base − candidate), a
  one-sample estimate of the same divergence that is easy to read.

Both come per prompt group (``open`` for a small set of neutral openers, then one
group per suite capability, prompted with that capability's own questions) with a
bootstrap interval over sequences. A model against itself gives exactly 0.

Sampling is seeded and batched in a fixed order, so the same settings give the same
samples; base and candidate score the very same token ids in the same batches.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

import torch

from forgetcheck.analysis.stats import paired_bootstrap
from forgetcheck.comparison import SampleDrift, SampleDriftGroup
from forgetcheck.results.keys import content_hash

# Neutral openers: no task, no format, just "keep writing" in a few registers.
NEUTRAL_PROMPTS = (
    "Write a short paragraph about anything you like.",
    "Tell me something interesting.",
    "Continue the story: The door opened slowly and",
    "Describe an ordinary morning.",
    "Explain a simple idea to a child.",
    "Write a few sentences about the weather.",
    "What is a good way to spend a free afternoon?",
    "Write a short note to a friend.",
)
DEFAULT_SAMPLES = 64
# Part of the samples' cache key: 2 since the scorer draws them 32 at a time (was 8); 3 since it decodes them
# itself, dropping rows that ended (forgetcheck.scoring.decoding), which changes them.
SAMPLES_VERSION = 3
DEFAULT_NEW_TOKENS = 48
TOP_K = 256


@dataclass
class SelfSamples:
    """Sequences sampled from the base: per sequence its group, prompt and sampled token ids."""

    groups: list[str]
    prompt_ids: list[list[int]]
    sample_ids: list[list[int]]
    texts: list[str] = field(default_factory=list)
    prompt_index: list[int] = field(default_factory=list)  # which of the given prompts each sample answers


def drift_prompts(suite, render: Callable[[object, str], str], n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` (group, rendered prompt) pairs: a quarter neutral openers, the rest spread over the suite's capabilities.

    ``render(probe_or_None, text)`` renders a prompt as the model sees it (chat template
    or not); prompts are drawn with a seeded RNG, so the list depends only on the inputs.
    """
    rng = random.Random(seed)
    contexts = [(p, [i.prompt for i in p.items if i.prompt]) for p in suite.probes]
    contexts = [(p, prompts) for p, prompts in contexts if prompts]
    n_open = n if not contexts else max(1, n // 4)
    chosen = [("open", render(None, NEUTRAL_PROMPTS[k % len(NEUTRAL_PROMPTS)])) for k in range(n_open)]
    for k in range(n - n_open):
        probe, prompts = contexts[k % len(contexts)]
        chosen.append((probe.name, render(probe, rng.choice(prompts))))
    return chosen


def sample_from_base(scorer, prompts: list[tuple[str, str]], *, seed: int = 0,
                     max_new_tokens: int = DEFAULT_NEW_TOKENS, temperature: float = 1.0) -> SelfSamples:
    """One continuation per (group, rendered prompt), sampled from the base through its scorer.

    Plain ancestral sampling (no top-k/p); samples that end before saying anything are left out.
    """
    sampled = scorer.sample([text for _, text in prompts], seed=seed, max_tokens=max_new_tokens,
                            temperature=temperature, desc="self-samples")
    keep = [k for k, s in enumerate(sampled) if s.tokens]
    return SelfSamples([prompts[k][0] for k in keep], [sampled[k].context_tokens for k in keep],
                       [sampled[k].tokens for k in keep], [sampled[k].text for k in keep], keep)


@dataclass
class BaseReference:
    """What the candidate is measured against, per sequence: the base's top-k next-token
    log-probabilities at every sampled position, and its log-probability of each sampled token.

    Small enough to keep while the base is unloaded: k values per position instead of
    the whole vocabulary.
    """

    top_ids: list[torch.Tensor]  # [T, k] int
    top_logprobs: list[torch.Tensor]  # [T, k] float32
    sampled_logprobs: list[torch.Tensor]  # [T] float32


def _sequences(samples: SelfSamples) -> list[tuple[list[int], list[int]]]:
    return list(zip(samples.prompt_ids, samples.sample_ids))


def base_reference(scorer, samples: SelfSamples, *, top_k: int = TOP_K) -> BaseReference:
    """Score the samples under the base once, keeping its top ``top_k`` tokens per position."""
    scored = scorer.token_logprobs(_sequences(samples), top_k=top_k, desc="drift reference")
    return BaseReference([s.top_ids for s in scored], [s.top_logprobs for s in scored], [s.tokens for s in scored])


def score_drift(scorer, samples: SelfSamples, reference: BaseReference) -> tuple[list[float], list[float]]:
    """Per sequence: mean KL(base ‖ candidate) and mean log-likelihood drop over its sampled tokens.

    The KL runs over the whole vocabulary with the base's tokens outside its top k
    pooled into one "rest" bucket on both sides. Pooling can only lower a KL (the
    log-sum inequality), by at most what the rest bucket holds; with k = 256 the
    base's top tokens carry nearly all its mass. A model against itself gives 0 exactly.
    """
    scored = scorer.token_logprobs(_sequences(samples), at=reference.top_ids, desc="drift")
    kls, drops = [], []
    for k, candidate in enumerate(scored):
        lb_top, lc_top = reference.top_logprobs[k], candidate.at_logprobs
        lb_rest, lc_rest = _log_rest(lb_top), _log_rest(lc_top)
        kl = (lb_top.exp() * (lb_top - lc_top)).sum(-1) + lb_rest.exp() * (lb_rest - lc_rest)
        drop = reference.sampled_logprobs[k] - candidate.tokens
        kls.append(float(kl.mean()))
        drops.append(float(drop.mean()))
    return kls, drops


def _log_rest(top: torch.Tensor) -> torch.Tensor:
    """log of the probability outside the top tokens, log(1 − Σ exp(top)), kept finite."""
    covered = torch.logsumexp(top, dim=-1).clamp(max=0.0)
    # log(1 - e^x) computed stably; a fully covered distribution leaves a rest of ~0.
    return torch.log((-torch.expm1(covered)).clamp(min=1e-30))


def summarise(groups: list[str], kls: list[float], drops: list[float],
              confidence: float = 0.95) -> tuple[SampleDriftGroup, list[SampleDriftGroup]]:
    """Drift over all samples and per prompt group (in order of first appearance), each with bootstrap intervals."""
    def block(name: str, members: list[int]) -> SampleDriftGroup:
        k = [kls[i] for i in members]
        d = [drops[i] for i in members]
        k_lo, k_hi, _ = paired_bootstrap(k, confidence)
        d_lo, d_hi, _ = paired_bootstrap(d, confidence)
        return SampleDriftGroup(name=name, n=len(members), kl=sum(k) / len(k), kl_ci_low=k_lo, kl_ci_high=k_hi,
                                logprob_drop=sum(d) / len(d), logprob_drop_ci_low=d_lo, logprob_drop_ci_high=d_hi)

    order = list(dict.fromkeys(groups))
    overall = block("all", list(range(len(groups))))
    return overall, [block(g, [i for i, x in enumerate(groups) if x == g]) for g in order]


def settings_for(n: int, seed: int = 0) -> dict:
    """Everything that decides the samples and the drift numbers, as stored in the report."""
    return {"samples": n, "seed": seed, "temperature": 1.0, "max_new_tokens": DEFAULT_NEW_TOKENS, "top_k": TOP_K}


class LabelFreeDrift:
    """Label-free drift inside a comparison, cached like any score.

    The base's samples are stored under the base's key; the KL results under the pair
    of keys (both as blobs of the result store). With two full models the base's side
    (samples and its compact reference) is taken in :meth:`prepare` while the base is
    loaded, the candidate's in :meth:`measure`. Every model call goes through the scorers.
    """

    def __init__(self, suite, chat_override, store, base_key: dict, cand_key: dict, n: int, confidence: float,
                 render: Callable[[object, object, str], str]):
        self.suite, self.chat_override, self.store, self.n = suite, chat_override, store, n
        self.base_key, self.confidence, self.render = base_key, confidence, render
        self.settings = settings_for(n)
        self.sample_key = content_hash(["self-samples", SAMPLES_VERSION, self.settings, suite.fingerprint(),
                                        chat_override])
        self.pair = {**cand_key, "key": content_hash([base_key["key"], cand_key["key"]]),
                     "label": f"{cand_key['label']} vs {base_key['label']}"}
        self.samples = self.reference = self.result = None

    def prepare(self, base_scorer, base_side: LabelFreeDrift | None = None) -> None:
        """The base's side: the stored result, or samples (stored or drawn now) and their reference.

        ``base_side``: another candidate's drift against the same base, already prepared;
        its samples and reference are the base's alone, so they are taken, not made again.
        """
        if not self.n:
            return
        found = self.store.get_blob(self.pair["key"], self.sample_key, "label-free-drift") if self.store else None
        if found and _is_result(found):
            self.result = found
            return
        if base_side is not None and base_side.samples is not None and base_side.settings == self.settings:
            self.samples, self.reference = base_side.samples, base_side.reference
            return
        prompts = drift_prompts(self.suite, lambda probe, text: self.render(base_scorer, probe, text), self.n,
                                self.settings["seed"])
        self.samples = self._samples(lambda: sample_from_base(base_scorer, prompts, seed=self.settings["seed"]))
        self.reference = base_reference(base_scorer, self.samples)

    def measure(self, cand_scorer) -> SampleDrift | None:
        """The label-free drift of the report; :meth:`prepare` has run on the base's side."""
        if not self.n:
            return None
        if self.result is None:
            kls, drops = score_drift(cand_scorer, self.samples, self.reference)
            self.result = {"groups": self.samples.groups, "kls": kls, "drops": drops}
            if self.store:
                self.store.put_blob(self.pair, self.sample_key, "label-free-drift", self.result)
        overall, groups = summarise(self.result["groups"], self.result["kls"], self.result["drops"], self.confidence)
        return SampleDrift(**self.settings, overall=overall, groups=groups)

    def _samples(self, make: Callable[[], SelfSamples]) -> SelfSamples:
        """The base's samples from the store, or made now and stored (they depend only on the base)."""
        found = self.store.get_blob(self.base_key["key"], self.sample_key, "self-samples") if self.store else None
        if found and all(isinstance(found.get(f), list) for f in ("groups", "prompt_ids", "sample_ids")):
            return SelfSamples(found["groups"], found["prompt_ids"], found["sample_ids"], found.get("texts", []))
        samples = make()
        if self.store:
            self.store.put_blob(self.base_key, self.sample_key, "self-samples", {
                "groups": samples.groups, "prompt_ids": samples.prompt_ids, "sample_ids": samples.sample_ids,
                "texts": samples.texts})
        return samples


def _is_result(found: dict) -> bool:
    return all(isinstance(found.get(f), list) for f in ("groups", "kls", "drops")) and \
        len(found["groups"]) == len(found["kls"]) == len(found["drops"]) > 0
