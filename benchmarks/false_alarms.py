"""How often does forgetcheck say `regressed` when nothing was lost? (issue 6)

The verdict promises that a loss it calls real is real: across capabilities the
p-values are Holm-corrected, so a comparison in which no capability truly got worse
should come out `regressed` in at most 1 − confidence of runs. This script checks
that promise on real models, scored by the real `compare`:

1. Train a tiny Llama partway on synthetic facts of several kinds ("the metal of
   thing 17 is zinc"), one capability per kind, so it is unsure of many answers —
   the situation in which answers flip between runs.
2. Fine-tune it twice with the same harmless recipe and different seeds (continued
   training on its own facts, or tiny weight noise), and compare the two
   fine-tunes: run A as BASE, run B as CANDIDATE. The two runs are exchangeable
   (same recipe, seeds swapped gives the mirror comparison), so no capability is
   truly worse in B than in A: every `regressed` is a false alarm. Answers do flip
   — per-item forgetting between seeds is real and large — which is exactly what
   the verdict must not mistake for a loss.
3. Repeat over many seed pairs and count false alarms per capability and per
   comparison (the overall verdict, which is what fails a CI check), with exact
   (Clopper–Pearson) upper bounds.
4. As a control that the same pipeline can see a loss, compare the trained model
   with a harmful fine-tune (hard training on unrelated text); it must come out
   regressed.

The script also judges every comparison at tolerance 0 and reports raw p-values,
to show how much of the protection comes from the statistics and how much from
the tolerance.

    python benchmarks/false_alarms.py --pairs 60     # about 16 minutes on one core

tests/test_false_alarms.py runs the same experiment small.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

# One capability per relation; four one-word options each, so chance is 25%.
RELATIONS = {
    "colour": ["red", "blue", "green", "gold"],
    "shape": ["round", "square", "flat", "long"],
    "metal": ["iron", "tin", "lead", "zinc"],
    "animal": ["cat", "dog", "owl", "fox"],
    "size": ["big", "small", "tiny", "huge"],
    "day": ["monday", "friday", "sunday", "tuesday"],
}
FILLER = ["zip", "zap", "moo", "quux", "plonk", "wibble", "flarn", "grok"]
RECIPES = ("train", "noise")


def answer(relation: str, i: int) -> str:
    return random.Random(f"{relation}-{i}").choice(RELATIONS[relation])


def fact_texts(n: int) -> list[str]:
    return [f"the {rel} of thing {i} is {answer(rel, i)}" for rel in RELATIONS for i in range(n)]


def filler_texts(seed: int, n: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(FILLER) for _ in range(10)) for _ in range(n)]


def _tokenizer(texts: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>")


def _train(model, tokenizer, texts: list[str], steps: int, lr: float, seed: int) -> None:
    rng = random.Random(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    model.train()
    for _ in range(steps):
        batch = tokenizer([t + tokenizer.eos_token for t in rng.sample(texts, 32)], return_tensors="pt", padding=True)
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        model(**batch, labels=labels).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()


@dataclass
class World:
    folder: Path
    model: Path  # the partly trained model every fine-tune starts from
    suite: Path
    facts: list[str] = field(default_factory=list)


def build_world(folder: Path, facts_per_relation: int = 100, steps: int = 1500) -> World:
    """The tiny model and its suite, saved as a user would have them."""
    from transformers import AutoModelForCausalLM, LlamaConfig

    folder.mkdir(parents=True, exist_ok=True)
    facts = fact_texts(facts_per_relation)
    tokenizer = _tokenizer(facts + filler_texts(0, 100))
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    model = AutoModelForCausalLM.from_config(config)
    # Stopped partway (about 70% right), so many answers are near a tie and flip between runs.
    _train(model, tokenizer, facts, steps=steps, lr=3e-3, seed=0)
    model_dir = folder / "trained"
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    probes = []
    for rel, options in RELATIONS.items():
        with (folder / f"{rel}.jsonl").open("w") as f:
            for i in range(facts_per_relation):
                f.write(json.dumps({"id": f"{rel}-{i}", "prompt": f"the {rel} of thing {i} is",
                                    "choices": options, "target": answer(rel, i)}) + "\n")
        probes.append(f"  - name: {rel}\n    file: {rel}.jsonl\n    kind: choice\n    chat_template: \"off\"\n")
    suite = folder / "suite.yaml"
    suite.write_text("name: false-alarms\nprobes:\n" + "".join(probes))
    return World(folder, model_dir, suite, facts)


def fine_tune(world: World, out: Path, seed: int, recipe: str, noise: float = 0.03) -> Path:
    """One run of a harmless recipe; ``harmful`` is the control that must be caught."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(world.model)
    model = AutoModelForCausalLM.from_pretrained(world.model)
    if recipe == "train":  # a little more training on what it already saw, seed-dependent order
        _train(model, tokenizer, world.facts, steps=60, lr=1e-3, seed=seed)
    elif recipe == "noise":  # Gaussian noise, a small share (`noise`) of each matrix's own spread
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn(p.shape, generator=generator) * p.std() * noise)
    elif recipe == "harmful":  # hard training on unrelated text: real forgetting
        _train(model, tokenizer, filler_texts(seed, 300), steps=150, lr=1e-2, seed=seed)
    else:
        raise ValueError(recipe)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@dataclass
