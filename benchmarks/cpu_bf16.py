"""Is bf16 faster than float32 on this CPU? SmolLM2-135M's matrix products, timed both ways.

`--dtype auto` keeps float32 on a CPU. bf16 halves the bytes a weight takes, but a CPU
without bf16 instructions (AVX512-BF16 or AMX) converts every value on the way in and
out of each product, which costs more than it saves. This script measures it side by
side in one run, per thread, and says which instructions the CPU reports.

Usage:  python benchmarks/cpu_bf16.py [--tokens 256] [--threads 1]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import SimpleNamespace

import torch

sys.path.insert(0, str(Path(__file__).parent))
from flops import matmul_limit  # noqa: E402  (the same timing as the machine's limit there)

# SmolLM2-135M-Instruct's shapes, so no model needs loading.
SMOLLM2 = SimpleNamespace(hidden_size=576, intermediate_size=1536, vocab_size=49152, num_attention_heads=9,
                          num_key_value_heads=3, num_hidden_layers=30)


def cpu_flags() -> str:
    try:
        flags = next(line for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("flags"))
    except (OSError, StopIteration):
        return "unknown (no /proc/cpuinfo)"
    wanted = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags.split()]
    return ", ".join(wanted) or "none of avx2, avx512f, avx512_bf16, amx_bf16"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    fp32 = matmul_limit(SMOLLM2, args.tokens, args.repeats, torch.float32) / 1e9
    bf16 = matmul_limit(SMOLLM2, args.tokens, args.repeats, torch.bfloat16) / 1e9
    print(f"CPU instructions: {cpu_flags()}; torch {torch.__version__}, {args.threads} thread(s)")
    print(f"float32: {fp32:.1f} GFLOP per CPU-second · bf16: {bf16:.1f}")
    print(f"bf16 is {bf16 / fp32:.2f}x float32's rate here" + (" (slower: keep float32)" if bf16 < fp32 else ""))


if __name__ == "__main__":
    main()
