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

import contextlib
import random
from dataclasses import dataclass, field
from typing import Callable

import torch

from forgetcheck.scoring.hf import pad_batch
from forgetcheck.analysis.stats import paired_bootstrap

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
SAMPLE_BATCH = 8
DEFAULT_SAMPLES = 64
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


@torch.no_grad()
def sample_from_base(model, scorer, prompts: list[tuple[str, str]], *, seed: int = 0,
                     max_new_tokens: int = DEFAULT_NEW_TOKENS, temperature: float = 1.0,
                     context: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext) -> SelfSamples:
    """Sample one continuation per prompt from the base: plain ancestral sampling (no top-k/p)."""
    tokenizer = scorer.tokenizer
    encoded = [scorer.encode_context(text) for _, text in prompts]
    eos = tokenizer.eos_token_id
    torch.manual_seed(seed)
    samples: list[list[int]] = []
    for start in range(0, len(encoded), SAMPLE_BATCH):
        batch = encoded[start:start + SAMPLE_BATCH]
        ids, mask = scorer._pad(batch, left=True)
        with context():
            out = model.generate(
                input_ids=ids.to(scorer.device), attention_mask=mask.to(scorer.device), do_sample=True,
                temperature=temperature, top_k=0, top_p=1.0, max_new_tokens=max_new_tokens,
                pad_token_id=scorer.pad_id)
        for row in out[:, ids.shape[1]:].tolist():
            # Keep the end-of-text token (the model chose to stop) and nothing after it.
            cut = row.index(eos) + 1 if eos is not None and eos in row else len(row)
            samples.append(row[:cut])
    texts = tokenizer.batch_decode(samples, skip_special_tokens=True)
    keep = [k for k, s in enumerate(samples) if s]
    return SelfSamples([prompts[k][0] for k in keep], [encoded[k] for k in keep], [samples[k] for k in keep],
                       [texts[k] for k in keep], keep)


@dataclass
class BaseReference:
    """What the candidate is measured against, per sequence: the base's top-k next-token
    log-probabilities at every sampled position, and its log-probability of each sampled token.

    Small enough to keep while the base is unloaded (or to cache): k values per position
    instead of the whole vocabulary.
    """

    top_ids: list[torch.Tensor]  # [T, k] int
    top_logprobs: list[torch.Tensor]  # [T, k] float32
    sampled_logprobs: list[torch.Tensor]  # [T] float32


def _batches(samples: SelfSamples, forward, pad_id: int, batch_size: int, device: str):
    """(sequence index, log-probs at its sampled positions [T, V]) in a fixed batch order."""
    sequences = [p + s for p, s in zip(samples.prompt_ids, samples.sample_ids)]
    for start in range(0, len(sequences), batch_size):
        batch = sequences[start:start + batch_size]
        ids, mask = pad_batch(batch, pad_id, left=False)  # right padding keeps positions 0..n-1
        logprobs = torch.log_softmax(forward(ids.to(device), mask.to(device)).float(), dim=-1)
        for row in range(len(batch)):
            k = start + row
            n_prompt, n_sample = len(samples.prompt_ids[k]), len(samples.sample_ids[k])
            # Position t predicts token t+1: the sampled tokens are predicted from n_prompt-1 on.
            yield k, logprobs[row, n_prompt - 1: n_prompt - 1 + n_sample]


@torch.no_grad()
def base_reference(samples: SelfSamples, base_forward, *, top_k: int = TOP_K, pad_id: int = 0,
                   batch_size: int = SAMPLE_BATCH, device: str = "cpu") -> BaseReference:
    """Score the samples under the base once; ``base_forward(input_ids, attention_mask)`` returns logits."""
    top_ids, top_lps, sampled = [], [], []
    for k, lp in _batches(samples, base_forward, pad_id, batch_size, device):
        values, index = lp.topk(min(top_k, lp.shape[-1]), dim=-1)
        top_ids.append(index.cpu())
        top_lps.append(values.cpu())
        sampled.append(lp.gather(-1, torch.tensor(samples.sample_ids[k], device=lp.device)[:, None])[:, 0].cpu())
    return BaseReference(top_ids, top_lps, sampled)