class Tally:
    """Verdicts of comparisons in which nothing was truly lost."""

    comparisons: int = 0
    comparisons_regressed: int = 0
    capabilities: int = 0
    capabilities_regressed: int = 0
    regressed_at_zero_tolerance: int = 0
    raw_p_below: int = 0  # uncorrected p < 1 − confidence with the drop's sign a loss
    flips: int = 0  # answers that changed between the two runs (forgotten + learned)

    def add(self, comparison, zero_tolerance, alpha: float) -> None:
        self.comparisons += 1
        self.comparisons_regressed += comparison.verdict == "regressed"
        for cap, cap0 in zip(comparison.capabilities, zero_tolerance.capabilities):
            self.capabilities += 1
            self.capabilities_regressed += cap.verdict == "regressed"
            self.regressed_at_zero_tolerance += cap0.verdict == "regressed"
            self.raw_p_below += cap.p_value < alpha and cap.drop > 0
            self.flips += (cap.forgotten or 0) + (cap.learned or 0)


def clopper_pearson_upper(k: int, n: int, confidence: float = 0.95) -> float:
    """Exact one-sided upper bound on a rate from k events in n trials (bisection on the binomial tail)."""
    if k >= n:
        return 1.0
    from math import comb

    def tail(p: float) -> float:  # P(X <= k | p)
        return sum(comb(n, j) * p ** j * (1 - p) ** (n - j) for j in range(k + 1))

    low, high = k / n, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        low, high = (mid, high) if tail(mid) > 1 - confidence else (low, mid)
    return high


