"""Per-difficulty scores: items record easy / medium / hard, and the report breaks each capability down by it."""

from __future__ import annotations

import json

from forgetcheck.comparison import to_dict
from forgetcheck.report.markdown import render_markdown
from forgetcheck.report.files import read_report
from tests.conftest import make_comparison, run, write_suite


def test_compare_reports_the_paired_drop_per_difficulty(tiny_base, forgetful_adapter, tmp_path):
    suite = write_suite(tmp_path / "suite")
    facts = suite.parent / "facts.jsonl"
    rows = [json.loads(line) for line in facts.read_text().splitlines()]
    for n, row in enumerate(rows):
        row["difficulty"] = ("easy", "medium", "hard")[n % 3]
    facts.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "report"
    result = run("compare", tiny_base, forgetful_adapter, "--suite", suite, "--out", out, "--quiet",
                 "--kl-samples", "0")
    assert result.exit_code == 1, result.output
    report = json.loads((out / "report.json").read_text())
    caps = {c["name"]: c for c in report["capabilities"]}
    rows_by_name = {row["name"]: row for row in caps["facts"]["difficulties"]}
    assert list(rows_by_name) == ["easy", "medium", "hard"]
    assert sum(row["n"] for row in rows_by_name.values()) == caps["facts"]["n"]
    assert sum(row["forgotten"] for row in rows_by_name.values()) == caps["facts"]["forgotten"]
    assert caps["recall"]["difficulties"] == []  # its items record no difficulty
    hard = [i for i in report["items"] if i["capability"] == "facts" and i["difficulty"] == "hard"]
    assert len(hard) == rows_by_name["hard"]["n"]
    markdown = (out / "report.md").read_text()
    section = markdown.split("<summary>By difficulty</summary>")[1].split("</details>")[0]
    assert "| capability | easy | medium | hard |" in section
    easy = rows_by_name["easy"]
    assert (f"| facts | {easy['base_score'] * 100:.1f}% → {easy['candidate_score'] * 100:.1f}%, "
            f"{easy['drop'] * 100:+.1f} pts (n={easy['n']})") in section


def test_reports_written_before_difficulties_still_read(tmp_path):
    data = to_dict(make_comparison())
    for cap in data["capabilities"]:
        cap.pop("difficulties")
    for item in data["items"]:
        item.pop("difficulty")
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data))
    comparison = read_report(path)
    assert all(cap.difficulties == [] for cap in comparison.capabilities)
    assert "By difficulty" not in render_markdown(comparison)
