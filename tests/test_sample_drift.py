"""Label-free drift on the base's own samples, on the tiny models: KL is exact and moves as it should."""

from __future__ import annotations

import torch
from peft.helpers import rescale_adapter_scale

from forgetcheck.workflows.label_free import base_reference, drift_prompts, sample_from_base, score_drift, summarise
from forgetcheck.models.loading import attach_adapter, load_model
from forgetcheck.suites.asking import render_prompt
from forgetcheck.scoring.hf import HFScorer
from forgetcheck.models.specs import resolve
from forgetcheck.suites.suite import load_suite


def _setup(tiny_base, forgetful_adapter, tiny_suite, n=12, seed=0):
    """The adapter model, a scorer of the base (adapter off) and one of the candidate, and the base's samples."""
    model, tokenizer = load_model(resolve(str(tiny_base)), dtype=torch.float32, device="cpu")
    wrapped = attach_adapter(model, resolve(str(forgetful_adapter)))
    base = HFScorer(wrapped, tokenizer, progress=False, context_manager=wrapped.disable_adapter)
    candidate = HFScorer(wrapped, tokenizer, progress=False)
    prompts = drift_prompts(load_suite(str(tiny_suite)), lambda probe, text: render_prompt(text, False, base), n,
                            seed)
    samples = sample_from_base(base, prompts, seed=seed, max_new_tokens=8)
    return wrapped, base, candidate, samples


def test_kl_of_a_model_with_itself_is_exactly_zero(tiny_base, forgetful_adapter, tiny_suite):
    wrapped, base, _, samples = _setup(tiny_base, forgetful_adapter, tiny_suite)
    reference = base_reference(base, samples)
    kls, drops = score_drift(base, samples, reference)
    assert len(kls) == len(samples.sample_ids) > 0
    assert all(k == 0.0 for k in kls) and all(d == 0.0 for d in drops)


def test_kl_rises_with_the_adapter_scale(tiny_base, forgetful_adapter, tiny_suite):
    wrapped, base, candidate, samples = _setup(tiny_base, forgetful_adapter, tiny_suite)
    reference = base_reference(base, samples)
    means = []
    for scale in (0.0, 0.25, 0.5, 1.0):
        with rescale_adapter_scale(wrapped, scale):
            kls, _ = score_drift(candidate, samples, reference)
        means.append(sum(kls) / len(kls))
    assert means[0] < 1e-9
    assert means[0] < means[1] < means[2] < means[3]


def test_kl_matches_a_direct_computation(tiny_base, forgetful_adapter, tiny_suite):
    wrapped, base, candidate, samples = _setup(tiny_base, forgetful_adapter, tiny_suite, n=3)
    # The tiny vocabulary (400) is larger than k=64 here, so the pooled "rest" bucket matters:
    # exact when k covers the vocabulary, a close lower bound otherwise.
    whole = base_reference(base, samples, top_k=10_000)
    pooled = base_reference(base, samples, top_k=64)
    kls, drops = score_drift(candidate, samples, whole)
    pooled_kls, _ = score_drift(candidate, samples, pooled)
    for k in range(3):
        ids = torch.tensor([samples.prompt_ids[k] + samples.sample_ids[k]])
        n_prompt, n_sample = len(samples.prompt_ids[k]), len(samples.sample_ids[k])
        with torch.no_grad(), wrapped.disable_adapter():
            lb = torch.log_softmax(wrapped(input_ids=ids).logits[0], -1)
        with torch.no_grad():
            lc = torch.log_softmax(wrapped(input_ids=ids).logits[0], -1)
        span = slice(n_prompt - 1, n_prompt - 1 + n_sample)
        direct = torch.nn.functional.kl_div(lc[span], lb[span], log_target=True, reduction="none").sum(-1).mean()
        assert abs(kls[k] - float(direct)) < 1e-5
        assert float(direct) * 0.9 <= pooled_kls[k] <= float(direct) + 1e-6
        targets = torch.tensor(samples.sample_ids[k])
        direct_drop = (lb[span].gather(-1, targets[:, None]) - lc[span].gather(-1, targets[:, None])).mean()
        assert abs(drops[k] - float(direct_drop)) < 1e-5


def test_samples_are_seeded_and_grouped(tiny_base, forgetful_adapter, tiny_suite):
    *_, one = _setup(tiny_base, forgetful_adapter, tiny_suite, seed=3)
    *_, again = _setup(tiny_base, forgetful_adapter, tiny_suite, seed=3)
    *_, other = _setup(tiny_base, forgetful_adapter, tiny_suite, seed=4)
    assert one.sample_ids == again.sample_ids and one.sample_ids != other.sample_ids
    assert one.groups.count("open") == 3 and set(one.groups) - {"open"}  # a quarter neutral, the rest per capability
    overall, groups = summarise(one.groups, [0.1] * len(one.groups), [0.2] * len(one.groups))
    assert overall.n == len(one.groups)
    assert abs(overall.kl - 0.1) < 1e-12 and abs(overall.logprob_drop - 0.2) < 1e-12
    assert [g.name for g in groups][0] == "open"