@torch.no_grad()
def score_drift(samples: SelfSamples, reference: BaseReference, candidate_forward, *, pad_id: int = 0,
                batch_size: int = SAMPLE_BATCH, device: str = "cpu") -> tuple[list[float], list[float]]:
    """Per sequence: mean KL(base ‖ candidate) and mean log-likelihood drop over its sampled tokens.

    The KL runs over the whole vocabulary with the base's tokens outside its top k
    pooled into one "rest" bucket on both sides. Pooling can only lower a KL (the
    log-sum inequality), by at most what the rest bucket holds; with k = 256 the
    base's top tokens carry nearly all its mass. A model against itself gives 0 exactly.
    """
    kls, drops = [], []
    for k, lc in _batches(samples, candidate_forward, pad_id, batch_size, device):
        lc = lc.cpu()
        lb_top = reference.top_logprobs[k]
        lc_top = lc.gather(-1, reference.top_ids[k])
        lb_rest = _log_rest(lb_top)
        lc_rest = _log_rest(lc_top)
        kl = (lb_top.exp() * (lb_top - lc_top)).sum(-1) + lb_rest.exp() * (lb_rest - lc_rest)
        target = torch.tensor(samples.sample_ids[k])[:, None]
        drop = reference.sampled_logprobs[k] - lc.gather(-1, target)[:, 0]
        kls.append(float(kl.mean()))
        drops.append(float(drop.mean()))
    return kls, drops


def _log_rest(top: torch.Tensor) -> torch.Tensor:
    """log of the probability outside the top tokens, log(1 − Σ exp(top)), kept finite."""
    covered = torch.logsumexp(top, dim=-1).clamp(max=0.0)
    # log(1 - e^x) computed stably; a fully covered distribution leaves a rest of ~0.
    return torch.log((-torch.expm1(covered)).clamp(min=1e-30))


def summarise(groups: list[str], kls: list[float], drops: list[float], confidence: float = 0.95) -> dict:
    """The drift section of a report: overall and per prompt group, each with bootstrap intervals."""
    def block(name: str, members: list[int]) -> dict:
        k = [kls[i] for i in members]
        d = [drops[i] for i in members]
        k_lo, k_hi, _ = paired_bootstrap(k, confidence)
        d_lo, d_hi, _ = paired_bootstrap(d, confidence)
        return {"name": name, "n": len(members), "kl": sum(k) / len(k), "kl_ci_low": k_lo, "kl_ci_high": k_hi,
                "logprob_drop": sum(d) / len(d), "logprob_drop_ci_low": d_lo, "logprob_drop_ci_high": d_hi}

    order = list(dict.fromkeys(groups))
    return {"overall": block("all", list(range(len(groups)))),
            "groups": [block(g, [i for i, x in enumerate(groups) if x == g]) for g in order]}


def settings_for(n: int, seed: int = 0) -> dict:
    """Everything that decides the samples and the drift numbers, as stored in the report."""
    return {"samples": n, "seed": seed, "temperature": 1.0, "max_new_tokens": DEFAULT_NEW_TOKENS, "top_k": TOP_K}


def cached_samples(store, base_key: dict, key: str, make: Callable[[], SelfSamples]) -> SelfSamples:
    """The base's samples from the result cache, or made now and stored (they depend only on the base)."""
    found = store.get_many(base_key["key"], [key], "samples").get(key) if store else None
    if found:
        v = found["values"]
        return SelfSamples(v["groups"], v["prompt_ids"], v["sample_ids"], v.get("texts", []))
    samples = make()
    if store:
        store.put_many(base_key, {key: {"score": float(len(samples.groups)), "answer": None, "values": {
            "groups": samples.groups, "prompt_ids": samples.prompt_ids, "sample_ids": samples.sample_ids,
            "texts": samples.texts}}})
    return samples
