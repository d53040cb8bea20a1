"""The result cache: warm runs skip scoring, resume after a crash, and never change a number."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest
from click.testing import CliRunner

import forgetcheck.results.runner as runner_module
from forgetcheck.results.store import ResultCache
from forgetcheck.cli import main
from forgetcheck.workflows.compare import compare
from forgetcheck.models.specs import resolve
from tests.conftest import ForwardCounter, write_suite


@pytest.fixture(scope="module")
def small_suite(tmp_path_factory):
    return write_suite(tmp_path_factory.mktemp("cache-suite"), n_facts=40)


def per_item(comparison):
    return [(i.capability, i.item_id, i.base_score, i.candidate_score, i.base_answer, i.candidate_answer)
            for i in comparison.items]


def summary(comparison):
    return [(c.name, c.base_score, c.candidate_score, c.extra) for c in comparison.capabilities]


def test_warm_rerun_scores_nothing_and_equals_the_cold_run(tiny_base, forgetful_adapter, small_suite, tmp_path):
    store = tmp_path / "cache"
    with ForwardCounter() as cold_passes:
        cold = compare(str(tiny_base), str(forgetful_adapter), str(small_suite), cache=store, progress=False)
    with ForwardCounter() as warm_passes:
        warm = compare(str(tiny_base), str(forgetful_adapter), str(small_suite), cache=store, progress=False)
    n = len(cold.items)
    assert cold_passes.calls > 0 and cold.counts.cached_items == 0 and cold.counts.scored_items == 2 * n
    assert warm_passes.calls == 0 and warm.counts.cached_items == 2 * n and warm.counts.scored_items == 0
    # Nothing to score, so no weights load (tests/test_lazy_load.py counts the loads themselves).
    assert cold.counts.models_loaded == 1 and warm.counts.models_loaded == 0 and warm.timings["load_s"] == 0
    assert per_item(warm) == per_item(cold) and summary(warm) == summary(cold)


def test_cached_base_with_fresh_candidate_equals_an_uncached_run(tiny_base, forgetful_adapter, small_suite, tmp_path):
    store = ResultCache(tmp_path / "cache")
    compare(str(tiny_base), str(forgetful_adapter), str(small_suite), cache=store, progress=False)
    # The CI case: the base is cached, the candidate is new (here: its results are dropped).
    assert store.clear([resolve(str(forgetful_adapter)).resolved]) > 0
    with ForwardCounter() as passes:
        cached_base = compare(str(tiny_base), str(forgetful_adapter), str(small_suite), cache=store, progress=False)
    uncached = compare(str(tiny_base), str(forgetful_adapter), str(small_suite), cache=False, progress=False)
    n = len(uncached.items)
    assert passes.calls > 0 and cached_base.counts.cached_items == n and cached_base.counts.scored_items == n
    assert cached_base.counts.models_loaded == 1  # the base with the adapter attached, once for both sides
    assert per_item(cached_base) == per_item(uncached) and summary(cached_base) == summary(uncached)
    assert [c.verdict for c in cached_base.capabilities] == [c.verdict for c in uncached.capabilities]


def test_a_run_killed_half_way_resumes_from_what_it_finished(tiny_base, small_suite, tmp_path, monkeypatch):
    monkeypatch.setattr(runner_module, "CHUNK_ITEMS", 8)  # several chunks per probe in a small suite
    base, store = str(tiny_base), tmp_path / "cache"
    with ForwardCounter() as full:
        uncached = compare(base, base, str(small_suite), cache=False, progress=False, batch_tokens=256)
    with pytest.raises(KeyboardInterrupt), ForwardCounter(crash_after=full.calls // 4):
        compare(base, base, str(small_suite), cache=store, progress=False, batch_tokens=256)
    finished = ResultCache(store).info()["entries"]
    assert 0 < finished < len(uncached.items)
    with ForwardCounter() as rest:
        resumed = compare(base, base, str(small_suite), cache=store, progress=False, batch_tokens=256)
    # Base against itself: the candidate pass is all hits, and the base pass scores only what was missing.
    assert resumed.counts.scored_items == len(uncached.items) - finished
    assert 0 < rest.calls < full.calls
    assert per_item(resumed) == per_item(uncached) and summary(resumed) == summary(uncached)


def test_an_explicit_batch_budget_keeps_its_own_entries(tiny_base, forgetful_adapter, small_suite, tmp_path):
    # Another budget batches the items differently, so a cached base must not be paired with it.
    def run(**options):
        return compare(str(tiny_base), str(forgetful_adapter), str(small_suite), cache=tmp_path / "cache",
                       progress=False, kl_samples=0, recovery_shots=0, **options)

    default = run()
    assert default.counts.cached_items == 0
    small = run(batch_tokens=256)
    assert small.counts.cached_items == 0 and small.counts.scored_items == 2 * len(small.items)
    assert run(batch_tokens=256).counts.scored_items == 0
    assert run().counts.scored_items == 0


def test_no_cache_and_cache_info_and_clear_from_the_cli(tiny_base, forgetful_adapter, small_suite, tmp_path,
                                                        monkeypatch):
    monkeypatch.setenv("FORGETCHECK_CACHE", str(tmp_path / "fc"))
    runner = CliRunner()
    # Drift and recovery off: this counts the suite's own entries (they add entries of their own).
    args = ["compare", str(tiny_base), str(forgetful_adapter), "--suite", str(small_suite), "--quiet",
            "--fail-on", "never", "--kl-samples", "0", "--recovery-shots", "0"]
    assert runner.invoke(main, [*args, "--out", str(tmp_path / "a"), "--no-cache"]).exit_code == 0
    info = runner.invoke(main, ["cache", "info"])
    assert info.exit_code == 0 and "entries: 0" in info.output and str(tmp_path / "fc" / "results") in info.output

    assert runner.invoke(main, [*args, "--out", str(tmp_path / "b")]).exit_code == 0
    n = len(json.loads((tmp_path / "b" / "report.json").read_text())["items"])
    info = runner.invoke(main, ["cache", "info"])
    assert f"entries: {2 * n}" in info.output
    lines = [line for line in info.output.splitlines() if line.startswith("  ")]
    assert len(lines) == 2 and any("(adapter off)" in line for line in lines)
    assert all(line.split()[0] == str(n) for line in lines)

    cleared = runner.invoke(main, ["cache", "clear", "--model", str(forgetful_adapter)])
    assert cleared.exit_code == 0 and f"cleared {n} cached results" in cleared.output
    assert f"entries: {n}" in runner.invoke(main, ["cache", "info"]).output
    assert f"cleared {n} cached results" in runner.invoke(main, ["cache", "clear"]).output
    assert "entries: 0" in runner.invoke(main, ["cache", "info"]).output


def test_a_corrupt_entry_is_rescored_with_one_warning(tiny_base, small_suite, tmp_path):
    store, base = tmp_path / "cache", str(tiny_base)
    first = compare(base, base, str(small_suite), cache=store, progress=False)
    with sqlite3.connect(store / "results" / "results.sqlite") as db:
        db.execute("UPDATE results SET record = '{broken' WHERE item = (SELECT MIN(item) FROM results)")
    warnings = []
    again = compare(base, base, str(small_suite), cache=store, progress=False, warn=warnings.append)
    assert again.counts.scored_items == 1
    assert len(warnings) == 1 and "malformed entry" in warnings[0] and "\n" not in warnings[0]
    assert per_item(again) == per_item(first)


def test_a_corrupt_database_is_reported_in_one_line(tiny_base, small_suite, tmp_path):
    root = tmp_path / "fc"
    (root / "results").mkdir(parents=True)
    (root / "results" / "results.sqlite").write_bytes(b"this is not a database" * 100)
    warnings = []
    comparison = compare(str(tiny_base), str(tiny_base), str(small_suite), cache=root, progress=False,
                         warn=warnings.append)
    assert comparison.counts.cached_items == 0 and comparison.counts.scored_items == 2 * len(comparison.items)
    assert len(warnings) == 1 and "cannot be used" in warnings[0] and "cache clear" in warnings[0]

    env = {"FORGETCHECK_CACHE": str(root), "PATH": "/usr/bin:/bin"}
    info = subprocess.run([sys.executable, "-m", "forgetcheck.cli", "cache", "info"], capture_output=True,
                          text=True, env=env)
    assert info.returncode == 2 and "Traceback" not in info.stderr and len(info.stderr.strip().splitlines()) == 1
    clear = subprocess.run([sys.executable, "-m", "forgetcheck.cli", "cache", "clear"], capture_output=True,
                           text=True, env=env)
    assert clear.returncode == 0, clear.stderr
    assert not (root / "results" / "results.sqlite").exists()


def test_one_progress_bar_per_capability_runs_across_its_chunks(tiny_base, small_suite, monkeypatch, capsys):
    # 40 items in chunks of 8: a bar per chunk restarted five times per capability (its ETA meaningless).
    monkeypatch.setattr(runner_module, "CHUNK_ITEMS", 8)
    compare(str(tiny_base), str(tiny_base), str(small_suite), cache=False, progress=True, batch_tokens=256,
            kl_samples=0, recovery_shots=0)
    err = capsys.readouterr().err
    for capability, items in (("facts", 40), ("recall", 40), ("text", 30)):
        for side in ("base", "candidate"):
            assert f"{side} {capability}:" in err and f"/{items} " in err
    assert "/8 " not in err and " req" not in err  # no per-chunk bars, no bars counting requests
