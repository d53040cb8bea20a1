"""benchmarks/generation_throughput.py on the tiny model: the three methods answer the same requests alike.

The benchmark's ratios mean something only if forgetcheck, plain `model.generate`
and lm-eval's `generate_until` are given the same prompts, stop strings and token
limits, and the same model (the adapter included in the merged-adapter case). Here
greedy answers from a model that memorised its facts must agree item for item.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "generation_throughput.py"


def test_the_generation_benchmark_asks_all_three_methods_the_same(tiny_base, forgetful_adapter, tiny_suite, tmp_path):
    pytest.importorskip("lm_eval")
    out = tmp_path / "generation.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--model", str(tiny_base), "--adapter", str(forgetful_adapter),
                           "--suite", str(tiny_suite), "--probes", "recall", "--items", "24", "--plain-batch-size", "5",
                           "--harness-batch-size", "7", "--json", str(out)],
                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    cases = json.loads(out.read_text())["cases"]
    for case in ("default", "merged-adapter"):
        methods = cases[case]["methods"]
        assert set(methods) == {"forgetcheck", "plain generate", "lm-eval"}
        for m in methods.values():
            assert len(m["answers"]["recall"]) == 24 and m["cpu_s"] > 0 and m["decode_slots"] > 0
        # Batches of 5 and 7 and forgetcheck's token budget cut the requests differently; the answers still agree.
        assert {m["batches"] for m in methods.values()} == {1, 5, 4}
        assert all(pair["same"] == pair["of"] == 24 for pair in cases[case]["agreement"].values()), case
        assert cases[case]["prompt_tokens_identical"] == "24/24"
    # The merged-adapter case runs the adapter in every method: the forgetful adapter changes answers.
    default = cases["default"]["methods"]["forgetcheck"]["answers"]["recall"]
    merged = cases["merged-adapter"]["methods"]["forgetcheck"]["answers"]["recall"]
    assert default != merged
    assert "| default | lm-eval |" in done.stdout and "forgetcheck = lm-eval 24/24" in done.stdout
