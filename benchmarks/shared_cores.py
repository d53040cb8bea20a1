"""How scoring degrades when another job shares the cores, by OpenMP wait policy.

CI runners often share cores. torch starts one thread per core, and OpenMP threads
that wait for work spin by default ("active"), burning the cycles the other job
needs: two such processes on 2 cores slow each other far more than 2x. With
``OMP_WAIT_POLICY=PASSIVE`` waiting threads sleep instead. This script scores the
same requests (two core-quick capabilities on the demo's model: one choice, one
generation) alone and as two copies at once, under each policy, and reports wall
times side by side in one run.

Usage:  python benchmarks/shared_cores.py [--items 30]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

WORK = """
import dataclasses, sys, torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from forgetcheck.demo.run import base_model_folder
from forgetcheck.scoring.hf import HFScorer
from forgetcheck.suites.asking import score_probe
from forgetcheck.suites.suite import load_suite
folder = base_model_folder()
scorer = HFScorer(AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval(),
                  AutoTokenizer.from_pretrained(folder), progress=False)
probes = {p.name: p for p in load_suite("core-quick").probes}
for name in ("world-knowledge", "knowledge-recall"):
    score_probe(dataclasses.replace(probes[name], items=probes[name].items[:int(sys.argv[1])]), scorer)
"""


def run(copies: int, policy: str | None, items: int) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    if policy:
        env["OMP_WAIT_POLICY"] = policy
    start = time.perf_counter()
    jobs = [subprocess.Popen([sys.executable, "-c", WORK, str(items)], env=env, stderr=subprocess.DEVNULL)
            for _ in range(copies)]
    if any(job.wait() for job in jobs):
        raise SystemExit("a scoring job failed")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=30)
    args = parser.parse_args()
    print(f"cores: {len(os.sched_getaffinity(0))} · load average before: {os.getloadavg()[0]:.1f}")
    print("| OpenMP wait policy | one job alone | two jobs at once | slowdown |")
    print("|---|---:|---:|---:|")
    for policy in (None, "PASSIVE"):
        alone = run(1, policy, args.items)
        shared = run(2, policy, args.items)
        print(f"| {policy or 'default (active)'} | {alone:.1f} s | {shared:.1f} s | {shared / alone:.2f}x |",
              flush=True)


if __name__ == "__main__":
    main()
