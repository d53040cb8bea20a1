"""Weights load only when something must be scored: a fully cached rerun loads none, with the same numbers."""

from __future__ import annotations

import sqlite3

import pytest
from peft import PeftModel
from transformers import AutoModelForCausalLM

from forgetcheck.results.keys import item_key
from forgetcheck.results.store import ResultCache
from forgetcheck.workflows.compare import compare
from forgetcheck.models.specs import resolve
from forgetcheck.suites.suite import load_suite
from tests.conftest import ForwardCounter, write_suite


@pytest.fixture(scope="module")
def small_suite(tmp_path_factory):
    return write_suite(tmp_path_factory.mktemp("lazy-suite"), n_facts=40)


@pytest.fixture
def weight_loads(monkeypatch):
    """Every folder whose weights transformers (or peft, for an adapter) loads during the test, in order."""
    loads = []
    load_model, load_adapter = AutoModelForCausalLM.from_pretrained, PeftModel.from_pretrained

    def model(path, *args, **kwargs):
        loads.append(str(path))
        return load_model(path, *args, **kwargs)

    def adapter(base, path, *args, **kwargs):
        loads.append(str(path))
        return load_adapter(base, path, *args, **kwargs)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", model)
    monkeypatch.setattr(PeftModel, "from_pretrained", adapter)
    return loads


def run(base, candidate, suite, cache, **options):
    return compare(str(base), str(candidate), str(suite), cache=cache, progress=False, **options)


def numbers(comparison):
    """Everything a report says per item, per capability and for drift."""
    items = [(i.capability, i.item_id, i.base_score, i.candidate_score, i.base_answer, i.candidate_answer, i.flip,
              i.recovered) for i in comparison.items]
    capabilities = [(c.name, c.base_score, c.candidate_score, c.drop, c.p_value, c.verdict, c.extra, c.diagnosis)
                    for c in comparison.capabilities]
    return items, capabilities, comparison.label_free, comparison.verdict


def test_a_warm_full_model_rerun_loads_no_weights(tiny_base, merged_candidate, small_suite, tmp_path,
                                                   weight_loads):
    cold = run(tiny_base, merged_candidate, small_suite, tmp_path / "c")
    assert weight_loads == [str(tiny_base), str(merged_candidate)] and cold.counts.models_loaded == 2
    assert cold.timings["load_s"] > 0 and cold.label_free is not None
    weight_loads.clear()
    with ForwardCounter() as passes:
        warm = run(tiny_base, merged_candidate, small_suite, tmp_path / "c")
    assert weight_loads == [] and passes.calls == 0
    assert warm.counts.models_loaded == 0 and warm.timings["load_s"] == 0
    assert warm.counts.scored_items == 0 and warm.counts.cached_items == 2 * len(warm.items)
    assert numbers(warm) == numbers(cold)


def test_a_warm_adapter_rerun_loads_no_weights(tiny_base, forgetful_adapter, small_suite, tmp_path, weight_loads):
    cold = run(tiny_base, forgetful_adapter, small_suite, tmp_path / "c")
    assert weight_loads == [str(tiny_base), str(forgetful_adapter)] and cold.counts.models_loaded == 1
    assert any(i.recovered is not None for i in cold.items)  # recovery asked something, so it is cached too
    weight_loads.clear()
    with ForwardCounter() as passes:
        warm = run(tiny_base, forgetful_adapter, small_suite, tmp_path / "c")
    assert weight_loads == [] and passes.calls == 0
    assert warm.counts.models_loaded == 0 and warm.timings["load_s"] == 0
    assert numbers(warm) == numbers(cold)


@pytest.mark.parametrize("kl_samples", [0, 16])
def test_a_cached_base_with_a_new_full_candidate_loads_what_it_needs(tiny_base, merged_candidate,
                                                                     small_suite, tmp_path, weight_loads, kl_samples):
    store = ResultCache(tmp_path / "c")
    run(tiny_base, merged_candidate, small_suite, store, kl_samples=kl_samples)
    # The CI case: the base's results are cached, the candidate is new (here: its results are dropped).
    assert store.clear([resolve(str(merged_candidate)).resolved]) > 0
    weight_loads.clear()
    cached_base = run(tiny_base, merged_candidate, small_suite, store, kl_samples=kl_samples)
    # The base's suite comes from the cache; the base loads again only for the drift's reference
    # (its log-probabilities on its own samples), which is not cached.
    needed = [str(tiny_base), str(merged_candidate)] if kl_samples else [str(merged_candidate)]
    assert weight_loads == needed and cached_base.counts.models_loaded == len(needed)
    n = len(cached_base.items)
    assert cached_base.counts.cached_items == n and cached_base.counts.scored_items == n
    assert numbers(cached_base) == numbers(run(tiny_base, merged_candidate, small_suite, False, kl_samples=kl_samples))


def test_a_cached_base_with_a_new_adapter_loads_the_model_once(tiny_base, forgetful_adapter, small_suite, tmp_path,
                                                               weight_loads):
    store = ResultCache(tmp_path / "c")
    run(tiny_base, forgetful_adapter, small_suite, store)
    assert store.clear([resolve(str(forgetful_adapter)).resolved]) > 0
    weight_loads.clear()
    cached_base = run(tiny_base, forgetful_adapter, small_suite, store)
    assert weight_loads == [str(tiny_base), str(forgetful_adapter)] and cached_base.counts.models_loaded == 1
    assert cached_base.counts.scored_items == len(cached_base.items)
    assert numbers(cached_base) == numbers(run(tiny_base, forgetful_adapter, small_suite, False))


def test_a_run_missing_only_its_recovery_loads_the_candidate_and_agrees(tiny_base, forgetful_adapter, small_suite,
                                                                        tmp_path, weight_loads):
    store = tmp_path / "c"
    cold = run(tiny_base, forgetful_adapter, small_suite, store)
    assert any(i.recovered is not None for i in cold.items)
    # Drop the candidate's re-asked (few-shot) items and keep its suite items: only recovery is missing.
    suite_keys = {item_key(p, item, False) for p in load_suite(str(small_suite)).probes for item in p.items}
    with sqlite3.connect(store / "results" / "results.sqlite") as db:
        (candidate,) = db.execute("SELECT model FROM models WHERE label = ?", (str(forgetful_adapter),)).fetchone()
        rows = db.execute("SELECT item FROM results WHERE model = ?", (candidate,)).fetchall()
        recovery = [item for (item,) in rows if item not in suite_keys]
        assert recovery and len(recovery) < len(rows)
        db.executemany("DELETE FROM results WHERE model = ? AND item = ?", [(candidate, k) for k in recovery])
    weight_loads.clear()
    with ForwardCounter() as passes:
        again = run(tiny_base, forgetful_adapter, small_suite, store)
    assert weight_loads == [str(tiny_base), str(forgetful_adapter)] and again.counts.models_loaded == 1
    assert passes.calls > 0 and again.counts.scored_items == 0
    assert numbers(again) == numbers(cold)
