"""Forgetting measured during training: the callback's numbers are a comparison's numbers.

A tiny model trains with transformers' Trainer (and TRL's SFTTrainer when it is
installed) with ``ForgettingCallback`` on; the drops it logged at a step must equal
what ``forgetcheck.workflows.compare`` reports for the checkpoint saved at that step.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from forgetcheck.integrations.transformers import ForgettingCallback, subset
from forgetcheck.suites.suite import load_suite
from forgetcheck.workflows.compare import compare
from tests.conftest import unrelated_sentences

STEPS, EVERY = 4, 2


def training_texts() -> list[str]:
    return unrelated_sentences(random.Random(3), 64)


def make_trainer(model, tokenizer, out, steps: int = STEPS, lr: float = 1e-2):
    from datasets import Dataset
    from transformers import DataCollatorForLanguageModeling, Trainer, TrainingArguments

    data = Dataset.from_dict(dict(tokenizer([t + tokenizer.eos_token for t in training_texts()])))
    args = TrainingArguments(output_dir=str(out), max_steps=steps, per_device_train_batch_size=16, learning_rate=lr,
                             save_strategy="steps", save_steps=EVERY, logging_steps=1, report_to=[], use_cpu=True,
                             seed=0, disable_tqdm=True, save_only_model=True)
    return Trainer(model=model, args=args, train_dataset=data, processing_class=tokenizer,
                   data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False))


def logged(trainer, step: int) -> dict[str, float]:
    rows = [row for row in trainer.state.log_history if row["step"] == step and "forgetcheck/regressed" in row]
    assert len(rows) == 1, trainer.state.log_history
    return rows[0]


def checkpoint_comparison(base, checkpoint, suite, cache: bool):
    return compare(str(base), str(checkpoint), suite, kl_samples=0, recovery_shots=0, cache=cache, progress=False)


@pytest.fixture(scope="module")
def small_suite(tiny_suite):
    return subset(load_suite(str(tiny_suite)), 40)


def test_logged_drops_equal_a_comparison_of_the_saved_checkpoint(tiny_base, small_suite, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    trainer = make_trainer(AutoModelForCausalLM.from_pretrained(tiny_base), tokenizer, tmp_path / "run")
    callback = ForgettingCallback(base=str(tiny_base), suite=small_suite, every_n_steps=EVERY, items_per_capability=None,
                                  trainer=trainer)
    trainer.add_callback(callback)
    trainer.train()

    assert [c.step for c in callback.checks] == [2, 4]
    # The trainer still logged its loss at the steps the callback logged on.
    assert all(any("loss" in row for row in trainer.state.log_history if row["step"] == s) for s in (2, 4))
    for step, cached in ((2, False), (4, True)):
        comparison = checkpoint_comparison(tiny_base, tmp_path / "run" / f"checkpoint-{step}", small_suite, cached)
        row = logged(trainer, step)
        check = callback.checks[step // EVERY - 1]
        # Same float32 weights, tokenizer, prompts and batches on both sides: equal to the last bit.
        for capability in comparison.capabilities:
            assert row[f"forgetcheck/{capability.name}/drop"] == capability.drop
        assert [c.verdict for c in check.capabilities] == [c.verdict for c in comparison.capabilities]
        assert row["forgetcheck/regressed"] == sum(c.verdict == "regressed" for c in comparison.capabilities)
        if cached:
            # The base's scores came from the callback's pass, under the key compare uses.
            assert comparison.counts.cached_items == sum(len(p.items) for p in small_suite.probes)
    # The training forgot facts, so the test compares real, non-zero drops (and a real verdict).
    assert logged(trainer, 4)["forgetcheck/recall/drop"] > 0.2 and logged(trainer, 4)["forgetcheck/regressed"] >= 1


def test_peft_base_is_the_adapter_switched_off(tiny_base, small_suite, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_base),
                           LoraConfig(r=8, lora_alpha=16, target_modules="all-linear", task_type="CAUSAL_LM"))
    trainer = make_trainer(model, tokenizer, tmp_path / "run", steps=8, lr=5e-2)
    callback = ForgettingCallback(base=str(tiny_base), suite=small_suite, every_n_steps=EVERY,
                                  items_per_capability=None, trainer=trainer, on_regression="stop")
    trainer.add_callback(callback)
    with pytest.warns(UserWarning, match="regressed: .*stopping training"):
        trainer.train()
    # The adapter made the model forget at step 2, and the callback stopped training there.
    assert trainer.state.global_step == 2 and [c.step for c in callback.checks] == [2]
    comparison = checkpoint_comparison(tiny_base, tmp_path / "run" / "checkpoint-2", small_suite, cache=True)
    assert comparison.counts.cached_items == sum(len(p.items) for p in small_suite.probes)
    row = logged(trainer, 2)
    for capability in comparison.capabilities:
        # compare merges an fp32 LoRA adapter into the weights for the candidate pass; the callback scores
        # it unmerged, so log-probs differ in the last digits (1e-6 here), never by a whole answer.
        assert row[f"forgetcheck/{capability.name}/drop"] == pytest.approx(capability.drop, abs=1e-4)
    assert "regressed" in [c.verdict for c in comparison.capabilities]


def test_scoring_leaves_modes_and_random_states_as_found(tiny_base, small_suite):
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerControl, TrainerState

    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    model = AutoModelForCausalLM.from_pretrained(tiny_base)
    model.train()
    model.model.layers[1].eval()  # a module training keeps in eval mode on purpose
    modes = [m.training for m in model.modules()]
    # kl_samples makes the callback sample from the model, which reseeds torch's generator.
    callback = ForgettingCallback(suite=small_suite, every_n_steps=1, items_per_capability=5, kl_samples=4,
                                  tokenizer=tokenizer)
    state, control = TrainerState(), TrainerControl()
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    expected = random.random(), np.random.rand(), torch.rand(3)
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    callback.on_train_begin(None, state, control, model=model)
    state.global_step = 1
    callback.on_step_end(None, state, control, model=model)
    assert callback.checks[0].kl is not None and callback.checks[0].kl == pytest.approx(0, abs=1e-6)
    assert [m.training for m in model.modules()] == modes
    drawn = random.random(), np.random.rand(), torch.rand(3)
    assert drawn[:2] == expected[:2] and torch.equal(drawn[2], expected[2])
    assert state.log_history[0]["step"] == 1 and "forgetcheck/kl" in state.log_history[0]


def test_trl_sft_trainer(tiny_base, small_suite, tmp_path):
    trl = pytest.importorskip("trl")
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    config = trl.SFTConfig(output_dir=str(tmp_path / "sft"), max_steps=2, per_device_train_batch_size=16,
                           learning_rate=1e-2, logging_steps=1, report_to=[], use_cpu=True, save_strategy="no",
                           disable_tqdm=True)
    trainer = trl.SFTTrainer(model=AutoModelForCausalLM.from_pretrained(tiny_base), args=config,
                             train_dataset=Dataset.from_dict({"text": training_texts()}), processing_class=tokenizer)
    callback = ForgettingCallback(suite=small_suite, every_n_steps=1, items_per_capability=10, trainer=trainer)
    trainer.add_callback(callback)
    trainer.train()
    assert [c.step for c in callback.checks] == [1, 2]
    assert all("forgetcheck/facts/drop" in logged(trainer, step) for step in (1, 2))


def test_bad_settings_are_refused_in_one_line(small_suite):
    from forgetcheck.errors import BadInput

    with pytest.raises(BadInput, match="on_regression='halt'"):
        ForgettingCallback(suite=small_suite, on_regression="halt")
    with pytest.raises(BadInput, match="every_n_steps=0"):
        ForgettingCallback(suite=small_suite, every_n_steps=0)
