"""benchmarks/cpu_bf16.py runs and says which dtype is faster on this CPU."""

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "cpu_bf16.py"


def test_the_bf16_benchmark_reports_both_rates_and_their_ratio():
    done = subprocess.run([sys.executable, str(SCRIPT), "--tokens", "4"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rates = re.search(r"float32: ([\d.]+) GFLOP per CPU-second · bf16: ([\d.]+)", done.stdout)
    ratio = re.search(r"bf16 is ([\d.]+)x float32's rate", done.stdout)
    assert rates and ratio and float(rates.group(1)) > 0 and float(rates.group(2)) > 0
    assert abs(float(ratio.group(1)) - float(rates.group(2)) / float(rates.group(1))) < 0.01
