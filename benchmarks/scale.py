"""How `forgetcheck compare`'s time and peak memory grow with suite size and with context length.

Two series of comparisons, each point in its own process so its peak memory is its own:

* suite size: 1x, 4x and 16x items of one realistic mix taken from core: two
  multiple-choice capabilities (world-knowledge, commonsense) and one generation
  capability (arithmetic), the same share of each at every size, items spread
  evenly over each capability's file so every size has the same sub-categories;
* context length: the same 24 items (16 world-knowledge, 8 arithmetic) asked after
  a passage of real text (core's reference paragraphs, a different stretch for each
  item, so no two prompts share a start beyond the chat template's system turn),
  padded so the prompt as the model sees it, chat template included, is about
  64, 256 and 1024 tokens.

Each point is `compare()` (the library form of `forgetcheck compare`) of the demo's
base, SmolLM2-135M-Instruct, with the demo LoRA adapter as candidate, float32 on CPU,
one thread, no result cache, `kl_samples=0` and `recovery_shots=0`, so the growth
measured is scoring's, not that of fixed extras. Per point: wall and CPU seconds of the
whole process (Python start-up and imports included), peak RSS (`ru_maxrss` inside
the process), and the fixed costs apart: importing forgetcheck and torch, loading the
weights (`timings.load_s`) and merging the adapter for the candidate pass (timed around
`merge_for_candidate`; the report counts it in `candidate_s`). Scoring is
`base_s + candidate_s - merge`. The machine may be shared: CPU seconds next to wall, and
the 1-minute load average as each point began.

Usage:  python benchmarks/scale.py [--sizes 1,4,16] [--unit 8] [--contexts 64,256,1024]
        python benchmarks/scale.py --quick --base TINY_MODEL --candidate TINY_ADAPTER   (a check that it runs)
Writes benchmarks/scale.png and the numbers as JSON (--out).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CORE = ROOT / "probes" / "core"
# The mix at 1x, per --unit items: capability -> (core file, kind, units). Two choice capabilities to one
# generation capability, near core's own 8 to 3.
SIZE_MIX = {"world-knowledge": ("world_knowledge.jsonl", "choice", 1), "commonsense": ("commonsense.jsonl", "choice", 1),
            "arithmetic": ("arithmetic.jsonl", "generate", 1)}
CONTEXT_MIX = {"world-knowledge": ("world_knowledge.jsonl", "choice", 2), "arithmetic": ("arithmetic.jsonl", "generate", 1)}
PROBE_YAML = {
    "choice": "    kind: choice\n    metric: acc\n    chat_template: auto\n",
    # As core's arithmetic probe.
    "generate": "    kind: generate\n    max_tokens: 12\n    stop: [\"\\n\"]\n    match: regex\n    chat_template: auto\n",
}
LEAD_IN = "Read the text below, then answer the question after it.\n\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,4,16", help="suite sizes, as multiples of the 1x suite")
    parser.add_argument("--unit", type=int, default=8, help="items per capability at 1x (3 capabilities: 24 items)")
    parser.add_argument("--contexts", default="64,256,1024", help="prompt lengths in tokens, chat template included")
    parser.add_argument("--base", help="default: the demo's SmolLM2-135M-Instruct folder (converted on first use)")
    parser.add_argument("--candidate", help="default: the demo's LoRA adapter")
    parser.add_argument("--quick", action="store_true",
                        help="sizes 1,2, 2 items per capability, contexts 100,120: seconds on a tiny model")
    parser.add_argument("--out", default=None, help="the numbers as JSON (default: scale.json in the work folder)")
    parser.add_argument("--png", default=str(HERE / "scale.png"))
    parser.add_argument("--replot", metavar="JSON", help="draw the PNG and print the table from an earlier --out")
    parser.add_argument("--point", nargs=2, metavar=("SUITE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.point:
        return measure_point(args.base, args.candidate, *args.point)
    if args.replot:
        result = json.loads(Path(args.replot).read_text())
    else:
        if args.quick:
            args.sizes, args.unit, args.contexts = "1,2", 2, "100,120"
        if not (args.base and args.candidate):
            from forgetcheck.demo.run import demo_models

            base, adapter = demo_models(echo=lambda m: print(m, file=sys.stderr))
            args.base, args.candidate = args.base or str(base), args.candidate or str(adapter)
        result = run(args.base, args.candidate, numbers(args.sizes), args.unit, numbers(args.contexts), args.out)
    print(render(result))
    plot(result, Path(args.png))
    print(f"wrote {args.png}", file=sys.stderr)


def numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


# -- the suites ------------------------------------------------------------------------------------------------
def read_items(name: str) -> list[dict]:
    with (CORE / name).open() as f:
        return [json.loads(line) for line in f if line.strip()]


def spread(items: list, n: int) -> list:
    """n items spread evenly over the file: core's files run sub-category by sub-category."""
    if n > len(items):
        raise SystemExit(f"asked for {n} items, core has {len(items)}: use a smaller --unit or --sizes")
    return [items[k * len(items) // n] for k in range(n)]


def write_suite(folder: Path, name: str, probes: dict[str, tuple[str, list[dict]]]) -> Path:
    """A suite folder: one JSONL per capability, and suite.yaml with core's settings for its kind."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"name: {name}", "probes:"]
    for probe, (kind, items) in probes.items():
        with (folder / f"{probe}.jsonl").open("w") as f:
            for item in items:
                f.write(json.dumps(item) + "\n")
        lines.append(f"  - name: {probe}\n    file: {probe}.jsonl\n{PROBE_YAML[kind]}".rstrip("\n"))
    (folder / "suite.yaml").write_text("\n".join(lines) + "\n")
    return folder / "suite.yaml"


def size_suite(folder: Path, multiple: int, unit: int) -> Path:
    probes = {probe: (kind, spread(read_items(file), units * unit * multiple))
              for probe, (file, kind, units) in SIZE_MIX.items()}
    return write_suite(folder, f"scale-{multiple}x", probes)


def context_suite(folder: Path, tokens: int, unit: int, renderer) -> Path:
    """CONTEXT_MIX's items, each asked after real text padded to about ``tokens`` as the model sees it."""
    text = " ".join(json.loads(line)["text"] for line in (CORE / "reference_text.jsonl").open() if line.strip())
    probes, start = {}, 0
    for probe, (file, kind, units) in CONTEXT_MIX.items():
        items = []
        for item in spread(read_items(file), units * unit):
            # Each item reads from its own place in the text, so the prompts of a batch share no start.
            start = (start + 1543) % (len(text) // 2)
            begin = text.find(". ", start) + 2  # from the start of a sentence
            passage = text[begin:begin + 8 * tokens + 2000]
            item = {**item, "prompt": padded_prompt(item["prompt"], passage, tokens, renderer)}
            item.pop("pair", None)
            items.append(item)
        probes[probe] = (kind, items)
    return write_suite(folder, f"context-{tokens}", probes)


def padded_prompt(question: str, text: str, tokens: int, renderer) -> str:
    """LEAD_IN, as much of ``text`` as brings the rendered prompt to about ``tokens``, then the question."""
    def prompt(passage: str) -> str:
        return f"{LEAD_IN}{passage}\n\nQuestion: {question}"

    room = tokens - prompt_tokens(prompt(""), renderer)
    if room <= 0:
        return prompt("")
    enc = renderer.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    end = enc["offset_mapping"][min(room, len(enc["input_ids"])) - 1][1]
    cut = text.rfind(" ", 0, end + 1)  # end on a whole word
    cut = cut if cut > 0 else end
    # Cutting back to a word, and tokens merging across the joins, can leave it short: add words until it is not.
    while prompt_tokens(prompt(text[:cut]), renderer) < tokens and cut < len(text):
        following = text.find(" ", cut + 1)
        cut = following if following > 0 else len(text)
    return prompt(text[:cut].strip())


def prompt_tokens(prompt: str, renderer) -> int:
    """Tokens of a prompt as the model sees it (chat template applied, as the suite's `auto` does here)."""
    rendered = renderer.chat_prompt(prompt) if renderer.has_chat_template else prompt
    return len(renderer.encode_context(rendered))


def mean_prompt_tokens(suite: Path, renderer) -> float:
    lengths = [prompt_tokens(json.loads(line)["prompt"], renderer)
               for file in suite.parent.glob("*.jsonl") for line in file.open() if line.strip()]
    return sum(lengths) / len(lengths)


# -- measuring -------------------------------------------------------------------------------------------------
def run(base: str, candidate: str, sizes: list[int], unit: int, contexts: list[int], out: str | None) -> dict:
    from transformers import AutoTokenizer

    from forgetcheck.scoring.hf import DEFAULT_BATCH_TOKENS, HFScorer

    work = Path(tempfile.mkdtemp(prefix="forgetcheck-scale-"))
    renderer = HFScorer(None, AutoTokenizer.from_pretrained(base))  # renders and counts prompts; no model
    points = []
    plan = [("size", m, size_suite(work / f"size-{m}x", m, unit)) for m in sizes]
    plan += [("context", t, context_suite(work / f"context-{t}", t, unit, renderer)) for t in contexts]
    for series, x, suite in plan:
        load = os.getloadavg()[0]
        print(f"[{time.strftime('%H:%M:%S')}] {series} {x}: load average {load:.1f}", file=sys.stderr, flush=True)
        point = run_point(base, candidate, suite, work / f"{series}-{x}.json")
        point.update(series=series, x=x, load_average=round(load, 2),
                     prompt_tokens=round(mean_prompt_tokens(suite, renderer), 1))
        points.append(point)
    weights = sum(f.stat().st_size for f in Path(base).glob("*.safetensors")) / 2 ** 20
    result = {"base": base, "candidate": candidate, "unit": unit, "batch_tokens": DEFAULT_BATCH_TOKENS["cpu"],
              "weights_mib": round(weights, 1),
              "cpu_cores": os.cpu_count(), "measured": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "command": " ".join(["python benchmarks/scale.py", *sys.argv[1:]]), "points": points}
    target = Path(out) if out else work / "scale.json"
    target.write_text(json.dumps(result, indent=2))
    print(f"numbers in {target}", file=sys.stderr)
    return result


def run_point(base: str, candidate: str, suite: Path, out: Path) -> dict:
    """One comparison in a fresh process: its wall and CPU seconds from here, the rest from inside it."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "TOKENIZERS_PARALLELISM": "false"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    child = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--base", base, "--candidate", candidate,
                            "--point", str(suite), str(out)], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if child.returncode != 0:
        sys.exit(f"the comparison on {suite} failed ({child.returncode}):\n{child.stderr[-3000:]}")
    point = json.loads(out.read_text())
    point.update(wall_s=wall, cpu_s=(after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return point


def measure_point(base: str, candidate: str, suite: str, out: str) -> None:
    """Inside the point's own process: import, compare, and report what it cost."""
    started, cpu_started = time.perf_counter(), time.process_time()
    import torch

    import forgetcheck.models.weights as weights
    import forgetcheck.workflows.compare as comparing

    imported, cpu_imported = time.perf_counter(), time.process_time()
    rss_imported = current_rss_mib()
    # The report's timings are wall seconds. On a shared machine those stretch with other jobs' load, so the
    # scoring passes and the weights' loading (loading, attaching and merging the adapter, which happen lazily
    # inside the first pass of each side) are also timed here in CPU seconds.
    spent = {"score_cpu": 0.0, "weights_cpu": 0.0, "merge_s": 0.0, "merge_cpu": 0.0}

    def timed(function, wall: str | None, cpu: str):
        def run(*args, **kwargs):
            t, c = time.perf_counter(), time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[cpu] += time.process_time() - c
                if wall:
                    spent[wall] += time.perf_counter() - t
        return run

    weights.merge_for_candidate = timed(weights.merge_for_candidate, "merge_s", "merge_cpu")
    weights.LazyWeights.base = timed(weights.LazyWeights.base, None, "weights_cpu")
    weights.LazyWeights.candidate = timed(weights.LazyWeights.candidate, None, "weights_cpu")
    comparing._score_suite = timed(comparing._score_suite, None, "score_cpu")
    comparison = comparing.compare(base, candidate, suite, dtype="float32", device="cpu", cache=False, kl_samples=0,
                                   recovery_shots=0, progress=False)
    timings, counts = comparison.timings, comparison.counts
    Path(out).write_text(json.dumps({
        "items": len(comparison.items), "import_s": imported - started, "import_cpu_s": cpu_imported - cpu_started,
        "load_s": timings["load_s"], "merge_s": spent["merge_s"], "merge_cpu_s": spent["merge_cpu"],
        # The merge runs inside the candidate's first pass: the report counts it in candidate_s.
        "scoring_s": timings["base_s"] + timings["candidate_s"] - spent["merge_s"],
        "scoring_cpu_s": spent["score_cpu"] - spent["weights_cpu"], "weights_cpu_s": spent["weights_cpu"],
        "compare_s": timings["total_s"], "compare_cpu_s": time.process_time() - cpu_imported,
        "padding_efficiency": counts.padding_efficiency, "scored_items": counts.scored_items,
        "models_loaded": counts.models_loaded, "rss_after_import_mib": rss_imported,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "torch": torch.__version__,
        "threads": torch.get_num_threads(), "timings": timings,
    }))


def current_rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# -- the table and the plot ------------------------------------------------------------------------------------
def render(result: dict) -> str:
    """One row per point; growth is against the first point of its series, in CPU seconds (load-proof)."""
    lines = ["| point | items | prompt tokens | wall s | CPU s | scoring wall s | scoring CPU s | CPU ms/item | "
             "× scoring CPU | import CPU s | load + merge CPU s | merge CPU s | peak RSS MiB | load avg |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for series in ("size", "context"):
        own = [p for p in result["points"] if p["series"] == series]
        for p in own:
            label = f"{p['x']}x items" if series == "size" else f"~{p['x']} tokens"
            lines.append(
                f"| {label} | {p['items']} | {p['prompt_tokens']:.0f} | {p['wall_s']:.1f} | {p['cpu_s']:.1f} | "
                f"{p['scoring_s']:.1f} | {p['scoring_cpu_s']:.1f} | {1000 * p['scoring_cpu_s'] / p['items']:.0f} | "
                f"{p['scoring_cpu_s'] / own[0]['scoring_cpu_s']:.2f} | {p['import_cpu_s']:.1f} | "
                f"{p['weights_cpu_s']:.1f} | {p['merge_cpu_s']:.2f} | {p['peak_rss_mib']:.0f} | "
                f"{p['load_average']:.1f} |")
    return "\n".join(lines)


def plot(result: dict, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    for ax, series, xlabel in ((axes[0], "size", "items in the suite"),
                               (axes[1], "context", "prompt tokens as the model sees them (mean)")):
        own = [p for p in result["points"] if p["series"] == series]
        if not own:
            continue
        xs = [p["items"] if series == "size" else p["prompt_tokens"] for p in own]
        for key, label, style in (("wall_s", "whole run, wall (shared machine)", "o-"), ("cpu_s", "whole run, CPU", "s--"),
                                  ("scoring_cpu_s", "scoring (base + candidate), CPU", "^-")):
            ax.plot(xs, [p[key] for p in own], style, label=label)
        ideal = [own[0]["scoring_cpu_s"] * x / xs[0] for x in xs]
        ax.plot(xs, ideal, ":", color="grey", label="scoring, ideal linear")
        ax.plot(xs, [p["import_cpu_s"] + p["weights_cpu_s"] for p in own], "x-.", color="black",
                label="fixed: import + load + merge, CPU")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(xs, [f"{x:.0f}" for x in xs])  # the measured points, not crowded log minor labels
        ax.minorticks_off()
        ax.set_xlabel(xlabel)
        ax.set_ylabel("seconds")
        ax.set_title("time vs suite size" if series == "size" else "time vs context length")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    ax = axes[2]
    for series, label, style in (("size", "suite size (x: items / 1x items)", "o-"),
                                 ("context", "context (x: prompt tokens / first point's)", "s-")):
        own = [p for p in result["points"] if p["series"] == series]
        if own:
            first = own[0]["items"] if series == "size" else own[0]["prompt_tokens"]
            xs = [(p["items"] if series == "size" else p["prompt_tokens"]) / first for p in own]
            ax.plot(xs, [p["peak_rss_mib"] for p in own], style, label=f"peak RSS, {label}")
    imported = [p["rss_after_import_mib"] for p in result["points"]]
    if imported:
        libraries = sum(imported) / len(imported)
        ax.axhline(libraries, color="grey", ls=":", label="RSS after imports, before weights")
        ax.axhline(libraries + result["weights_mib"], color="black", ls="-.",
                   label=f"... plus one copy of the weights ({result['weights_mib']:.0f} MiB)")
    ax.set_xscale("log")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("growth factor")
    ax.set_ylabel("MiB")
    ax.set_title("peak memory")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.suptitle(f"forgetcheck compare, {Path(result['base']).name} + adapter, fp32 CPU, 1 thread, no cache "
                 f"({result['measured']})", fontsize=10)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
