"""``forgetcheck overlap``: do two runs forget the same items, or is it luck?"""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner

from forgetcheck.cli import main
from forgetcheck.analysis.verdicts import CapabilityInfo, judge_items
from forgetcheck.comparison import Comparison, ModelInfo, Settings, ItemResult, overall_verdict, to_dict
from forgetcheck.analysis.overlap import expected_jaccard, overlap, overlap_p_value, spearman


def _comparison(forgotten: dict[str, set[int]], seed: int, base_sha: str = "sha256:base") -> Comparison:
    """Base right on items 0..149 of 200 in two 0/1 capabilities, plus a perplexity one."""
    items = []
    for cap in ("facts", "noise"):
        for i in range(200):
            base = 1.0 if i < 150 else 0.0
            cand = 0.0 if i in forgotten[cap] else base
            items.append(ItemResult(cap, f"{cap}-{i}", base, cand, n_options=4))
    rng = random.Random(seed)
    for i in range(100):
        # per-item log-likelihood drops: a shared part (i/100) plus run-specific noise
        items.append(ItemResult("ppl", f"ppl-{i}", -2.0, -2.0 - i / 100 - rng.gauss(0, 0.1)))
    infos = [CapabilityInfo("facts", "choice", "acc", {}), CapabilityInfo("noise", "choice", "acc", {}),
             CapabilityInfo("ppl", "perplexity", "loglik_per_token", {})]
    caps = judge_items(items, infos, 0.02, 0.95)
    return Comparison(ModelInfo("base", "folder", base_sha), ModelInfo(f"seed{seed}", "folder", f"sha256:{seed}"),
                      Settings("float32", "cpu", 0.02, 0.95), caps, overall_verdict(caps), items)


RUN_A = {"facts": set(range(20)), "noise": set(range(0, 10))}
RUN_B = {"facts": set(range(2, 22)), "noise": set(range(100, 110))}


def test_shared_forgetting_is_told_from_luck():
    results = {r.name: r for r in overlap(_comparison(RUN_A, 1), _comparison(RUN_B, 2))}
    facts, noise, ppl = results["facts"], results["noise"], results["ppl"]
    assert (facts.known, facts.forgotten_a, facts.forgotten_b, facts.both) == (150, 20, 20, 18)
    assert facts.jaccard == pytest.approx(18 / 22)
    assert facts.jaccard_expected == pytest.approx(expected_jaccard(150, 20, 20))
    assert facts.jaccard_expected < 0.1 and facts.p_value < 1e-12
    assert (noise.both, noise.jaccard, noise.p_value) == (0, 0.0, 1.0)
    assert ppl.jaccard is None and ppl.rank_correlation > 0.8  # the shared part dominates the noise


def test_expected_jaccard_matches_simulation():
    rng = random.Random(0)
    sims = []
    for _ in range(4000):
        a, b = set(rng.sample(range(60), 12)), set(rng.sample(range(60), 8))
        sims.append(len(a & b) / len(a | b))
    assert expected_jaccard(60, 12, 8) == pytest.approx(sum(sims) / len(sims), abs=0.005)
    assert overlap_p_value(60, 12, 8, 0) == 1.0


def test_spearman_handles_ties_and_constants():
    assert spearman([0, 0, 1, 1], [0, 0, 1, 1]) == pytest.approx(1.0)
    assert spearman([0, 0, 0], [1, 2, 3]) is None
    # ties get average ranks: x ranks [1.5, 1.5, 3], y ranks [1, 2, 3] -> r = 0.866
    assert spearman([5, 5, 9], [1, 2, 3]) == pytest.approx(0.8660254, abs=1e-6)


def _write(tmp_path, name, comparison):
    path = tmp_path / name
    path.write_text(json.dumps(to_dict(comparison)))
    return str(path)


def test_overlap_command_text_and_json(tmp_path):
    a = _write(tmp_path, "a.json", _comparison(RUN_A, 1))
    b = _write(tmp_path, "b.json", _comparison(RUN_B, 2))
    result = CliRunner().invoke(main, ["overlap", a, b])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:5] == ["capability", "known", "forgot", "A", "forgot"]
    assert lines[1].split()[:6] == ["facts", "150", "20", "20", "18", "0.818"]
    assert "1 of 2 capabilities forget the same items more often than chance (facts)" in result.output
    data = json.loads(CliRunner().invoke(main, ["overlap", a, b, "--format", "json"]).output)
    assert [c["name"] for c in data["capabilities"]] == ["facts", "noise", "ppl"]


def test_overlap_of_different_bases_is_one_line_exit_2(tmp_path):
    a = _write(tmp_path, "a.json", _comparison(RUN_A, 1))
    b = _write(tmp_path, "b.json", _comparison(RUN_B, 2, base_sha="sha256:other"))
    result = CliRunner().invoke(main, ["overlap", a, b])
    assert result.exit_code == 2
    assert "compare different bases" in result.output and "Traceback" not in result.output
    missing = CliRunner().invoke(main, ["overlap", a, str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "nope.json" in missing.output
