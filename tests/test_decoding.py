"""forgetcheck's own decoding loop: the answers model.generate gives, with finished rows leaving the batch."""

import random

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from forgetcheck.scoring import decoding
from forgetcheck.scoring.hf import HFScorer
from forgetcheck.scoring.seam import GenerationRequest
from forgetcheck.suites import checkers
from tests.conftest import COLOURS


def load(path):
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval(), AutoTokenizer.from_pretrained(path)


class Positions:
    """Counts the token positions the model computed (rows × width of every forward pass)."""

    def __init__(self, model):
        self.count = 0
        self.handle = model.register_forward_pre_hook(self.seen, with_kwargs=True)

    def seen(self, module, args, kwargs):
        ids = kwargs.get("input_ids")
        self.count += ids.numel() if ids is not None else 0

    def close(self):
        self.handle.remove()


def requests_of_mixed_lengths():
    # Contexts of different lengths sharing their start; rows that stop at "red" end a step before the rest
    # (which go on to end of text), and a batch without stop strings.
    prompts = [f"fact {i}" for i in range(12)] + [f"fact {i} is" for i in range(12, 16)]
    return [GenerationRequest(p, ("red",), 10) for p in prompts] + [GenerationRequest(p, (), 10) for p in prompts[:6]]


def answers_both_ways(scorer_for, requests, monkeypatch):
    """The answers of forgetcheck's loop and of model.generate, and the positions each computed."""
    out = {}
    for way in ("loop", "generate"):
        with monkeypatch.context() as patch:
            if way == "generate":
                patch.setattr(decoding, "plain_decoding", lambda model: False)
            scorer = scorer_for()
            counter = Positions(scorer.model)
            out[way] = (scorer.generate(requests), counter.count)
            counter.close()
    return out


def test_greedy_answers_are_those_of_model_generate_with_fewer_positions(tiny_base, monkeypatch):
    model, tokenizer = load(tiny_base)
    requests = requests_of_mixed_lengths()
    out = answers_both_ways(lambda: HFScorer(model, tokenizer, progress=False), requests, monkeypatch)
    assert out["loop"][0] == out["generate"][0]
    assert any(out["loop"][0]) and any(a == "" or len(a) < 20 for a in out["loop"][0])
    # Rows that ended left the batch, and the prompts' shared start was computed once.
    assert out["loop"][1] < out["generate"][1]


def test_an_unmerged_adapter_decodes_like_model_generate(tiny_base, forgetful_adapter, monkeypatch):
    from peft import PeftModel

    base, tokenizer = load(tiny_base)
    model = PeftModel.from_pretrained(load(tiny_base)[0], str(forgetful_adapter)).eval()
    requests = requests_of_mixed_lengths()
    out = answers_both_ways(lambda: HFScorer(model, tokenizer, progress=False), requests, monkeypatch)
    assert out["loop"][0] == out["generate"][0]
    # With the adapter switched off (the base pass of an adapter comparison) it is the base's answers.
    off = HFScorer(model, tokenizer, progress=False, context_manager=model.disable_adapter).generate(requests)
    assert off == HFScorer(base, tokenizer, progress=False).generate(requests)


def test_a_generation_config_that_changes_decoding_keeps_model_generate(tiny_base, monkeypatch):
    model, tokenizer = load(tiny_base)
    model.generation_config.repetition_penalty = 1.5
    assert not decoding.plain_decoding(model)
    calls = []
    generate = model.generate
    monkeypatch.setattr(model, "generate", lambda *a, **k: calls.append(1) or generate(*a, **k))
    answers = HFScorer(model, tokenizer, progress=False).generate([GenerationRequest("fact 3", (), 6)])
    assert calls and answers[0]


def test_a_row_stops_once_its_check_cannot_pass_with_the_same_score(tiny_base):
    model, tokenizer = load(tiny_base)
    spec = {"type": "one_word"}
    prompts = [f"fact {i}" for i in range(8)]
    plain = [GenerationRequest(p, (), 12) for p in prompts]
    hopeful = [GenerationRequest(p, (), 12, lambda text: checkers.cannot_pass(spec, text)) for p in prompts]
    full = HFScorer(model, tokenizer, progress=False).generate(plain)
    short = HFScorer(model, tokenizer, progress=False).generate(hopeful)
    assert [checkers.passes(spec, a) for a in full] == [checkers.passes(spec, a) for a in short]
    assert all(f.startswith(s) for f, s in zip(full, short))
    assert any(len(s) < len(f) for f, s in zip(full, short))  # some answers failed early and stopped there


CHECKS = [{"type": "one_word"}, {"type": "max_words", "n": 3}, {"type": "lowercase"}, {"type": "uppercase"},
          {"type": "starts_with", "text": "Yes"}, {"type": "bullets", "count": 2},
          {"type": "json_key", "key": "a"}, {"type": "ends_with", "text": "end"}]


@pytest.mark.parametrize("spec", CHECKS, ids=lambda s: s["type"])
def test_a_check_that_cannot_pass_never_passes_once_the_answer_goes_on(spec):
    # Random answers from pieces the checks care about; every prefix judged hopeless must fail in full.
    pieces = ["Yes", "yes", " ", "\n", "- a", "- b", "* c", "Word", "end", ".", "{\"a\": 1}", "A", "b", "\n- a"]
    rng = random.Random(0)
    judged = 0
    for _ in range(400):
        answer = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 8)))
        for cut in range(len(answer) + 1):
            if checkers.cannot_pass(spec, answer[:cut]):
                judged += 1
                assert not checkers.meets_format(spec, answer), (spec, answer[:cut], answer)
    if spec["type"] in ("json_key", "ends_with"):
        assert judged == 0  # these are never settled early: more text can still make them pass
    else:
        assert judged > 0


def test_sampling_is_seeded_and_ends_at_end_of_text(tiny_base):
    model, tokenizer = load(tiny_base)
    scorer = HFScorer(model, tokenizer, progress=False)
    contexts = [f"fact {i}" for i in range(6)]
    first = scorer.sample(contexts, seed=3, max_tokens=12)
    again = scorer.sample(contexts, seed=3, max_tokens=12)
    assert [s.tokens for s in first] == [s.tokens for s in again]
    eos = tokenizer.eos_token_id
    for sample in first:
        assert 1 <= len(sample.tokens) <= 12
        assert eos not in sample.tokens[:-1]  # nothing is kept after the model chose to stop
