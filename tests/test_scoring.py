"""Per-item log-likelihoods equal a direct transformers computation."""

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from forgetcheck.models.weights import merge_for_candidate
from forgetcheck.models.loading import attach_adapter
from forgetcheck.scoring.seam import GenerationRequest
from forgetcheck.scoring.hf import HFScorer
from forgetcheck.models.specs import resolve
from tests.conftest import COLOURS, ForwardCounter


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


def choice_requests_with_a_shared_start():
    """Items that all start with the same words, each with choices of one to five tokens."""
    choices = [" red", " blue green", " gold red blue", " fact 3 is red", " green"]
    return [(f"the quick brown fox jumps over the lazy dog and fact {i} is", c) for i in range(8) for c in choices]


class TokenCounter:
    """Counts the token positions the model really computes, and those that are not padding."""

    def __init__(self, model):
        self.computed = self.real = 0
        self.handle = model.register_forward_pre_hook(self, with_kwargs=True)

    def __call__(self, module, args, kwargs):
        ids, mask = kwargs["input_ids"], kwargs.get("attention_mask")
        self.computed += ids.numel()
        self.real += ids.numel() if mask is None else int(mask[:, -ids.shape[1]:].sum())


def test_shared_contexts_compute_their_common_start_once_and_pad_no_continuation(tiny_base):
    model, tokenizer = load(tiny_base)
    requests = choice_requests_with_a_shared_start()
    scorer = HFScorer(model, tokenizer, progress=False)
    counter = TokenCounter(model)
    got = scorer.loglikelihood(requests)
    counter.handle.remove()
    for (context, continuation), result in zip(requests, got):
        assert abs(result.logprob - direct_loglikelihood(model, tokenizer, context, continuation)) < 1e-4
    # The scorer reports exactly the tokens the model computed.
    assert (scorer.padded_tokens, scorer.real_tokens) == (counter.computed, counter.real)
    contexts = [tokenizer(c)["input_ids"] for c in dict.fromkeys(c for c, _ in requests)]
    continuation_tokens = sum(len(tokenizer(x, add_special_tokens=False)["input_ids"]) - 1 for _, x in requests)
    # Encoded one by one, the contexts alone would cost more than the whole batch did.
    assert counter.computed < sum(len(c) for c in contexts)
    # Contexts of one length need no left padding, and continuations are never padded.
    assert len({len(c) for c in contexts}) == 1 and counter.real == counter.computed
    assert counter.computed > continuation_tokens


def test_out_of_memory_halves_the_batch_and_gives_the_same_numbers(tiny_base):
    model, tokenizer = load(tiny_base)
    requests = choice_requests_with_a_shared_start()
    expected = HFScorer(model, tokenizer, progress=False).loglikelihood(requests)

    def small_memory(module, args, kwargs):
        if kwargs["input_ids"].shape[0] > 4:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    scorer = HFScorer(model, tokenizer, progress=False)
    handle = model.register_forward_pre_hook(small_memory, with_kwargs=True)
    try:
        got = scorer.loglikelihood(requests)
    finally:
        handle.remove()
    assert scorer.batch_tokens < 4096
    assert max(abs(a.logprob - b.logprob) for a, b in zip(got, expected)) < 1e-4


def test_merged_adapter_scores_equal_the_unmerged_peft_forward(tiny_base, forgetful_adapter):
    model, tokenizer = load(tiny_base)
    wrapped = attach_adapter(model, resolve(str(forgetful_adapter)))
    requests = choice_requests_with_a_shared_start() + [(f"fact {i} is", " blue") for i in range(5)]
    unmerged = [direct_loglikelihood(wrapped, tokenizer, c, x) for c, x in requests]
    with wrapped.disable_adapter():
        base = [direct_loglikelihood(wrapped, tokenizer, c, x) for c, x in requests]
    assert merge_for_candidate(wrapped)
    assert all(layer.merged for layer in wrapped.modules() if hasattr(layer, "merged_adapters"))
    merged = HFScorer(wrapped, tokenizer, progress=False).loglikelihood(requests)
    assert max(abs(m.logprob - u) for m, u in zip(merged, unmerged)) < 1e-4
    # The adapter really changes these scores, so the match above says something.
    assert max(abs(u - b) for u, b in zip(unmerged, base)) > 0.1


def test_an_adapter_stays_unmerged_where_merging_is_not_exact(tiny_base, forgetful_adapter):
    from peft import LoraConfig, get_peft_model

    half, _ = load(tiny_base)
    half_wrapped = attach_adapter(half.to(torch.bfloat16), resolve(str(forgetful_adapter)))
    assert not merge_for_candidate(half_wrapped)
    assert not merge_for_candidate(attach_adapter(load(tiny_base)[0], resolve(str(forgetful_adapter))), "auto")
    tied, _ = load(tiny_base)
    tied.lm_head.weight = tied.model.embed_tokens.weight  # as models with tie_word_embeddings have it
    tied_wrapped = get_peft_model(tied, LoraConfig(r=4, target_modules=["lm_head", "q_proj"]))
    assert not merge_for_candidate(tied_wrapped)
    assert not any(getattr(layer, "merged", False) for layer in tied_wrapped.modules())


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


