"""Generation throughput: forgetcheck's generate probes against plain `model.generate` and lm-eval's `generate_until`.

Measures, in one run and one process, the same greedy requests answered three ways:

  1. forgetcheck: `HFScorer.generate`, one call per probe as `score_probe` makes it
     (its scorer sorts by length, batches by a token budget, stops a row at its
     first stop string, checked on the decoded text);
  2. plain transformers, the way a user would write it: the probe's prompts in
     order, 32 at a time (--plain-batch-size), left padded, `model.generate(
     do_sample=False, max_new_tokens=...)` with transformers' own `stop_strings=`
     where the probe has stop strings, and the answer cut at the first one;
  3. lm-evaluation-harness: `HFLM(pretrained=<folder>).generate_until` on
     Instances carrying the same contexts, `until` strings and `max_gen_toks`,
     batch size 32 (--harness-batch-size), one call per probe (the requests of
     one probe share their generation settings, so lm-eval batches them together).

The requests are exactly the ones forgetcheck makes: its own `score_probe` is run
once with a scorer that records the requests instead of answering them, so the
prompts carry the chat template and each probe's `max_tokens` and `stop`.

Two models, each loaded once per method, all in float32 on CPU:
  * default: the base model (SmolLM2-135M-Instruct);
  * merged adapter: the demo LoRA adapter on it, as forgetcheck's candidate pass
    runs it (`open_pair(...).candidate`: the adapter merged into the weights).
    Plain generate loads it with peft and merges it (`merge_and_unload`); lm-eval
    gets `peft=<adapter>` and runs it unmerged, as a user gets it.
Each model answers two short warm-up prompts before it is timed, so one-time
start-up costs fall outside every method's numbers alike.

Per method: wall seconds, process CPU seconds (`time.process_time`, which a busy
shared machine inflates less than wall time), answer tokens (the kept answers
re-encoded) per CPU-second and per wall second, the decode slots the model
computed (rows x new tokens of every `generate` call, so rows that stopped early
count; forgetcheck's own loop drops a row once it ended, so it counts the tokens it
made), and the ratios forgetcheck vs each peer. The greedy answers are compared
per method pair; the first differing answers are printed, to explain them.

Usage:  OMP_NUM_THREADS=1 python benchmarks/generation_throughput.py [--items 16] [--probes arithmetic,knowledge-recall]
Needs:  pip install lm-eval (the `bench` extra) and the demo's base model. Prints a
        section to paste into benchmarks/results.md; --json writes every number.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import platform
import sys
import time
from pathlib import Path

GENERATE_PROBES = ("knowledge-recall", "arithmetic", "instruction-following")
METHODS = ("forgetcheck", "plain generate", "lm-eval")
SHOWN_DIFFERENCES = 6  # differing answers printed per method pair


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", default="core-quick", help="a built-in suite name or a suite.yaml")
    parser.add_argument("--probes", default=",".join(GENERATE_PROBES),
                        help="comma-separated generate probes of the suite (default: core-quick's three)")
    parser.add_argument("--items", type=int, default=None, help="first N items of each probe (default: all)")
    parser.add_argument("--model", default=None, help="base model folder (default: the demo's SmolLM2-135M-Instruct)")
    parser.add_argument("--adapter", default=None, help="LoRA adapter folder (default: the demo adapter)")
    parser.add_argument("--cases", default="default,merged-adapter", help="default, merged-adapter or both")
    parser.add_argument("--plain-batch-size", type=int, default=32)
    parser.add_argument("--harness-batch-size", type=int, default=32)
    parser.add_argument("--json", default=None, help="also write every number and every answer here")
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    base, adapter = Path(args.model or default_models()[0]), Path(args.adapter or default_models()[1])
    probes = [name.strip() for name in args.probes.split(",") if name.strip()]
    cases = [name.strip() for name in args.cases.split(",") if name.strip()]
    unknown = set(cases) - {"default", "merged-adapter"}
    if unknown:
        sys.exit(f"--cases: unknown case(s) {', '.join(sorted(unknown))}; use default and/or merged-adapter")

    requests = recorded_requests(base, args.suite, probes, args.items)
    n = sum(len(r) for r in requests.values())
    print(f"{n} generate requests from {args.suite}: "
          + ", ".join(f"{name} {len(r)}" for name, r in requests.items()), file=sys.stderr)
    results = {case: run_case(case, base, adapter, requests, args) for case in cases}
    facts = {
        "requests": n, "probes": ", ".join(f"{name} ({len(r)})" for name, r in requests.items()),
        "plain generate batch size": args.plain_batch_size, "lm-eval batch size": args.harness_batch_size,
        "threads (OMP_NUM_THREADS)": os.environ.get("OMP_NUM_THREADS", "torch default"),
        "cpu cores": os.cpu_count(), **versions(),
    }
    print(render(results, facts, sys.argv[1:]))
    if args.json:
        Path(args.json).write_text(json.dumps({"facts": facts, "cases": results}, indent=2) + "\n")


def default_models() -> tuple[Path, Path]:
    from forgetcheck.demo.run import demo_models

    return demo_models(echo=lambda m: print(m, file=sys.stderr))


def versions() -> dict:
    import lm_eval
    import torch
    import transformers

    return {"torch": torch.__version__, "transformers": transformers.__version__, "lm-eval": lm_eval.__version__,
            "python": platform.python_version()}


# -- the requests ----------------------------------------------------------------------------------------------
def recorded_requests(base: Path, suite: str, probes: list[str], items: int | None) -> dict[str, list]:
    """Per probe, the GenerationRequests forgetcheck's own score_probe makes for its items."""
    from forgetcheck.models.loading import load_tokenizer
    from forgetcheck.models.specs import resolve
    from forgetcheck.scoring.hf import HFScorer
    from forgetcheck.suites.asking import score_probe
    from forgetcheck.suites.suite import load_suite

    class RequestRecorder(HFScorer):
        """Renders prompts as forgetcheck's scorer does; records generate requests and answers nothing."""

        def generate(self, requests, desc=""):
            self.recorded = list(requests)
            return [""] * len(requests)

    by_name = {probe.name: probe for probe in load_suite(suite).probes}
    missing = [name for name in probes if name not in by_name or by_name[name].kind != "generate"]
    if missing:
        sys.exit(f"--probes: {', '.join(missing)} not a generate probe of {suite} "
                 f"(it has: {', '.join(p.name for p in by_name.values() if p.kind == 'generate')})")
    recorder = RequestRecorder(None, load_tokenizer(resolve(str(base))), progress=False)
    requests = {}
    for name in probes:
        probe = by_name[name]
        score_probe(dataclasses.replace(probe, items=probe.items[:items] if items else probe.items), recorder)
        requests[name] = recorder.recorded
    return requests


