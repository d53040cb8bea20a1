"""Data-parallel scoring: two gloo processes on CPU give exactly what one process gives."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from forgetcheck.results.store import ResultCache
from forgetcheck.workflows.compare import compare
from tests.conftest import write_suite

WORKER = """
import dataclasses, json, sys
from forgetcheck.models import parallel
from forgetcheck.workflows.compare import compare

base, candidate, suite, cache, out = sys.argv[1:6]
comparison = compare(base, candidate, suite, cache=cache if cache != "off" else False, progress=False)
row = {"rank": parallel.rank(), "world": parallel.world_size(), "counts": dataclasses.asdict(comparison.counts),
       "items": [[i.item_id, i.base_score, i.candidate_score, i.base_answer, i.candidate_answer, i.recovered]
                 for i in comparison.items],
       "capabilities": [[c.name, c.base_score, c.candidate_score, c.extra, c.verdict] for c in comparison.capabilities]}
with open(f"{out}.{parallel.rank()}.json", "w") as f:
    json.dump(row, f)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_two(tmp_path: Path, base, candidate, suite, cache: str) -> list[dict]:
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    out = tmp_path / "result"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).parent.parent)}
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_addr", "127.0.0.1",
         "--master_port", str(free_port()), str(worker), str(base), str(candidate), str(suite), cache, str(out)],
        capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return [json.loads((tmp_path / f"result.{rank}.json").read_text()) for rank in (0, 1)]


def one_process(comparison) -> tuple[list, list]:
    items = [[i.item_id, i.base_score, i.candidate_score, i.base_answer, i.candidate_answer, i.recovered]
             for i in comparison.items]
    caps = [[c.name, c.base_score, c.candidate_score, c.extra, c.verdict] for c in comparison.capabilities]
    return json.loads(json.dumps(items)), json.loads(json.dumps(caps))


def test_two_gloo_processes_equal_one_process(tiny_base, forgetful_adapter, tmp_path):
    suite = write_suite(tmp_path / "suite", n_facts=24)
    store = tmp_path / "cache"
    ranks = launch_two(tmp_path, tiny_base, forgetful_adapter, suite, str(store))
    single_store = tmp_path / "single-cache"
    single_items, single_caps = one_process(
        compare(str(tiny_base), str(forgetful_adapter), str(suite), cache=single_store, progress=False))
    assert any(item[-1] is not None for item in single_items)  # forgotten answers were asked again
    for row in ranks:
        assert row["world"] == 2
        assert row["items"] == single_items  # every float and answer, exactly
        assert row["capabilities"] == single_caps
    # Each process scored only its share of the chunks, and together they scored everything once.
    shares = [row["counts"]["scored_items_this_process"] for row in ranks]
    assert all(0 < share < 2 * len(single_items) for share in shares)
    assert sum(shares) == 2 * len(single_items) == ranks[0]["counts"]["scored_items"]
    # Both processes wrote to one cache at the same time, the same entries one process writes
    # (suite items, re-asked answers, drift samples and results); a later run finds it all there.
    assert ResultCache(store).info()["entries"] == ResultCache(single_store).info()["entries"]
    warm = compare(str(tiny_base), str(forgetful_adapter), str(suite), cache=store, progress=False)
    assert warm.counts.scored_items == 0 and one_process(warm)[0] == single_items


def test_device_map_auto_on_cpu_says_so_in_one_line(tiny_base, tmp_path):
    suite = write_suite(tmp_path / "suite", n_facts=8)
    warnings = []
    comparison = compare(str(tiny_base), str(tiny_base), str(suite), device="cpu", device_map="auto", cache=False,
                         progress=False, warn=warnings.append)
    assert comparison.settings.device == "cpu"
    assert warnings == ["--device-map auto only spreads a model over GPUs; on cpu it is ignored"]
