"""How close scoring comes to this machine's own limit: achieved FLOP/s of scoring against matmul.

Two numbers, measured in one run on the demo's model (SmolLM2-135M-Instruct, fp32):

* the machine's limit: the matrix products one token makes through the model (each
  layer's attention and MLP projections and the output head, at their real shapes),
  timed for a block of tokens with nothing else around them;
* scoring: forgetcheck's scorer on core-quick's own requests, one request kind at a
  time, with the FLOPs it did counted from the model's actual work: 2 · (parameters
  a token passes through, without the embedding) for every position the decoder
  computed, plus 2 · hidden · vocabulary for every position whose logits were asked
  for. Attention's own score FLOPs are left out, as in the usual 2·N·D estimate, so
  the ratio errs low.

Both are in FLOP per CPU-second (process time), so a shared machine slows both
without changing the ratio; run it with the threads you score with (default 1).
Where the rest goes is split into the time inside the model's forward passes, the
output head within it, and everything outside (tokenizing, log-softmax over the
vocabulary, batching, Python).

Usage:  python benchmarks/flops.py [--threads 1] [--items 54]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time

import torch


def matmul_limit(config, tokens: int, repeats: int, dtype=torch.float32) -> float:
    """FLOP per CPU-second of one token block through the model's own matrix shapes, in ``dtype``."""
    h, m, v = config.hidden_size, config.intermediate_size, config.vocab_size
    kv = h * config.num_key_value_heads // config.num_attention_heads
    shapes = [(h, h), (h, kv), (h, kv), (h, h), (h, m), (h, m), (m, h)] * config.num_hidden_layers + [(h, v)]
    weights = [(torch.randn(o, i) / i ** 0.5).to(dtype) for i, o in shapes]  # stored (out, in), as nn.Linear does
    x = {i: torch.randn(tokens, i).to(dtype) for i in {h, m}}
    with torch.no_grad():
        for w in weights[:8]:
            torch.nn.functional.linear(x[w.shape[1]], w)  # warm-up
        start = time.process_time()
        for _ in range(repeats):
            for w in weights:
                torch.nn.functional.linear(x[w.shape[1]], w)
        seconds = time.process_time() - start
    flops = repeats * sum(2 * tokens * w.numel() for w in weights)
    return flops / seconds


class WorkCounter:
    """Counts decoder positions, logit positions and CPU time inside the model and its head."""

    def __init__(self, model):
        self.logits = 0
        self.forward_s = self.head_s = 0.0
        self._t = self._h = 0.0
        self.handles = [
            model.register_forward_pre_hook(self._enter_model), model.register_forward_hook(self._leave_model),
            model.lm_head.register_forward_pre_hook(self._enter_head),
            model.lm_head.register_forward_hook(self._leave_head),
        ]

    def _enter_model(self, module, args, kwargs=None):
        self._t = time.process_time()

    def _leave_model(self, module, args, output):
        self.forward_s += time.process_time() - self._t

    def _enter_head(self, module, args):
        self._h = time.process_time()
        self.logits += args[0].shape[:-1].numel()

    def _leave_head(self, module, args, output):
        self.head_s += time.process_time() - self._h

    def close(self):
        for h in self.handles:
            h.remove()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--items", type=int, default=54, help="items per request kind, from core-quick")
    parser.add_argument("--out", default="flops.json", help="where the full numbers are written")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from forgetcheck.demo.run import base_model_folder
    from forgetcheck.scoring.hf import HFScorer
    from forgetcheck.suites.asking import score_probe
    from forgetcheck.suites.suite import load_suite

    folder = base_model_folder()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    config = model.config
    embedding = model.get_input_embeddings().weight.numel()
    body = sum(p.numel() for p in model.parameters()) - embedding  # tied head: the embedding is counted once
    head = config.hidden_size * config.vocab_size

    # Decoder positions: count input_ids per forward pass of the decoder (padding included: it was computed).
    decoder = model.model
    seen = {"positions": 0}
    decoder.register_forward_pre_hook(
        lambda m, a, kw: seen.__setitem__("positions", seen["positions"] + kw["input_ids"].numel()) if
        kw.get("input_ids") is not None else None, with_kwargs=True)

    limit = matmul_limit(config, tokens=256, repeats=3)
    probes = {p.name: p for p in load_suite("core-quick").probes}
    kinds = {"choice": ["world-knowledge", "reading-comprehension"], "generate": ["arithmetic"],
             "perplexity": ["language-modelling"]}
    rows = []
    for kind, names in kinds.items():
        counter = WorkCounter(model)
        seen["positions"] = 0
        scorer = HFScorer(model, tokenizer, progress=False)
        start = time.process_time()
        for name in names:
            probe = probes[name]
            score_probe(dataclasses.replace(probe, items=probe.items[:args.items]), scorer)
        seconds = time.process_time() - start
        counter.close()
        flops = 2 * body * seen["positions"] + 2 * head * counter.logits
        achieved = flops / seconds
        rows.append({
            "kind": kind, "probes": names, "cpu_s": round(seconds, 2), "decoder_positions": seen["positions"],
            "logit_positions": counter.logits, "gflop": round(flops / 1e9, 1),
            "gflop_per_cpu_s": round(achieved / 1e9, 2), "share_of_matmul_limit": round(achieved / limit, 3),
            "time_in_model": round(counter.forward_s / seconds, 3),
            "time_in_output_head": round(counter.head_s / seconds, 3),
            "time_outside_model": round(1 - counter.forward_s / seconds, 3),
        })
    result = {
        "model": f"{config._name_or_path} fp32, {body / 1e6:.1f}M parameters besides the embedding",
        "threads": args.threads, "torch": torch.__version__, "cpu": platform.processor() or platform.machine(),
        "matmul_limit_gflop_per_cpu_s": round(limit / 1e9, 2), "kinds": rows,
    }
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"matmul limit at the model's shapes: {limit / 1e9:.1f} GFLOP per CPU-second ({args.threads} thread(s))")
    print("| request kind | GFLOP/CPU-s | share of the limit | in the model | output head | outside the model |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['kind']} | {r['gflop_per_cpu_s']:.1f} | {r['share_of_matmul_limit']:.0%} | "
              f"{r['time_in_model']:.0%} | {r['time_in_output_head']:.0%} | {r['time_outside_model']:.0%} |")


if __name__ == "__main__":
    main()