# -- the three methods -----------------------------------------------------------------------------------------
def forgetcheck_answerer(base: Path, candidate: Path, tally: dict):
    """The scorer `forgetcheck compare` gives the candidate side (an adapter merged, where that is exact)."""
    from forgetcheck.models.weights import open_pair

    from forgetcheck.scoring import decoding

    scorer = open_pair(str(base), str(candidate), dtype="float32", device="cpu", progress=False).candidate
    warm_up(scorer.model, scorer.tokenizer)
    scorer.model.generate = counted(scorer.model.generate, tally)  # used only where forgetcheck's own loop is not
    decoding.decode = counted_loop(decoding.decode, tally)
    return scorer.generate, scorer.model


def plain_answerer(base: Path, adapter: Path | None, batch_size: int, tally: dict):
    """model.generate as a user would call it: prompts in order, fixed batches, left padding, greedy."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from forgetcheck.scoring.hf import cut_at_stop

    tokenizer = AutoTokenizer.from_pretrained(base, padding_side="left")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32).eval()
    if adapter is not None:
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, adapter).merge_and_unload().eval()
    warm_up(model, tokenizer)
    model.generate = counted(model.generate, tally)

    @torch.no_grad()
    def answer(requests, desc=""):
        answers = []
        for start in range(0, len(requests), batch_size):
            batch = requests[start:start + batch_size]
            stop = list(batch[0].stop)  # one probe: the same stop strings and max_tokens for every request
            inputs = tokenizer([r.context for r in batch], return_tensors="pt", padding=True)
            out = model.generate(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                                 do_sample=False, max_new_tokens=batch[0].max_tokens,
                                 **({"stop_strings": stop, "tokenizer": tokenizer} if stop else {}))
            texts = tokenizer.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
            answers += [cut_at_stop(text, stop) for text in texts]
        return answers

    return answer, model


def harness_answerer(base: Path, adapter: Path | None, batch_size: int, tally: dict):
    """lm-eval's HFLM on the local folder (with peft= for the adapter), asked through generate_until."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=str(base), dtype="float32", device="cpu", batch_size=batch_size,
              **({"peft": str(adapter)} if adapter is not None else {}))
    warm_up(lm.model, lm.tokenizer)
    lm.model.generate = counted(lm.model.generate, tally)

    def answer(requests, desc=""):
        instances = [Instance("generate_until", {}, (r.context, {"until": list(r.stop), "max_gen_toks": r.max_tokens,
                                                                "do_sample": False}), i)
                     for i, r in enumerate(requests)]
        return lm.generate_until(instances, disable_tqdm=True)

    answer.encode = lm.tok_encode  # to check that lm-eval reads the prompts as the same tokens
    return answer, lm.model


