"""What compare adds beyond verdicts: label-free drift and answer recovery, end to end on the tiny models."""

from __future__ import annotations

from forgetcheck.compare import compare


def test_drift_is_zero_against_itself_cached_and_switchable(tiny_base, tiny_suite, forgetful_adapter):
    itself = compare(str(tiny_base), str(tiny_base), str(tiny_suite), progress=False, kl_samples=8)
    assert itself.drift["overall"]["kl"] == 0.0 and itself.drift["overall"]["logprob_drop"] == 0.0
    assert itself.drift["samples"] == 8 and itself.settings.kl_samples == 8

    cold = compare(str(tiny_base), str(forgetful_adapter), str(tiny_suite), progress=False, kl_samples=8)
    assert cold.drift["overall"]["kl"] > 0.01 and cold.drift["overall"]["n"] == 8
    assert [g["name"] for g in cold.drift["groups"]][0] == "open"
    warm = compare(str(tiny_base), str(forgetful_adapter), str(tiny_suite), progress=False, kl_samples=8)
    assert warm.drift == cold.drift  # read back from the result cache, not recomputed
    assert warm.timings["scored_items"] == 0

    off = compare(str(tiny_base), str(forgetful_adapter), str(tiny_suite), progress=False, kl_samples=0)
    assert off.drift is None and "drift_s" not in off.timings


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
