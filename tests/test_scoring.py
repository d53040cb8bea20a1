"""Per-item log-likelihoods equal a direct transformers computation."""

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from forgetcheck.scoring.base import GenerationRequest
from forgetcheck.scoring.hf import HFScorer


def direct_loglikelihood(model, tokenizer, context: str, continuation: str) -> float:
    ctx = tokenizer(context)["input_ids"]
    cont = tokenizer(continuation, add_special_tokens=False)["input_ids"]
    ids = torch.tensor([ctx + cont])
    with torch.no_grad():
        logprobs = torch.log_softmax(model(ids).logits[0].float(), dim=-1)
    return sum(logprobs[len(ctx) - 1 + k, tok].item() for k, tok in enumerate(cont))


def load(path):
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval(), AutoTokenizer.from_pretrained(path)


def test_loglikelihood_matches_direct_computation_in_batches(tiny_base):
    model, tokenizer = load(tiny_base)
    requests = [(f"fact {i} is", f" {c}") for i in range(0, 40, 3) for c in ("red", "blue green gold")]
    requests.append(("the quick brown fox jumps over the lazy dog and then", " fact 3 is red"))
    # A small token budget forces many batches of mixed lengths, with padding.
    scorer = HFScorer(model, tokenizer, batch_tokens=64, progress=False)
    got = scorer.loglikelihood(requests)
    for (context, continuation), result in zip(requests, got):
        assert abs(result.logprob - direct_loglikelihood(model, tokenizer, context, continuation)) < 1e-4
    # The same numbers whatever the batch size.
    again = HFScorer(model, tokenizer, batch_tokens=4096, progress=False).loglikelihood(requests)
    assert max(abs(a.logprob - b.logprob) for a, b in zip(got, again)) < 1e-4


def test_rolling_loglikelihood_scores_every_token(tiny_base):
    model, tokenizer = load(tiny_base)
    scorer = HFScorer(model, tokenizer, progress=False)
    text = "fact 1 is blue fact 2 is green"
    [result] = scorer.rolling_loglikelihood([text])
    tokens = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert result.n_tokens == len(tokens)
    expected = direct_loglikelihood(model, tokenizer, tokenizer.eos_token, text)
    assert abs(result.logprob - expected) < 1e-4


def test_rolling_loglikelihood_windows_long_text(tiny_base):
    model, tokenizer = load(tiny_base)
    scorer = HFScorer(model, tokenizer, progress=False)
    long_text = " ".join(f"fact {i} is red" for i in range(60))  # longer than the 128-token context
    [result] = scorer.rolling_loglikelihood([long_text])
    assert result.n_tokens == len(tokenizer(long_text, add_special_tokens=False)["input_ids"]) > 128


def test_greedy_generation_is_batch_independent_and_stops(tiny_base):
    model, tokenizer = load(tiny_base)
    requests = [GenerationRequest(f"fact {i} is", ("fact",), 3) for i in range(12)]
    batched = HFScorer(model, tokenizer, progress=False).generate(requests)
    single = [HFScorer(model, tokenizer, progress=False).generate([r])[0] for r in requests[:4]]
    assert batched[:4] == single
    assert all("fact" not in text for text in batched)