def run(workdir: Path, pairs: int, recipes: tuple[str, ...] = RECIPES, confidence: float = 0.95,
        tolerance: float = 0.02, facts_per_relation: int = 100, noise: float = 0.03, echo=print) -> dict:
    from forgetcheck.analysis.verdicts import rejudge
    from forgetcheck.workflows.compare import compare

    def judged(base: Path, candidate: Path):
        comparison = compare(str(base), str(candidate), str(world.suite), tolerance=tolerance,
                             confidence=confidence, dtype="float32", device="cpu", progress=False, cache=False,
                             kl_samples=0, recovery_shots=0)
        return comparison, rejudge(comparison, tolerance=0.0)

    started = time.perf_counter()
    world = build_world(workdir / "world", facts_per_relation)
    alpha = 1 - confidence
    result = {"pairs": pairs, "confidence": confidence, "tolerance": tolerance, "noise": noise,
              "capabilities_per_comparison": len(RELATIONS), "items_per_capability": facts_per_relation,
              "recipes": {}}
    for recipe in recipes:
        tally = Tally()
        for k in range(pairs):
            a = fine_tune(world, workdir / f"{recipe}-{k}-a", seed=1000 + 2 * k, recipe=recipe, noise=noise)
            b = fine_tune(world, workdir / f"{recipe}-{k}-b", seed=1001 + 2 * k, recipe=recipe, noise=noise)
            comparison, zero = judged(a, b)
            tally.add(comparison, zero, alpha)
            echo(f"{recipe} pair {k + 1}/{pairs}: {comparison.verdict}, "
                 f"{sum((c.forgotten or 0) + (c.learned or 0) for c in comparison.capabilities)} answers flipped")
        result["recipes"][recipe] = {
            **tally.__dict__,
            "comparison_rate": tally.comparisons_regressed / tally.comparisons,
            "comparison_rate_upper": clopper_pearson_upper(tally.comparisons_regressed, tally.comparisons),
            "capability_rate": tally.capabilities_regressed / tally.capabilities,
            "capability_rate_upper": clopper_pearson_upper(tally.capabilities_regressed, tally.capabilities),
        }
    harmful = fine_tune(world, workdir / "harmful", seed=7, recipe="harmful")
    control = judged(world.model, harmful)[0]
    # The control's base is the trained model, so its base scores are the trained model's accuracy.
    result["trained_model_accuracy"] = {c.name: round(c.base_score, 3) for c in control.capabilities}
    result["control"] = {"verdict": control.verdict,
                         "regressed": sum(c.verdict == "regressed" for c in control.capabilities),
                         "capabilities": len(control.capabilities),
                         "mean_drop": sum(c.drop for c in control.capabilities) / len(control.capabilities)}
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def render(result: dict) -> str:
    alpha = 1 - result["confidence"]
    lines = [f"{result['pairs']} seed pairs per recipe × {result['capabilities_per_comparison']} capabilities of "
             f"{result['items_per_capability']} items; confidence {result['confidence']}, tolerance "
             f"{result['tolerance']}; the trained model gets "
             + ", ".join(f"{k} {v:.2f}" for k, v in result["trained_model_accuracy"].items()), "",
             "| recipe | answers flipped per comparison | comparisons `regressed` (false alarms) | "
             "capabilities `regressed` | at tolerance 0 | raw p < α, loss side |",
             "|---|---|---|---|---|---|"]
    for name, r in result["recipes"].items():
        lines.append(
            f"| {name} | {r['flips'] / r['comparisons']:.1f} | {r['comparisons_regressed']}/{r['comparisons']} "
            f"(≤ {r['comparison_rate_upper']:.1%} at 95%) | {r['capabilities_regressed']}/{r['capabilities']} "
            f"(≤ {r['capability_rate_upper']:.1%}) | {r['regressed_at_zero_tolerance']}/{r['capabilities']} | "
            f"{r['raw_p_below']}/{r['capabilities']} |")
    c = result["control"]
    lines += ["", f"Promise: at most {alpha:.0%} of comparisons with nothing lost come out regressed.",
              f"Control (trained model vs a harmful fine-tune): {c['verdict']}, {c['regressed']} of "
              f"{c['capabilities']} capabilities regressed, mean drop {c['mean_drop']:+.1%}.",
              f"Took {result['seconds']:.0f} s."]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=60, help="seed pairs per recipe")
    parser.add_argument("--recipes", default=",".join(RECIPES), help="comma-separated: train, noise")
    parser.add_argument("--confidence", type=float, default=0.95)
    parser.add_argument("--tolerance", type=float, default=0.02)
    parser.add_argument("--noise", type=float, default=0.03,
                        help="the noise recipe's scale, as a share of each weight matrix's standard deviation")
    parser.add_argument("--workdir", default=None, help="where models are written (default: a temp folder)")
    parser.add_argument("--json", default=None, help="also write the result here")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir or tmp)
        result = run(workdir, args.pairs, tuple(args.recipes.split(",")), args.confidence, args.tolerance,
                     noise=args.noise, echo=lambda m: print(m, file=sys.stderr, flush=True))
    print(render(result))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    worst = max(r["comparison_rate"] for r in result["recipes"].values())
    return 0 if worst <= 1 - args.confidence and result["control"]["verdict"] == "regressed" else 1


if __name__ == "__main__":
    sys.exit(main())
