"""Two chunks side by side against one at a time: `forgetcheck compare` on the CPU, in one run.

On a CPU, forgetcheck scores two chunks of a suite at once in two threads that
split the cores (``forgetcheck.models.parallel.cpu_workers``). This script runs the
same comparison (the demo's SmolLM2-135M-Instruct against its adapter, by default
on core-quick, no cache, no drift or re-asking) with ``FORGETCHECK_CPU_WORKERS=1``
and ``=2`` in turn, each in its own process, and reports the wall-clock seconds of
each pass, the ratio, and whether every per-item score and answer came out the same.

Usage:  python benchmarks/cpu_workers.py [--suite core-quick] [--repeats 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(workers: int, base: str, candidate: str, suite: str, out: Path) -> dict:
    env = {**os.environ, "FORGETCHECK_CPU_WORKERS": str(workers)}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "forgetcheck.cli", "compare", base, candidate, "--suite", suite,
                           "--no-cache", "--kl-samples", "0", "--recovery-shots", "0", "--quiet", "--out", str(out)],
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1):
        sys.exit(f"compare failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    report = json.loads((out / "report.json").read_text())
    items = [(i["capability"], i["item_id"], i["base_score"], i["candidate_score"], i["base_answer"],
              i["candidate_answer"]) for i in report["items"]]
    return {"wall": wall, "base": report["timings"]["base_s"], "candidate": report["timings"]["candidate_s"],
            "items": items}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", default="core-quick", help="suite to compare on (default core-quick)")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each setting, alternating (default 1)")
    args = parser.parse_args()
    from forgetcheck.demo.run import demo_models

    base, adapter = demo_models(echo=lambda m: print(m, file=sys.stderr))
    print(f"load average before: {os.getloadavg()[0]:.2f}; torch threads: "
          f"{os.environ.get('OMP_NUM_THREADS', 'one per core')}; cores: {os.cpu_count()}")
    results: dict[int, list[dict]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(args.repeats):
            for workers in (1, 2):
                results[workers].append(run(workers, str(base), str(adapter), args.suite,
                                            Path(tmp) / f"w{workers}-{k}"))
    reference = results[1][0]["items"]
    differ = [(a, b) for runs in results.values() for r in runs for a, b in zip(reference, r["items"]) if a != b]
    gap = max((abs(a[k] - b[k]) for a, b in differ for k in (2, 3)), default=0.0)
    print(f"\n| chunks at a time | whole compare (s) | base pass (s) | candidate pass (s) |\n|---:|---:|---:|---:|")
    for workers, runs in results.items():
        mean = {key: sum(r[key] for r in runs) / len(runs) for key in ("wall", "base", "candidate")}
        print(f"| {workers} | {mean['wall']:.1f} | {mean['base']:.1f} | {mean['candidate']:.1f} |")
    one, two = (sum(r["wall"] for r in results[w]) for w in (1, 2))
    passes = [sum(r["base"] + r["candidate"] for r in results[w]) for w in (1, 2)]
    print(f"\nside by side: {one / two:.2f}x faster in all, {passes[0] / passes[1]:.2f}x on the two passes; "
          f"per-item scores and answers: {len(differ)} of {len(reference)} differ (largest score gap {gap:.2g}); "
          f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