def warm_up(model, tokenizer) -> None:
    """Two short greedy answers: one-time start-up costs stay out of the timed runs."""
    import torch

    with torch.no_grad():
        ids = torch.tensor([tokenizer("Warm up, please.", add_special_tokens=False)["input_ids"]] * 2)
        model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False, max_new_tokens=4,
                       pad_token_id=tokenizer.pad_token_id)


def counted(generate, tally: dict):
    """``generate`` that adds its calls and decode slots (rows x new positions) to ``tally``."""
    def run(*args, **kwargs):
        out = generate(*args, **kwargs)
        width = (kwargs["input_ids"] if "input_ids" in kwargs else args[0]).shape[1]
        tally["batches"] += 1
        tally["decode_slots"] += out.shape[0] * (out.shape[1] - width)
        return out

    return run


def counted_loop(decode, tally: dict):
    """forgetcheck's decoding loop, adding its calls and decode slots to ``tally``.

    Each step computes one token for every row still writing and keeps it, so the
    tokens it returns are exactly the slots it computed.
    """
    def run(*args, **kwargs):
        out = decode(*args, **kwargs)
        tally["batches"] += 1
        tally["decode_slots"] += sum(len(tokens) for tokens in out)
        return out

    return run


# -- measuring ---------------------------------------------------------------------------------------------------
def run_case(case: str, base: Path, adapter: Path, requests: dict[str, list], args) -> dict:
    adapted = adapter if case == "merged-adapter" else None
    makers = {
        "forgetcheck": lambda tally: forgetcheck_answerer(base, adapted or base, tally),
        "plain generate": lambda tally: plain_answerer(base, adapted, args.plain_batch_size, tally),
        "lm-eval": lambda tally: harness_answerer(base, adapted, args.harness_batch_size, tally),
    }
    tokenizer = recorded_tokenizer(base)
    measured, same_prompts = {}, None
    for method in METHODS:
        print(f"[{time.strftime('%H:%M:%S')}] {case}: {method}", file=sys.stderr, flush=True)
        tally = {"batches": 0, "decode_slots": 0}
        answer, model = makers[method](tally)
        if hasattr(answer, "encode"):
            same_prompts = prompt_tokens_identical(tokenizer, answer.encode, requests)
        load = os.getloadavg()[0]
        answers, per_probe = {}, {}
        wall, cpu = time.perf_counter(), time.process_time()
        for name, probe_requests in requests.items():
            w, c, before = time.perf_counter(), time.process_time(), dict(tally)
            answers[name] = answer(probe_requests)
            per_probe[name] = {"wall_s": time.perf_counter() - w, "cpu_s": time.process_time() - c,
                               **{key: tally[key] - before[key] for key in tally}}
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        measured[method] = {"wall_s": wall, "cpu_s": cpu, "load_before": load, "load_after": os.getloadavg()[0],
                            **tally, "per_probe": per_probe, "answers": answers}
        del answer, model
        gc.collect()
    for result in measured.values():
        result["answer_tokens"] = sum(len(tokenizer(a, add_special_tokens=False)["input_ids"])
                                      for probe_answers in result["answers"].values() for a in probe_answers)
    return {"methods": measured, "agreement": agreement(measured, requests),
            "prompt_tokens_identical": same_prompts}


def recorded_tokenizer(base: Path):
    from forgetcheck.models.loading import load_tokenizer
    from forgetcheck.models.specs import resolve

    return load_tokenizer(resolve(str(base)))


def prompt_tokens_identical(tokenizer, harness_encode, requests: dict[str, list]) -> str:
    """How many prompts lm-eval encodes to the same token ids as forgetcheck's scorer."""
    from forgetcheck.scoring.hf import HFScorer

    scorer = HFScorer(None, tokenizer, progress=False)
    contexts = [r.context for probe_requests in requests.values() for r in probe_requests]
    same = sum(scorer.encode_context(c) == harness_encode(c) for c in contexts)
    return f"{same}/{len(contexts)}"


