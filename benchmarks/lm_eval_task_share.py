"""What share of lm-evaluation-harness's shipped task YAMLs does forgetcheck import? (issue 13)

Walks every ``*.yaml`` under the installed ``lm_eval/tasks`` folder, keeps the files
that define one task (a ``task:`` name after includes are merged, as lm-eval's own
index counts them; group files and Python ``class:`` tasks are not tasks here), and
asks forgetcheck's importer about each, exactly as ``lm_eval_task:`` does before it
loads data: includes merged, every key checked, ``!function`` hooks recorded but
never run. A task "carries code" when it holds a ``!function`` anywhere or a
``process_docs``/``process_results`` key: those need the task's own Python.

No dataset is downloaded and no task code runs, so the share is of tasks whose
configuration forgetcheck accepts; whether every row renders depends on the data.
Tasks with code are counted twice: as imported without the flag (never, by design)
and as accepted with ``--allow-task-code``, where lm-eval builds their requests and
forgetcheck still refuses what it would not score as lm-eval does (custom
``process_results`` on choice/generation tasks, custom filters and metrics).
The agreement tests (tests/test_lm_eval.py) check, item by item, that
what is accepted scores as lm-eval scores it.

    python benchmarks/lm_eval_task_share.py            # about a minute on one core
    python benchmarks/lm_eval_task_share.py --json out.json
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import time
from pathlib import Path

from forgetcheck.errors import BadInput
from forgetcheck.suites import sources
from forgetcheck.suites.lm_eval_tasks import allowing_task_code


def reason(refusal: str) -> str:
    """A refusal without its file:line, numbers and quoted names, so alike refusals count together."""
    text = refusal.split(": ", 1)[1] if ": " in refusal else refusal
    return re.sub(r"'[^']*'|\d+", "…", text)[:110]


def measure(root: Path) -> dict:
    counts = collections.Counter()
    reasons: collections.Counter = collections.Counter()
    refused_examples: dict[str, str] = {}
    for path in sorted(root.glob("**/*.yaml")):
        if "__pycache__" in path.parts:
            continue
        try:
            config, refusals = sources.read_task(path)
        except BadInput as exc:  # unreadable YAML or a broken include chain
            config, refusals = None, [str(exc)]
        if config is not None and (not isinstance(config.get("task"), str) or "class" in config):
            counts["not a task (group, tag list, template or Python class)"] += 1
            continue
        code = config is not None and sources.carries_code(config)
        kind = "with code" if code else "without code"
        counts[f"tasks {kind}"] += 1
        if not refusals:
            counts[f"imported {kind}"] += 1
        if code:
            with allowing_task_code(True):
                if not sources.read_task(path)[1]:
                    counts["accepted with code under --allow-task-code"] += 1
        elif not code:
            for why in {reason(refusal): refusal for refusal in refusals}.items():  # each reason once per task
                reasons[why[0]] += 1
                refused_examples.setdefault(*why)
    tasks = counts["tasks with code"] + counts["tasks without code"]
    imported = counts["imported with code"] + counts["imported without code"]
    return {
        "counts": dict(counts),
        "share_of_all_tasks": imported / max(tasks, 1),
        "share_of_tasks_without_code": counts["imported without code"] / max(counts["tasks without code"], 1),
        "share_of_tasks_with_code_under_flag": (counts["accepted with code under --allow-task-code"]
                                                / max(counts["tasks with code"], 1)),
        "top_refusals_without_code": [{"count": n, "reason": r, "example": refused_examples[r]}
                                      for r, n in reasons.most_common(12)],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    try:
        import lm_eval
    except ImportError:
        print("lm-eval is not installed: pip install 'forgetcheck[lm-eval]'", file=sys.stderr)
        return 2
    root = Path(lm_eval.__file__).parent / "tasks"
    started = time.perf_counter()
    result = measure(root)
    result.update(lm_eval_version=lm_eval.__version__, seconds=round(time.perf_counter() - started, 1))
    counts = result["counts"]
    print(f"lm-eval {lm_eval.__version__}: {root}")
    for key in sorted(counts):
        print(f"  {key:<55} {counts[key]:>6}")
    print(f"imported: {result['share_of_all_tasks']:.1%} of all tasks, "
          f"{result['share_of_tasks_without_code']:.1%} of tasks without code ({result['seconds']} s)")
    print(f"with --allow-task-code: {result['share_of_tasks_with_code_under_flag']:.1%} of tasks with code accepted")
    print("tasks without code refused, by reason (a task may have several):")
    for row in result["top_refusals_without_code"]:
        print(f"  {row['count']:>5}  {row['reason']}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
