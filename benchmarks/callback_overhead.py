"""What ForgettingCallback costs: the demo's training script with and without it, side by side.

Runs ``examples/train_demo_adapter.py`` twice in a row with the same seed and
steps, once plain and once with ``--forgetting`` (the callback at its defaults
unless ``--every``/``--items`` say otherwise), and reports the callback's share
of the training loop's time. CPU time is the main measure: on a shared machine
wall time swings with other people's load, while CPU time of a process pinned to
one thread (OMP_NUM_THREADS=1) barely does.

From the same two runs it also projects the overhead at any other schedule:
training costs ``T`` per step (the plain run), the callback ``B`` once for the
base and ``C`` per check (printed by the script), so ``S`` steps checked every
``E`` steps cost ``(B + floor(S/E)·C) / (S·T)`` on top of training. The projection
for the demo's own length (150 steps) at the callback's defaults is printed
beside the measured ratio, so a short run can stand in for a long one.

    OMP_NUM_THREADS=1 python benchmarks/callback_overhead.py --steps 2 --every 2
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from forgetcheck.integrations.transformers import DEFAULT_EVERY_N_STEPS, DEFAULT_ITEMS_PER_CAPABILITY

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "train_demo_adapter.py"
DEMO_STEPS = 150  # the demo script's default --steps


def run(args: list[str]) -> str:
    """The training script's stdout; its own timing lines are what this benchmark reads."""
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"training script failed:\n{done.stderr[-3000:]}")
    return done.stdout


def seconds(pattern: str, text: str) -> list[float]:
    return [float(x) for x in re.findall(pattern, text)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=DEMO_STEPS)
    parser.add_argument("--every", type=int, default=DEFAULT_EVERY_N_STEPS, help="steps between checks")
    parser.add_argument("--items", type=int, default=DEFAULT_ITEMS_PER_CAPABILITY, help="items per capability")
    options = parser.parse_args()
    common = ["--steps", str(options.steps), "--seed", "0"]
    with tempfile.TemporaryDirectory() as work:
        started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        load_before = os.getloadavg()[0]
        plain = run([*common, "--out", f"{work}/plain"])
        load_between = os.getloadavg()[0]
        watched = run([*common, "--out", f"{work}/watched", "--forgetting", "--forgetting-every", str(options.every),
                       "--forgetting-items", str(options.items)])
        same_adapter = Path(f"{work}/plain/adapter_model.safetensors").read_bytes() == \
            Path(f"{work}/watched/adapter_model.safetensors").read_bytes()
    timing = r"trained \d+ steps in ([\d.]+)s \(([\d.]+)s CPU\)"
    (plain_wall, plain_cpu), (watched_wall, watched_cpu) = (
        tuple(float(x) for x in re.search(timing, out).groups()) for out in (plain, watched))
    base_cpu = seconds(r"base scored in [\d.]+s \(([\d.]+)s CPU\)", watched)[0]
    check_cpu = seconds(r"forgetting checked in ([\d.]+)s CPU", watched)
    step_cpu = plain_cpu / options.steps
    per_check = sum(check_cpu) / len(check_cpu)
    projected = (base_cpu + DEMO_STEPS // DEFAULT_EVERY_N_STEPS * per_check) / (DEMO_STEPS * step_cpu)
    print(f"Measured {started}; command: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '1')} "
          f"python benchmarks/callback_overhead.py --steps {options.steps} --every {options.every} "
          f"--items {options.items}")
    print(f"1-minute load average before each run: {load_before:.1f}, {load_between:.1f} (cores: {os.cpu_count()})")
    print("| run | training loop, CPU | wall |")
    print("|---|---|---|")
    print(f"| plain, {options.steps} steps | {plain_cpu:.1f} s | {plain_wall:.1f} s |")
    print(f"| with ForgettingCallback, {options.steps} steps, every {options.every}, {options.items} items/capability "
          f"| {watched_cpu:.1f} s | {watched_wall:.1f} s |")
    print(f"| overhead (with / plain − 1) | {watched_cpu / plain_cpu - 1:+.1%} | {watched_wall / plain_wall - 1:+.1%} |")
    print(f"- per training step: {step_cpu:.1f} s CPU; base pass: {base_cpu:.1f} s CPU; "
          f"per check: {', '.join(f'{c:.1f}' for c in check_cpu)} s CPU")
    print(f"- projected for the demo's {DEMO_STEPS} steps at the defaults (every {DEFAULT_EVERY_N_STEPS}, "
          f"{DEFAULT_ITEMS_PER_CAPABILITY} items/capability): base + {DEMO_STEPS // DEFAULT_EVERY_N_STEPS} checks = "
          f"{projected:.1%} of training CPU time (target ≤ 10%: {'yes' if projected <= 0.10 else 'no'})")
    print(f"- adapter trained with the callback is byte-identical to the plain one: {same_adapter}")


if __name__ == "__main__":
    main()