def agreement(measured: dict, requests: dict[str, list]) -> dict:
    """Per method pair: identical answers, answers one method cut short, and the first few that differ.

    forgetcheck stops a check answer once it can no longer pass (its request's ``hopeless``); such an
    answer is a prefix of the full one and fails like it, so it counts as ``cut``, not as differing.
    """
    pairs = {}
    for i, first in enumerate(METHODS):
        for second in METHODS[i + 1:]:
            same, cut, differing = 0, 0, []
            for name, probe_requests in requests.items():
                for k, (a, b) in enumerate(zip(measured[first]["answers"][name], measured[second]["answers"][name])):
                    hopeless = probe_requests[k].hopeless
                    short, full = sorted((a, b), key=len)
                    if a == b:
                        same += 1
                    elif hopeless is not None and full.startswith(short) and hopeless(short):
                        cut += 1
                    else:
                        differing.append({"probe": name, "item": k, first: a, second: b})
            pairs[f"{first} = {second}"] = {"same": same, "cut": cut, "of": same + cut + len(differing),
                                            "differing": differing}
    return pairs


# -- the report --------------------------------------------------------------------------------------------------
def render(results: dict, facts: dict, argv: list[str]) -> str:
    lines = ["## Generation throughput (`benchmarks/generation_throughput.py`)", "",
             f"Command: `OMP_NUM_THREADS={facts['threads (OMP_NUM_THREADS)']} "
             f"python benchmarks/generation_throughput.py{''.join(' ' + arg for arg in argv)}`", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, fp32 on CPU, one process, "
             "the same greedy requests.", "",
             "| case | method | wall s | CPU s | answer tokens / CPU-s | / wall-s | decode slots | batches "
             "| forgetcheck faster (CPU) | (wall) | 1-min load before/after |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for case, result in results.items():
        fc = result["methods"]["forgetcheck"]
        for method, m in result["methods"].items():
            ratio = ("—", "—") if method == "forgetcheck" else (f"{m['cpu_s'] / fc['cpu_s']:.2f}x",
                                                               f"{m['wall_s'] / fc['wall_s']:.2f}x")
            lines.append(f"| {case} | {method} | {m['wall_s']:.1f} | {m['cpu_s']:.1f} | "
                         f"{m['answer_tokens'] / m['cpu_s']:.1f} | {m['answer_tokens'] / m['wall_s']:.1f} | "
                         f"{m['decode_slots']} | {m['batches']} | {ratio[0]} | {ratio[1]} | "
                         f"{m['load_before']:.1f} / {m['load_after']:.1f} |")
    lines += ["", "Identical greedy answers, per method pair (cut short: a check answer forgetcheck stopped once it "
              "could no longer pass, a prefix of the other's that fails alike):", ""]
    for case, result in results.items():
        pairs = "; ".join(f"{pair} {a['same']}/{a['of']}" + (f" (+{a['cut']} cut short)" if a.get("cut") else "")
                          for pair, a in result["agreement"].items())
        lines.append(f"- {case}: {pairs}; prompts lm-eval encodes to forgetcheck's tokens: "
                     f"{result['prompt_tokens_identical']}")
    for measure, form, digits in (("cpu_s", "CPU seconds", 1), ("batches", "batches", 0),
                                  ("decode_slots", "decode slots", 0)):
        lines += ["", f"{form} per probe (forgetcheck / plain generate / lm-eval):", ""]
        for case, result in results.items():
            methods = result["methods"]
            per_probe = ", ".join(
                f"{name} " + " / ".join(f"{methods[m]['per_probe'][name][measure]:.{digits}f}" for m in METHODS)
                for name in methods["forgetcheck"]["per_probe"])
            lines.append(f"- {case}: {per_probe}")
    lines += ["", *[f"- {key}: {value}" for key, value in facts.items()]]
    differing = [(case, pair, d) for case, result in results.items() for pair, a in result["agreement"].items()
                 for d in a["differing"][:SHOWN_DIFFERENCES]]
    if differing:
        lines += ["", "First differing answers (case, pair, probe, item: answers):", ""]
        for case, pair, d in differing:
            first, second = pair.split(" = ")
            lines.append(f"- {case}, {pair}, {d['probe']} #{d['item']}: {d[first]!r} vs {d[second]!r}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
