"""What compare adds beyond verdicts: label-free drift and answer recovery, end to end on the tiny models."""

from __future__ import annotations

from forgetcheck.workflows.compare import compare


def test_drift_is_zero_against_itself_cached_and_switchable(tiny_base, tiny_suite, forgetful_adapter):
    itself = compare(str(tiny_base), str(tiny_base), str(tiny_suite), progress=False, kl_samples=8)
    assert itself.label_free.overall.kl == 0.0 and itself.label_free.overall.logprob_drop == 0.0
    assert itself.label_free.samples == 8 and itself.settings.kl_samples == 8

    cold = compare(str(tiny_base), str(forgetful_adapter), str(tiny_suite), progress=False, kl_samples=8)
    assert cold.label_free.overall.kl > 0.01 and cold.label_free.overall.n == 8
    assert [g.name for g in cold.label_free.groups][0] == "open"
    warm = compare(str(tiny_base), str(forgetful_adapter), str(tiny_suite), progress=False, kl_samples=8)
    assert warm.label_free == cold.label_free  # read back from the result cache, not recomputed
    assert warm.counts.scored_items == 0

    off = compare(str(tiny_base), str(forgetful_adapter), str(tiny_suite), progress=False, kl_samples=0)
    assert off.label_free is None and "drift_s" not in off.timings


def test_forgotten_answers_are_asked_again_with_examples(tiny_base, tiny_suite, forgetful_adapter):
    result = compare(str(tiny_base), str(forgetful_adapter), str(tiny_suite), progress=False, kl_samples=0,
                     recovery_shots=2)
    recall = [i for i in result.items if i.capability == "recall"]
    asked = [i for i in recall if i.recovered is not None]
    assert asked and all(i.flip == "forgotten" for i in asked)
    assert len(asked) == sum(i.flip == "forgotten" for i in recall)
    assert all(i.recovered is None for i in result.items if i.capability != "recall")  # generation only
    cap = next(c for c in result.capabilities if c.name == "recall")
    recovered = sum(i.recovered for i in asked)
    assert cap.diagnosis.endswith(f"{recovered} of {len(asked)} recover with 2 examples")
    none = compare(str(tiny_base), str(forgetful_adapter), str(tiny_suite), progress=False, kl_samples=0,
                   recovery_shots=0)
    assert all(i.recovered is None for i in none.items)


def test_reference_text_adds_a_perplexity_capability(tiny_base, tiny_suite, forgetful_adapter, tmp_path):
    import math

    import pytest

    from forgetcheck.errors import BadInput
    from forgetcheck.report.markdown import render_markdown

    text = tmp_path / "notes.txt"
    text.write_text("fact 1 is blue and fact 2 is red\n\nfact 3 is gold\nfact 4 is green\n\n\n")
    result = compare(str(tiny_base), str(forgetful_adapter), str(tiny_suite), progress=False, kl_samples=0,
                     recovery_shots=0, reference=str(text))
    cap = result.capabilities[-1]
    assert (cap.name, cap.kind, cap.n) == ("reference-text", "perplexity", 2)
    ratio = cap.extra["perplexity"]["candidate"] / cap.extra["perplexity"]["base"]
    assert ratio != 1 and cap.drop != 0  # the perplexity moved
    # The drop is the mean over texts of each one's per-token log-likelihood drop; the table's perplexity pools
    # all tokens. With equal-length texts they agree; here they need not agree even in sign.
    base = [i.base_score for i in result.items if i.capability == "reference-text"]
    cand = [i.candidate_score for i in result.items if i.capability == "reference-text"]
    assert cap.drop == pytest.approx(sum(base) / 2 - sum(cand) / 2)
    assert f"- **reference-text**: perplexity ×{math.exp(cap.drop):.3f}" in render_markdown(result)
    with pytest.raises(BadInput, match="no such file"):
        compare(str(tiny_base), str(tiny_base), str(tiny_suite), progress=False, reference=str(tmp_path / "x.txt"))
    (tmp_path / "empty.txt").write_text("\n\n")
    with pytest.raises(BadInput, match="has no text"):
        compare(str(tiny_base), str(tiny_base), str(tiny_suite), progress=False, reference=str(tmp_path / "empty.txt"))
