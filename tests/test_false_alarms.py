"""The verdict's promise, checked on real models: nothing lost means (almost) never `regressed`.

benchmarks/false_alarms.py runs this at full size (60 seed pairs per recipe); here
it runs small enough for CI, and still fails if the verdict mistook the answers
that flip between two harmless runs for forgetting.
"""

from __future__ import annotations

from math import comb

import pytest

from benchmarks.false_alarms import clopper_pearson_upper, render, run


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    return sum(comb(n, j) * p ** j * (1 - p) ** (n - j) for j in range(k, n + 1))


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    return run(tmp_path_factory.mktemp("false-alarms"), pairs=3, recipes=("train",), echo=lambda m: None)


def test_two_harmless_runs_flip_answers_but_are_not_called_regressed(experiment):
    train = experiment["recipes"]["train"]
    # Not vacuous: the two runs disagree on many answers, as seeds do in real fine-tunes.
    assert train["flips"] >= 60
    # At most 5% false alarms per capability; observing this many or more would have
    # probability < 1% if the promise held.
    assert binomial_tail(train["capabilities_regressed"], train["capabilities"], 0.05) >= 0.01
    assert train["comparisons_regressed"] <= 1


def test_the_same_pipeline_does_catch_a_real_loss(experiment):
    control = experiment["control"]
    assert control["verdict"] == "regressed"
    assert control["regressed"] >= control["capabilities"] - 1
    assert "Control (trained model vs a harmful fine-tune): regressed" in render(experiment)


def test_clopper_pearson_upper_bound():
    # Zero events in n trials: the exact bound is 1 − 0.05^(1/n) (the "rule of three" ~ 3/n).
    assert clopper_pearson_upper(0, 60) == pytest.approx(1 - 0.05 ** (1 / 60), abs=1e-6)
    assert clopper_pearson_upper(5, 5) == 1.0
    # k events: the bound p solves P(X <= k | p) = 0.05.
    upper = clopper_pearson_upper(3, 40)
    assert sum(comb(40, j) * upper ** j * (1 - upper) ** (40 - j) for j in range(4)) == pytest.approx(0.05, abs=1e-6)
