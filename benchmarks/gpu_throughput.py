"""Scoring throughput on a GPU: tokens/s and model FLOPs utilisation of forgetcheck's scorer.

Builds a ~1B-parameter Llama-architecture model from a config alone (random
weights: nothing is downloaded, and speed does not depend on what the weights
know), then scores the `core` suite's multiple-choice items through the same
scorer `forgetcheck compare` uses, in bf16 on CUDA by default.

Model FLOPs utilisation (MFU) = 2 · params · tokens / seconds / peak FLOPs, where
  * params are the parameters every token passes through: all but the embedding
    (a lookup, no FLOPs; the output head shares it, so the head's FLOPs on the
    positions that produce logits are not counted: MFU errs low, never high);
  * tokens are the token positions the scorer computed that are not padding
    (a context's common start, encoded once for a batch, counts once);
  * peak is --peak-tflops, or the dense bf16/fp16 tensor peak of a known GPU
    (the table below); without either, MFU is not reported.
Attention's own FLOPs are left out, as in the usual 2·N·D estimate.

Usage:  python benchmarks/gpu_throughput.py [--items 2022] [--peak-tflops 989]
        python benchmarks/gpu_throughput.py --tiny --device cpu --items 14   # a CPU check that it all runs
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

# Dense (no sparsity) bf16/fp16 tensor-core peaks from NVIDIA's datasheets, in TFLOPs,
# matched in order against torch.cuda.get_device_name().
PEAK_TFLOPS = [("H200", 989.0), ("H100 PCIe", 756.0), ("H100", 989.0), ("A100", 312.0), ("L40S", 362.0),
               ("L4", 121.0), ("A10G", 125.0), ("A10", 125.0)]
# Llama-3.2-1B's shape (16 layers, width 2048, grouped-query attention, tied embedding) with the
# tokenizer's vocabulary: 1.07B parameters with SmolLM2's 49k-token vocabulary, 0.97B outside the embedding.
ONE_B = dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
             num_key_value_heads=8, max_position_embeddings=4096)
TINY = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=512)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=2022, help="multiple-choice items of `core`, spread evenly "
                        "over its choice probes (default 2022: all of them)")
    parser.add_argument("--device", default="auto", help="cuda (default when available) or cpu")
    parser.add_argument("--dtype", default="auto", help="auto (bf16 on CUDA, float32 on CPU), bfloat16, float16, "
                        "float32")
    parser.add_argument("--batch-tokens", type=int, default=None, help="token budget per batch (default: "
                        "forgetcheck's for the device)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's peak for the dtype, in "
                        "TFLOPs (default: from the table of known GPUs)")
    parser.add_argument("--tokenizer", default=None, help="a tokenizer folder (default: the demo's SmolLM2)")
    parser.add_argument("--tiny", action="store_true", help="a 2-layer model: checks the script, measures nothing")
    parser.add_argument("--out", default=None, help="also write the results as JSON here")
    args = parser.parse_args()
    result = measure(args)
    print(render(result))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")


def measure(args) -> dict:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from forgetcheck.models.loading import choose_device, choose_dtype
    from forgetcheck.suites.asking import score_probe
    from forgetcheck.scoring.hf import HFScorer

    device = choose_device(args.device)
    dtype = choose_dtype(args.dtype, device)
    tokenizer = AutoTokenizer.from_pretrained(args.tokenizer or demo_tokenizer())
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    config = LlamaConfig(vocab_size=len(tokenizer), tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         **(TINY if args.tiny else ONE_B))
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config).to(dtype).eval()
    params = sum(p.numel() for p in model.parameters())
    flop_params = params - model.get_input_embeddings().weight.numel()
    probes = choice_probes(args.items)

    scorer = HFScorer(model, tokenizer, device=device, batch_tokens=args.batch_tokens, progress=False)
    score_probe(replace(probes[0], items=probes[0].items[:4]), scorer)  # warm-up: kernels, allocator
    scorer.real_tokens = scorer.padded_tokens = 0
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    for probe in probes:
        score_probe(probe, scorer)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - started

    name = torch.cuda.get_device_name() if device.startswith("cuda") else "cpu"
    peak = args.peak_tflops or known_peak(name)
    achieved = 2 * flop_params * scorer.real_tokens / seconds / 1e12
    return {
        "device": name, "dtype": str(dtype).replace("torch.", ""), "model": "tiny" if args.tiny else "~1B Llama",
        "params": params, "flop_params": flop_params, "items": sum(len(p.items) for p in probes),
        "batch_tokens": scorer.batch_tokens, "seconds": seconds, "tokens": scorer.real_tokens,
        "computed_tokens": scorer.padded_tokens, "padding_efficiency": scorer.real_tokens / scorer.padded_tokens,
        "tokens_per_s": scorer.real_tokens / seconds, "items_per_s": sum(len(p.items) for p in probes) / seconds,
        "achieved_tflops": achieved, "peak_tflops": peak, "mfu": achieved / peak if peak else None,
        "peak_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else None,
        "torch": torch.__version__,
    }


def demo_tokenizer() -> Path:
    from forgetcheck.demo.run import base_model_folder

    return base_model_folder(echo=lambda m: print(m, file=sys.stderr))


def choice_probes(n: int) -> list:
    """The first items of each multiple-choice probe of `core`, ``n`` in all, as even as the probes allow."""
    from forgetcheck.suites.suite import load_suite

    probes = [p for p in load_suite("core").probes if p.kind == "choice"]
    per_probe = math.ceil(n / len(probes))
    picked, left = [], n
    for probe in probes:
        take = min(per_probe, len(probe.items), left)
        if take:
            picked.append(replace(probe, items=probe.items[:take]))
        left -= take
    return picked


def known_peak(device_name: str) -> float | None:
    """The dense bf16 tensor peak of a GPU in the table, by name; None when it is not there."""
    return next((peak for key, peak in PEAK_TFLOPS if key in device_name), None)


def render(r: dict) -> str:
    mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "n/a (give --peak-tflops)"
    memory = f" · peak GPU memory {r['peak_memory_gib']:.1f} GiB" if r["peak_memory_gib"] is not None else ""
    return "\n".join([
        f"{r['model']} ({r['params'] / 1e9:.3f}B parameters, {r['flop_params'] / 1e9:.3f}B counted for FLOPs) · "
        f"{r['dtype']} on {r['device']} · torch {r['torch']}",
        f"{r['items']} items in {r['seconds']:.2f} s ({r['items_per_s']:.1f} items/s) · batch tokens "
        f"{r['batch_tokens']:,}{memory}",
        f"tokens: {r['tokens']:,} computed without padding, {r['computed_tokens']:,} with it "
        f"(padding efficiency {r['padding_efficiency']:.3f})",
        f"throughput: {r['tokens_per_s']:,.0f} tokens/s · {r['achieved_tflops']:.2f} TFLOPs achieved · "
        f"peak {r['peak_tflops'] or 'unknown'} TFLOPs · MFU {mfu}",
    ])


if __name__ == "__main__":
    main()