def test_generation_ends_at_its_stop_string_with_the_answers_it_would_have_cut_to(tiny_base, monkeypatch):
    model, tokenizer = load(tiny_base)
    # "fact 3" goes on " is red" and then ends: stopping at the colour saves the step that ends it.
    requests = [GenerationRequest(f"fact {i}", tuple(COLOURS), 12) for i in range(8)]
    # model.generate's path (forgetcheck's own loop is checked against it in test_decoding.py).
    from forgetcheck.scoring import decoding
    monkeypatch.setattr(decoding, "plain_decoding", lambda model: False)
    with ForwardCounter() as stopping:
        early = HFScorer(model, tokenizer, progress=False).generate(requests)
    generate = model.generate
    monkeypatch.setattr(model, "generate", lambda *a, stopping_criteria=None, **k: generate(*a, **k))
    with ForwardCounter() as running_on:
        full = HFScorer(model, tokenizer, progress=False).generate(requests)
    assert early == full and any(early)
    assert stopping.calls < running_on.calls  # decoding steps after every row's stop were skipped


def test_an_adapter_comparison_scores_the_merged_candidate_like_the_unmerged_one(tiny_base, forgetful_adapter,
                                                                                 tiny_suite, monkeypatch):
    import forgetcheck.models.weights as weights_module
    import forgetcheck.workflows.compare as compare_module

    merges = []
    merge = weights_module.merge_for_candidate
    monkeypatch.setattr(weights_module, "merge_for_candidate", lambda *args: merges.append(merge(*args)) or merges[-1])

    def run():
        # On the CPU in float32, where merging is exact (on a GPU, bf16 keeps the adapter unmerged).
        return compare_module.compare(str(tiny_base), str(forgetful_adapter), str(tiny_suite), cache=False,
                                      progress=False, kl_samples=0, recovery_shots=0, device="cpu")

    merged = run()
    monkeypatch.setattr(weights_module, "merge_for_candidate", lambda *args: False)
    unmerged = run()
    assert merges == [True]
    # The base pass ran before the merge; the candidate's numbers agree to 1e-4 (per token, for perplexity).
    assert [i.base_score for i in merged.items] == [i.base_score for i in unmerged.items]
    assert max(abs(m.candidate_score - u.candidate_score) for m, u in zip(merged.items, unmerged.items)) < 1e-4
    assert [c.verdict for c in merged.capabilities] == [c.verdict for c in unmerged.capabilities]


def test_the_gpu_throughput_benchmark_runs_on_cpu_with_a_tiny_model(tiny_base, tmp_path):
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_throughput.py"
    out = tmp_path / "throughput.json"
    done = subprocess.run([sys.executable, str(script), "--tiny", "--device", "cpu", "--items", "14", "--tokenizer",
                           str(tiny_base), "--peak-tflops", "1", "--out", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["items"] == 14 and result["device"] == "cpu" and result["dtype"] == "float32"
    assert 0 < result["tokens"] <= result["computed_tokens"] and result["tokens_per_s"] > 0
    assert 0 < result["mfu"] < 1 and "MFU" in done.stdout


def test_a_group_of_continuations_scores_the_same_at_once_as_row_by_row(tiny_base):
    # The GPU reduces a whole group at once, the CPU row by row: both ways, on the same logits, agree.
    from forgetcheck.scoring.hf import continuation_results

    model, tokenizer = load(tiny_base)
    ids = torch.tensor([tokenizer("fact 1 is red and fact 2 is blue")["input_ids"]] * 3)
    with torch.no_grad():
        logits = model(ids).logits
    lead = torch.log_softmax(logits[:, 0].float(), dim=-1)
    tokens = [ids[0, 2:5].tolist(), ids[0, 3:6].tolist(), ids[0, 1:4].tolist()]
    at = [(0, 1), (1, 2), (2, 0)]
    ways = [continuation_results(tokens, logits=logits, at=at, at_once=once) for once in (True, False)]
    ways += [continuation_results(tokens, logits=logits, at=[(r, s + 1) for r, s in at], lead=lead, lead_at=[0, 1, 2],
                                  at_once=once) for once in (True, False)]
    assert ways[0] == ways[1] and ways[2] == ways[3]
    direct = torch.log_softmax(logits[0].float(), dim=-1)
    assert abs(ways[0][0].logprob - sum(direct[1 + t, tok].item() for t, tok in enumerate(tokens[0]))) < 1e-4
    assert [r.n_tokens for r in ways[2]] == [3, 3, 3]
