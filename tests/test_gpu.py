"""The GPU path: scoring on CUDA agrees with a direct transformers computation and with the CPU.

Every test here needs a CUDA device and skips cleanly without one (CI has none).
They check what a GPU changes: where tensors live, the default dtype (bf16 on
CUDA) and its batching, and that a comparison run there judges like one run on
the CPU. Run them on a GPU machine with ``python -m pytest -q tests/test_gpu.py``.
"""

import json

import pytest
import torch

from forgetcheck.models.loading import choose_dtype
from forgetcheck.scoring.hf import HFScorer
from forgetcheck.scoring.seam import GenerationRequest
from tests.conftest import run
from tests.test_scoring import direct_loglikelihood

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def load_on(path, device: str, dtype=torch.float32):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(device).eval()
    return model, AutoTokenizer.from_pretrained(path)


def test_cuda_loglikelihoods_match_a_direct_computation_and_the_cpu(tiny_base):
    requests = [(f"fact {i} is", f" {c}") for i in range(0, 40, 3) for c in ("red", "blue green gold")]
    model, tokenizer = load_on(tiny_base, "cuda")
    got = HFScorer(model, tokenizer, device="cuda", batch_tokens=64, progress=False).loglikelihood(requests)
    for (context, continuation), result in zip(requests, got):
        direct = direct_loglikelihood(model.cpu(), tokenizer, context, continuation)
        model.to("cuda")
        assert abs(result.logprob - direct) < 1e-3
    cpu_model, _ = load_on(tiny_base, "cpu")
    on_cpu = HFScorer(cpu_model, tokenizer, progress=False).loglikelihood(requests)
    assert max(abs(a.logprob - b.logprob) for a, b in zip(got, on_cpu)) < 1e-3
    assert [a.is_greedy for a in got] == [b.is_greedy for b in on_cpu]


def test_bf16_is_the_cuda_default_and_greedy_generation_is_batch_independent_there(tiny_base):
    assert choose_dtype("auto", "cuda") == torch.bfloat16
    model, tokenizer = load_on(tiny_base, "cuda", torch.bfloat16)
    requests = [GenerationRequest(f"fact {i} is", ("fact",), 3) for i in range(12)]
    batched = HFScorer(model, tokenizer, device="cuda", progress=False).generate(requests)
    # One item at a time pads nothing; bf16 may move a near-tie, so most (not all) answers must agree.
    single = [HFScorer(model, tokenizer, device="cuda", progress=False).generate([r])[0] for r in requests]
    assert sum(a == b for a, b in zip(batched, single)) >= 10
    assert all("fact" not in text for text in batched)


def test_compare_on_cuda_finds_the_forgetting_the_cpu_finds(tiny_base, forgetful_adapter, tiny_suite, tmp_path):
    verdicts = {}
    for device, dtype in (("cuda", "bfloat16"), ("cpu", "float32")):
        out = tmp_path / device
        result = run("compare", str(tiny_base), str(forgetful_adapter), "--suite", str(tiny_suite), "--device",
                     device, "--dtype", dtype, "--out", str(out), "--quiet", "--no-cache")
        report = json.loads((out / "report.json").read_text())
        assert result.exit_code == 1, result.output  # the adapter forgets: regressed on both
        assert report["settings"]["device"].startswith(device) and report["settings"]["dtype"] == dtype
        verdicts[device] = {c["name"]: c["verdict"] for c in report["capabilities"]}
    assert verdicts["cuda"] == verdicts["cpu"]
