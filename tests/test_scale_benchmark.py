"""benchmarks/scale.py: its suites keep their mix and reach their lengths, and a quick run measures each point.

The full benchmark runs on SmolLM2-135M; here the suites are built with the tiny
tokenizer and the quick run compares the tiny base with its forgetful adapter.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.scale import context_suite, prompt_tokens, size_suite
from forgetcheck.scoring.hf import HFScorer
from forgetcheck.suites.suite import load_suite
from tests.conftest import build_tokenizer

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "scale.py"


def test_every_suite_size_keeps_the_same_mix_of_capabilities(tmp_path):
    small, large = (load_suite(str(size_suite(tmp_path / f"{m}x", m, unit=3))) for m in (1, 4))
    assert [(p.name, p.kind, len(p.items)) for p in small.probes] == [
        ("world-knowledge", "choice", 3), ("commonsense", "choice", 3), ("arithmetic", "generate", 3)]
    assert [(p.name, p.kind, len(p.items)) for p in large.probes] == [
        ("world-knowledge", "choice", 12), ("commonsense", "choice", 12), ("arithmetic", "generate", 12)]
    # Spread over each file, not its first sub-category only.
    assert len({item.subcategory for item in large.probes[0].items}) > 2


def test_context_suites_reach_their_length_with_a_different_passage_for_each_item(tmp_path):
    renderer = HFScorer(None, build_tokenizer(tmp_path / "tokenizer"))
    for target in (100, 160):
        suite = load_suite(str(context_suite(tmp_path / f"c{target}", target, unit=2, renderer=renderer)))
        prompts = [item.prompt for probe in suite.probes for item in probe.items]
        assert [len(p.items) for p in suite.probes] == [4, 2]
        assert all(target <= prompt_tokens(p, renderer) <= target + 12 for p in prompts)  # whole words
        passages = {p.split("\n\n")[1][:40] for p in prompts}
        assert len(passages) == len(prompts)


def test_a_quick_run_measures_every_point_in_its_own_process(tiny_base, forgetful_adapter, tmp_path):
    out, png = tmp_path / "scale.json", tmp_path / "scale.png"
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--base", str(tiny_base), "--candidate",
                           str(forgetful_adapter), "--out", str(out), "--png", str(png)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    points = json.loads(out.read_text())["points"]
    assert [(p["series"], p["x"], p["items"]) for p in points] == [
        ("size", 1, 6), ("size", 2, 12), ("context", 100, 6), ("context", 120, 6)]
    for p in points:
        assert p["scored_items"] == 2 * p["items"] and p["models_loaded"] == 1  # both sides scored, one model
        assert p["merge_s"] > 0  # the adapter was merged for the candidate, and timed
        assert 0 < p["scoring_s"] < p["wall_s"] and p["cpu_s"] > 0 and p["peak_rss_mib"] > p["rss_after_import_mib"]
    assert points[3]["prompt_tokens"] > points[2]["prompt_tokens"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| 2x items | 12 |" in done.stdout
