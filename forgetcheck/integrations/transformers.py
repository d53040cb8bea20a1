"""Forgetting measured during training: a ``transformers.TrainerCallback`` (TRL's trainers too).

``ForgettingCallback`` scores the base once when training begins, then every N
optimizer steps scores the same suite on the live model and judges each capability
exactly as ``forgetcheck compare`` does (the same paired statistics, Holm and
verdicts, through :func:`~forgetcheck.workflows.compare.paired_items` and
:func:`~forgetcheck.analysis.verdicts.judge_items`). A PEFT model's base is the same
model with its adapter switched off (peft's ``disable_adapter``), so no second copy
is loaded; a full fine-tune's base is the live model before its first step. With
``base`` naming the model training starts from, the base's scores go through the
result cache under the key ``compare`` uses, so a later ``forgetcheck compare BASE
CHECKPOINT`` finds them (and a rerun of training skips the base pass).

Scoring must leave training exactly as it found it: every module's train/eval flag
and the python, numpy, torch and CUDA random states are put back afterwards
(generation and sampling draw from them), and nothing is scored with gradients.
The drops reach TensorBoard, W&B and every other reporter through ``trainer.log``,
the way TRL's own callbacks log, under ``forgetcheck/<capability>/drop``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import random
import time
import warnings

import numpy as np
import torch
from transformers import TrainerCallback

from forgetcheck.analysis.verdicts import check_judging, judge_items
from forgetcheck.comparison import CapabilityResult
from forgetcheck.errors import BadInput
from forgetcheck.results.keys import model_key
from forgetcheck.results.runner import score_suite
from forgetcheck.results.store import ResultCache
from forgetcheck.scoring.hf import HFScorer
from forgetcheck.suites.suite import Suite, load_suite
from forgetcheck.workflows import label_free
from forgetcheck.workflows.compare import paired_items, render_drift_prompt

logger = logging.getLogger(__name__)

# Defaults chosen so a check costs at most 10% of the demo's training time
# (benchmarks/callback_overhead.py; measured numbers in benchmarks/results.md).
DEFAULT_SUITE = "core-quick"
DEFAULT_EVERY_N_STEPS = 50
DEFAULT_ITEMS_PER_CAPABILITY = 6
ON_REGRESSION = ("warn", "stop")


@dataclasses.dataclass
class ForgettingCheck:
    """One check during training: the step, each capability's judged drop, and the label-free KL if measured.

    ``capabilities`` are the same :class:`~forgetcheck.comparison.CapabilityResult`
    a comparison of that step's checkpoint with the base reports.
    """

    step: int
    capabilities: list[CapabilityResult]
    kl: float | None = None

    @property
    def regressed(self) -> list[str]:
        return [c.name for c in self.capabilities if c.verdict == "regressed"]

    def metrics(self) -> dict[str, float]:
        """What is logged: ``forgetcheck/<capability>/drop`` per capability, the count regressed, the KL."""
        logged = {f"forgetcheck/{c.name}/drop": float(c.drop) for c in self.capabilities}
        logged["forgetcheck/regressed"] = float(len(self.regressed))
        if self.kl is not None:
            logged["forgetcheck/kl"] = self.kl
        return logged


class ForgettingCallback(TrainerCallback):
    """Score a suite on the training model every ``every_n_steps`` steps and log each capability's drop.

    base: the model training starts from, as ``forgetcheck compare`` takes it (a
      folder or Hub id, resolved as compare resolves it); it names the base's scores
      in the result cache, and its weights are never loaded. None scores the base
      without the cache.
    suite: a built-in suite name, a suite YAML path, or a :class:`Suite`.
    items_per_capability: score this many items of each capability, evenly spread
      (None: all). The drops have wider intervals than a full comparison's.
    on_regression: ``warn`` or ``stop`` (``control.should_training_stop``) when a
      capability's verdict is ``regressed``.
    tolerance, confidence: as in ``forgetcheck compare``.
    kl_samples: sequences the base samples for the label-free KL (0: off, the
      default, because each check then also scores them).
    trainer: the trainer whose ``log`` carries the drops to its reporters; without
      one they go only into ``state.log_history`` and this module's logger.
    tokenizer: defaults to the trainer's ``processing_class``.
    cache: True uses forgetcheck's default result cache for the base, a path
      another, False none.

    Results so far are in :attr:`checks` (one :class:`ForgettingCheck` per check);
    :attr:`seconds` and :attr:`cpu_seconds` are the wall and CPU time spent scoring, base included.
    """

    def __init__(self, base: str | None = None, suite: str | Suite = DEFAULT_SUITE,
                 every_n_steps: int = DEFAULT_EVERY_N_STEPS, *,
                 items_per_capability: int | None = DEFAULT_ITEMS_PER_CAPABILITY, on_regression: str = "warn",
                 tolerance: float = 0.02, confidence: float = 0.95, kl_samples: int = 0, trainer=None,
                 tokenizer=None, cache: bool | str = True, batch_tokens: int | None = None,
                 chat_template: str | None = None):
        if every_n_steps < 1:
            raise BadInput(f"every_n_steps={every_n_steps}: use a number of steps of 1 or more")
        if on_regression not in ON_REGRESSION:
            raise BadInput(f"on_regression={on_regression!r}: use one of {', '.join(ON_REGRESSION)}")
        if items_per_capability is not None and items_per_capability < 1:
            raise BadInput(f"items_per_capability={items_per_capability}: use 1 or more, or None for all items")
        check_judging(tolerance, confidence)
        whole = suite if isinstance(suite, Suite) else load_suite(suite)
        self.suite = subset(whole, items_per_capability)
        self.base, self.every_n_steps, self.on_regression = base, every_n_steps, on_regression
        self.tolerance, self.confidence, self.kl_samples = tolerance, confidence, kl_samples
        self.trainer, self.tokenizer, self.cache = trainer, tokenizer, cache
        self.batch_tokens, self.chat_template = batch_tokens, chat_template
        self.checks: list[ForgettingCheck] = []
        self.seconds = self.cpu_seconds = 0.0
        self.base_scores = None
        self._drift = None  # (samples, base reference) for the KL

    # -- the trainer's events ---------------------------------------------------
    def on_train_begin(self, args, state, control, model=None, processing_class=None, **kwargs):
        self.tokenizer = self.tokenizer or processing_class or getattr(self.trainer, "processing_class", None)
        if self.tokenizer is None:
            raise BadInput("ForgettingCallback: no tokenizer; pass tokenizer=... or give the trainer a processing_class")
        if self.base_scores is None:
            self.score_base(model, resumed=state.global_step > 0)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step % self.every_n_steps:
            return control
        check = self.check(model, state.global_step)
        self._log(check, state, control)
        if check.regressed:
            message = (f"forgetcheck: step {check.step}: regressed: {', '.join(check.regressed)} "
                       f"(drop beyond tolerance {self.tolerance})")
            if self.on_regression == "stop":
                control.should_training_stop = True
                message += "; stopping training"
            warnings.warn(message, stacklevel=2)
        return control

    # -- scoring ----------------------------------------------------------------
    def score_base(self, model, resumed: bool = False) -> None:
        """Score the base once: from the cache, the adapter switched off, or the model before its first step."""
        adapter = is_peft(model)
        scorer = self._scorer(model, adapter_off=adapter)
        store, key = self._base_cache(model, adapter)
        if resumed and not adapter and not (store and _all_cached(self.suite, scorer, store, key, self.chat_template)):
            raise BadInput("ForgettingCallback: training resumed from a checkpoint, so the live model is no longer "
                           "the base; pass base=... with the base's scores in the cache (a fresh run stores them)")
        with kept_as_found(model), self._timed():
            self.base_scores = score_suite(self.suite, scorer, self.chat_template, store, key)
            if self.kl_samples:
                render = lambda probe, text: render_drift_prompt(scorer, probe, text, self.chat_template)  # noqa: E731
                prompts = label_free.drift_prompts(self.suite, render, self.kl_samples)
                samples = label_free.sample_from_base(scorer, prompts)
                self._drift = samples, label_free.base_reference(scorer, samples)

    def check(self, model, step: int) -> ForgettingCheck:
        """Score the suite on the model as it is now and judge it against the base; recorded in :attr:`checks`."""
        scorer = self._scorer(model, adapter_off=False)
        with kept_as_found(model), self._timed():
            scores = score_suite(self.suite, scorer, self.chat_template, None, {})
            kl = None
            if self._drift:
                samples, reference = self._drift
                kls, drops = label_free.score_drift(scorer, samples, reference)
                kl = label_free.summarise(samples.groups, kls, drops, self.confidence)[0].kl
        items, infos = paired_items(self.suite, self.base_scores, scores)
        check = ForgettingCheck(step, judge_items(items, infos, self.tolerance, self.confidence), kl)
        self.checks.append(check)
        return check

    @contextlib.contextmanager
    def _timed(self):
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - started
            self.cpu_seconds += time.process_time() - cpu_started

    def _scorer(self, model, adapter_off: bool) -> HFScorer:
        device = str(next(model.parameters()).device)
        return HFScorer(model, self.tokenizer, device=device, batch_tokens=self.batch_tokens, progress=False,
                        context_manager=model.disable_adapter if adapter_off else None,
                        label="base" if adapter_off else "training")

    def _base_cache(self, model, adapter: bool) -> tuple[ResultCache | None, dict]:
        """The result cache and the key ``compare`` gives this base (adapter switched off for a PEFT run)."""
        if not self.base or not self.cache:
            return None, {}
        from forgetcheck.models.specs import resolve

        spec = resolve(self.base)
        dtype = str(next(model.parameters()).dtype).replace("torch.", "")
        device = str(next(model.parameters()).device)
        key = model_key(spec.resolved, adapter=None, adapter_disabled=adapter, dtype=dtype, device=device,
                        label=self.base, batch_tokens=self.batch_tokens)
        return ResultCache(None if self.cache is True else self.cache, warn=logger.warning), key

    def _log(self, check: ForgettingCheck, state, control) -> None:
        metrics = check.metrics()
        if self.trainer is not None:
            # trainer.log runs every callback's on_log, and on_log clears should_log: keep the
            # trainer's own decision to log this step's loss.
            should_log = control.should_log
            self.trainer.log(metrics)
            control.should_log = should_log
        else:
            state.log_history.append({**metrics, "step": state.global_step})
        logger.info("forgetcheck step %d: %s", check.step, metrics)


def subset(suite: Suite, per_capability: int | None) -> Suite:
    """Each probe cut to ``per_capability`` items spread evenly over its file (all when None or more).

    >>> from forgetcheck.suites.suite import Item, Probe
    >>> probe = Probe(name="p", kind="perplexity", items=[Item(id=str(i), text="x") for i in range(10)])
    >>> [i.id for i in subset(Suite(name="s", probes=[probe]), 4).probes[0].items]
    ['0', '2', '5', '7']
    """
    if per_capability is None:
        return suite
    probes = []
    for probe in suite.probes:
        n = len(probe.items)
        picked = [probe.items[k * n // per_capability] for k in range(per_capability)] if n > per_capability else \
            probe.items
        probes.append(dataclasses.replace(probe, items=picked))
    return dataclasses.replace(suite, probes=probes)


def is_peft(model) -> bool:
    """A peft model whose adapter can be switched off for the base pass."""
    try:
        from peft import PeftModel
    except ImportError:
        return False
    return isinstance(model, PeftModel)


@contextlib.contextmanager
def kept_as_found(model):
    """Score in eval mode without gradients; afterwards every module's mode and every RNG as they were.

    Modes are restored module by module, since training may keep some modules in
    eval mode on purpose (a frozen part, a disabled dropout).
    """
    modes = [(module, module.training) for module in model.modules()]
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    states = (random.getstate(), np.random.get_state(), torch.get_rng_state(),
              torch.cuda.get_rng_state_all() if cuda else None)
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        for module, training in modes:
            module.training = training
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if cuda:
            torch.cuda.set_rng_state_all(states[3])


def _all_cached(suite: Suite, scorer: HFScorer, store: ResultCache, key: dict, chat_override: str | None) -> bool:
    """Whether the cache holds every base score (a resumed full fine-tune cannot score its base again)."""
    from forgetcheck.results.runner import item_keys

    by_probe = {probe.name: probe for probe in suite.probes}
    return all(len(store.get_many(key["key"], keys, by_probe[name].kind)) == len(keys)
               for name, keys in item_keys(suite, scorer, chat_override).items())
