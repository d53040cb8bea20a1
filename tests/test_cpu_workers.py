"""Two chunks side by side on a CPU: the same numbers as one at a time, errors reach the caller."""

import threading
import time

import pytest
import torch

from forgetcheck.models import parallel
from forgetcheck.scoring.hf import HFScorer
from forgetcheck.workflows.compare import compare


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def test_side_by_side_chunks_give_the_numbers_of_one_at_a_time(tiny_base, forgetful_adapter, tiny_suite,
                                                              monkeypatch, two_threads):
    # An adapter comparison: the base side runs with the adapter switched off while both threads score.
    runs = {}
    for workers in ("1", "2"):
        monkeypatch.setenv("FORGETCHECK_CPU_WORKERS", workers)
        assert parallel.cpu_workers("cpu") == int(workers)
        runs[workers] = compare(str(tiny_base), str(forgetful_adapter), str(tiny_suite), cache=False, progress=False,
                                kl_samples=8, recovery_shots=0, device="cpu")
    one, two = runs["1"], runs["2"]
    assert [(i.item_id, i.base_score, i.candidate_score, i.base_answer, i.candidate_answer) for i in one.items] == \
        [(i.item_id, i.base_score, i.candidate_score, i.base_answer, i.candidate_answer) for i in two.items]
    assert [c.verdict for c in one.capabilities] == [c.verdict for c in two.capabilities]
    # Label-free drift's log-prob batches run side by side too, with the same numbers.
    assert one.label_free.overall == two.label_free.overall and one.label_free.overall.kl > 0


def test_the_context_stays_entered_until_the_last_thread_leaves(tiny_base):
    from transformers import AutoTokenizer

    events = []

    class AdapterOff:
        def __enter__(self):
            events.append("off")

        def __exit__(self, *exc):
            events.append("on")

    scorer = HFScorer(None, AutoTokenizer.from_pretrained(tiny_base), context_manager=AdapterOff, progress=False)
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    def first():
        with scorer._in_context():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second():
        first_in.wait(5)
        with scorer._in_context():
            second_in.set()
            first_out.wait(5)
            events.append("second still inside")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    # Switched off once, on again only after the second thread's pass, not when the first one left.
    assert events == ["off", "second still inside", "on"]


def test_an_error_in_a_worker_reaches_the_caller_and_stops_what_has_not_started(two_threads):
    started = []

    def work(task):
        started.append(task)
        if task == 1:
            raise ValueError("chunk 1 failed")
        time.sleep(0.02)
        return task * 10

    with pytest.raises(ValueError, match="chunk 1 failed"):
        list(parallel.in_threads(list(range(50)), work, workers=2))
    assert len(started) < 50
    assert sorted(v for _, v in parallel.in_threads(list(range(6)), lambda t: t * 10, workers=2)) == \
        [0, 10, 20, 30, 40, 50]


def test_one_worker_off_the_cpu_or_when_asked(monkeypatch, two_threads):
    assert parallel.cpu_workers("cuda:0") == 1
    monkeypatch.setenv("FORGETCHECK_CPU_WORKERS", "1")
    assert parallel.cpu_workers("cpu") == 1
    monkeypatch.delenv("FORGETCHECK_CPU_WORKERS")
    assert parallel.cpu_workers("cpu") == 2


def test_workers_run_in_the_callers_grad_mode(two_threads):
    # Grad mode is per thread; a worker that recorded autograd graphs under the caller's no_grad was 2.5x slower.
    def mode(_):
        return torch.is_grad_enabled()

    with torch.no_grad():
        assert [m for _, m in parallel.in_threads([1, 2, 3], mode, 2)] == [False] * 3
    assert [m for _, m in parallel.in_threads([1, 2, 3], mode, 2)] == [True] * 3
