"""The report a person reads: Markdown for a PR, the terminal table, chart.png, the folder.

Comparisons are built by hand, so these tests need no model: one capability that
regressed, one that held, one perplexity capability left inconclusive, and a few
items, one of them answered with text that tries to break out of the report.
"""

from __future__ import annotations

import json
import re

import pytest

from forgetcheck.comparison import (
    CapabilityResult,
    ChanceAdjusted,
    Comparison,
    SampleDrift,
    SampleDriftGroup,
    SubcategoryResult,
    ItemResult,
    overall_verdict,
)
from forgetcheck.errors import BadInput
from forgetcheck.report.chart import write_chart
from forgetcheck.report.files import read_report, write_atomic, write_report_folder
from forgetcheck.report.markdown import escape_untrusted, render_markdown
from forgetcheck.report.text import render_text
from tests.conftest import HOSTILE, make_comparison


def test_markdown_headline_names_what_regressed():
    first_line = render_markdown(make_comparison()).splitlines()[0]
    assert first_line == "## ❌ forgetcheck: 1 capability regressed (arithmetic)"


def test_markdown_headline_when_nothing_regressed():
    comparison = make_comparison()
    comparison.capabilities = comparison.capabilities[1:]
    assert render_markdown(comparison).startswith("## ⚠️ forgetcheck: inconclusive")
    comparison.capabilities = comparison.capabilities[:1]
    assert render_markdown(comparison).startswith("## ✅ forgetcheck: nothing regressed")


def test_markdown_table_shows_scores_in_the_units_people_read():
    markdown = render_markdown(make_comparison())
    rows = {
        line.split("|")[1].strip(): line
        for line in markdown.splitlines()
        if line.startswith("| **")
    }
    assert set(rows) == {"**arithmetic**", "**instruction-following**", "**wiki-ppl**"}
    assert "71.3%" in rows["**arithmetic**"] and "67.3%" in rows["**arithmetic**"]
    assert "+4.0 pts [+1.2, +6.9]" in rows["**arithmetic**"]
    assert "31 / 15" in rows["**arithmetic**"] and "❌ regressed" in rows["**arithmetic**"]
    assert "✅ held" in rows["**instruction-following**"]
    assert "ppl 11.16" in rows["**wiki-ppl**"] and "ppl 11.37" in rows["**wiki-ppl**"]
    assert "+0.019 nats/token [-0.004, +0.042]" in rows["**wiki-ppl**"]
    assert "⚠️ inconclusive" in rows["**wiki-ppl**"]
    assert "about 410 items would decide it" in markdown
    assert "3 answers hit the token limit" in markdown
    assert "adds a BOS token" in markdown


def test_markdown_keeps_hostile_model_text_inert():
    markdown = render_markdown(make_comparison())
    assert markdown.count("<details>") == markdown.count("</details>") == 2
    assert "<script" not in markdown.lower()
    assert "@octocat" not in markdown
    assert "http://evil" not in markdown and "](http" not in markdown
    assert "```" not in markdown
    # The hostile answer still reads as what the model said, on one table-safe line.
    hostile_line = next(
        line for line in markdown.splitlines() if "candidate answered: &lt;/details" in line
    )
    assert "alert\\(1\\)" in hostile_line
    assert re.search(r"(?<!\\)\|", hostile_line) is None


def test_markdown_shows_forgotten_items_and_settings():
    markdown = render_markdown(make_comparison())
    forgotten = markdown.split("<summary>Most telling forgotten items</summary>")[1]
    forgotten = forgotten.split("</details>")[0]
    assert "arith\\-0007" in forgotten and "arith\\-0012" in forgotten
    assert "arith\\-0013" not in forgotten  # learned, not forgotten
    assert "Q: 5 \\+ 8 = ⏎ A:" in forgotten
    settings = markdown.split("<summary>Settings</summary>")[1]
    assert "a" * 12 in settings and "a" * 13 not in settings
    assert "adapter" in settings and "bfloat16" in settings and "95%" in settings
    assert "core" in settings and "c" * 12 in settings


def test_markdown_fits_a_github_comment_with_twenty_capabilities_of_long_answers():
    comparison = make_comparison()
    template = comparison.capabilities[0]
    comparison.capabilities = [
        CapabilityResult(**{**vars(template), "name": f"cap-{i}"}) for i in range(20)
    ]
    comparison.items = [
        ItemResult(f"cap-{i}", f"item-{j}", 1.0, 0.0, "forgotten", prompt="<|" * 400,
                   expected="*" * 400, base_answer="|" * 400, candidate_answer=HOSTILE * 10)
        for i in range(20) for j in range(8)
    ]
    markdown = render_markdown(comparison)
    assert len(markdown) < 65_536
    assert "More forgotten items are in samples.jsonl." in markdown
    assert markdown.count("<details>") == markdown.count("</details>") == 2


@pytest.mark.parametrize(
    "text, limit, expected",
    [
        ("<b>&</b>", 300, "&lt;b&gt;&amp;&lt;/b&gt;"),
        ("*bold* _it_ `code`", 300, "\\*bold\\* \\_it\\_ \\`code\\`"),
        ("# title\n- item", 300, "\\# title ⏎ \\- item"),
        ("1. first\n    indented", 300, "1\\. first ⏎ indented"),
        ("cc @octocat, see https://x.io", 300, "cc @&#8203;octocat, see https:&#8203;//x.io"),
        ("x" * 10, 5, "xxxx…"),
    ],
)
def test_escape_untrusted(text, limit, expected):
    assert escape_untrusted(text, limit=limit) == expected


def test_text_table_lists_every_capability_within_100_columns():
    text = render_text(make_comparison())
    lines = text.splitlines()
    assert lines[1].split()[:2] == ["capability", "n"]
    for name, verdict in [("arithmetic", "REGRESSED"), ("instruction-following", "held"),
                          ("wiki-ppl", "inconclusive")]:
        row = next(line for line in lines if line.startswith(name))
        assert row.rstrip().endswith(verdict)
    assert max(len(line) for line in lines[:-1]) <= 100
    assert lines[-1].startswith("forgetcheck: 1 capability regressed (arithmetic)")
    assert "\x1b" not in text


def test_text_table_stays_narrow_with_long_names():
    comparison = make_comparison()
    comparison.capabilities[2].name = "a-very-long-capability-name-from-a-custom-suite"
    table = render_text(comparison).splitlines()[:-2]
    assert max(len(line) for line in table) <= 100


def test_chart_is_a_png(tmp_path):
    path = tmp_path / "chart.png"
    write_chart(make_comparison(), path)
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert 10_000 < len(data) < 2_000_000
    assert [p.name for p in tmp_path.iterdir()] == ["chart.png"]  # no temp file left behind


@pytest.mark.parametrize("count", [1, 20])
def test_chart_draws_one_to_twenty_capabilities(tmp_path, count):
    comparison = make_comparison()
    template = comparison.capabilities
    comparison.capabilities = [
        CapabilityResult(**{**vars(template[i % 3]), "name": f"cap-{i}$x$"}) for i in range(count)
    ]
    write_chart(comparison, tmp_path / "chart.png")
    assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"


def test_report_folder_round_trips(tmp_path):
    comparison = make_comparison()
    paths = write_report_folder(comparison, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "chart.png", "report.html", "report.json", "report.md", "samples.jsonl"]
    assert set(paths) == {"json", "markdown", "samples", "chart", "html"}
    assert read_report(paths["json"]) == comparison
    assert read_report(tmp_path / "out") == comparison
    assert paths["markdown"].read_text(encoding="utf-8") == render_markdown(comparison)
    samples = [
        json.loads(line) for line in paths["samples"].read_text(encoding="utf-8").splitlines()
    ]
    assert len(samples) == len(comparison.items)
    assert samples[0]["candidate_answer"] == HOSTILE and samples[0]["flip"] == "forgotten"
    assert samples[0]["subcategory"] == "multiply"


def test_write_atomic_replaces_whole_file(tmp_path):
    path = tmp_path / "report.md"
    write_atomic(path, "old")
    write_atomic(path, b"new")
    assert path.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_write_atomic_interrupted_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "report.json"
    write_atomic(path, "old")

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr("forgetcheck.report.files.os.replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_read_report_on_broken_json_names_file_and_line(tmp_path):
    path = tmp_path / "report.json"
    path.write_text('{\n  "schema_version": 1,\n  "base": {oops}\n}\n')
    with pytest.raises(BadInput) as caught:
        read_report(path)
    message = str(caught.value)
    assert str(path) in message and "line 3" in message
    assert "\n" not in message


def test_read_report_on_missing_or_wrong_shape(tmp_path):
    with pytest.raises(BadInput, match="no such file"):
        read_report(tmp_path / "missing.json")
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"schema_version": 1, "base": {}}))
    with pytest.raises(BadInput, match=re.escape(str(path))):
        read_report(path)


def _with_chance_rows() -> Comparison:
    """The sample comparison plus a capability at chance and chance/breakdown details."""
    from dataclasses import replace

    comparison = make_comparison()
    arithmetic = replace(
        comparison.capabilities[0], chance=0.25,
        chance_adjusted=ChanceAdjusted(forgetting=0.1, forgetting_chance=0.02, forgetting_true=0.08,
                                       forgetting_max=0.733, backward_transfer=0.0375,
                                       backward_transfer_chance=0.02, backward_transfer_true=0.0175,
                                       backward_transfer_max=0.6),
        subcategories=[
            SubcategoryResult("add", n=200, base_score=0.8, candidate_score=0.7, drop=0.1,
                              ci_low=0.05, ci_high=0.15, forgotten=25, learned=5),
            SubcategoryResult("multiply", n=200, base_score=0.626, candidate_score=0.646, drop=-0.02,
                              ci_low=-0.06, ci_high=0.02, forgotten=6, learned=10)])
    guessing = CapabilityResult(
        name="code", kind="choice", metric="acc", n=250, base_score=0.26, candidate_score=0.25,
        drop=0.01, ci_low=-0.02, ci_high=0.04, p_value=0.5, p_adjusted=1.0, verdict="at-chance",
        forgotten=8, learned=5, chance=0.25,
        at_chance="the base scores 26.0%, no better than guessing (chance 25.0%)")
    caps = [arithmetic, *comparison.capabilities[1:], guessing]
    return replace(comparison, capabilities=caps, verdict=overall_verdict(caps))


def test_at_chance_is_reported_and_not_counted_as_held(tmp_path):
    comparison = _with_chance_rows()
    text = render_text(comparison)
    assert re.search(r"^code .* at chance$", text, re.MULTILINE)
    assert "1 at chance" in text.splitlines()[-1]
    markdown = render_markdown(comparison)
    assert "⚪ at chance" in markdown
    assert "**code** measures nothing for this base" in markdown and "not counted as held" in markdown
    held_only = replace_verdicts(comparison, {"arithmetic": "held", "wiki-ppl": "held"})
    assert "nothing regressed (all 3 capabilities measured held)" in render_text(held_only)
    write_chart(comparison, tmp_path / "chart.png")
    assert (tmp_path / "chart.png").read_bytes().startswith(b"\x89PNG")


def replace_verdicts(comparison, verdicts):
    from dataclasses import replace

    caps = [replace(c, verdict=verdicts.get(c.name, c.verdict)) for c in comparison.capabilities]
    return replace(comparison, capabilities=caps, verdict=overall_verdict(caps))


def test_markdown_shows_chance_adjusted_forgetting_and_subcategories():
    markdown = render_markdown(_with_chance_rows())
    section = markdown.split("<summary>Chance-adjusted forgetting</summary>")[1].split("</details>")[0]
    assert "| arithmetic | 25.0% | 10.0% | 2.0% | **8.0%** | 73.3% | 3.8% | 2.0% | **1.8%** |" in section
    breakdown = markdown.split("<summary>By sub-category</summary>")[1].split("</details>")[0]
    assert "| arithmetic | add | 200 | 80.0% | 70.0% | +10.0 pts [+5.0, +15.0] | 25 / 5 |" in breakdown
    assert "code" not in breakdown  # no sub-categories, no rows


def test_version_1_reports_still_read_and_rejudge(tmp_path):
    from forgetcheck.analysis.verdicts import rejudge
    from forgetcheck.comparison import to_dict

    data = to_dict(make_comparison())
    data["schema_version"] = 1
    for cap in data["capabilities"]:
        for key in ("chance", "at_chance", "chance_adjusted", "subcategories"):
            cap.pop(key)
    for item in data["items"]:
        item.pop("n_options"), item.pop("pair")
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data))
    comparison = read_report(path)
    assert comparison.schema_version == 2 and comparison.capabilities[0].chance is None
    assert rejudge(comparison).capabilities[0].name == "arithmetic"


def test_markdown_says_whether_forgotten_answers_kept_the_knowledge():
    from dataclasses import replace

    comparison = make_comparison()
    caps = [replace(comparison.capabilities[0], diagnosis="mostly format: 7 of 10 forgotten answers with a "
                    "multiple-choice twin are still ranked first there"), *comparison.capabilities[1:]]
    comparison.items[1].forgetting = "knowledge kept"
    markdown = render_markdown(replace(comparison, capabilities=caps))
    assert "- **arithmetic**, forgotten answers: mostly format: 7 of 10" in markdown
    assert "**arith\\-0012** · knowledge kept" in markdown


def test_markdown_shows_drift_and_perplexity_ratio():
    from dataclasses import replace

    drift = SampleDrift(samples=64, seed=0, temperature=1.0, max_new_tokens=48, top_k=256,
                        overall=SampleDriftGroup("all", 64, 0.1234, 0.1, 0.15, 0.2, 0.15, 0.25),
                        groups=[SampleDriftGroup("open", 16, 0.2, 0.1, 0.3, 0.3, 0.2, 0.4)])
    markdown = render_markdown(replace(make_comparison(), label_free=drift))
    assert "| **all** | 64 | 0.1234 [0.1000, 0.1500] | +0.2000 [+0.1500, +0.2500] |" in markdown
    assert "| open | 16 |" in markdown
    # wiki-ppl: drop 0.019 nats/token [-0.004, 0.042] -> perplexity x1.019 [x0.996, x1.043]
    assert "- **wiki-ppl**: perplexity ×1.019 [×0.996, ×1.043]" in markdown


def test_the_report_ends_with_the_next_step_its_verdicts_call_for():
    comparison = make_comparison()
    ends = render_markdown(comparison).rstrip().splitlines()[-1]
    assert ends.startswith("**Next step:**") and "arithmetic" in ends and "forgetcheck replay" in ends
    for cap in comparison.capabilities:
        cap.verdict = "inconclusive" if cap.name == "wiki-ppl" else "held"
    ends = render_markdown(comparison).rstrip().splitlines()[-1]
    assert "1 capability is undecided with as few as 120 items" in ends and "--suite core" in ends
    for cap in comparison.capabilities:
        cap.verdict = "held"
    assert "nothing measurable was forgotten" in render_markdown(comparison).rstrip().splitlines()[-1]


def test_an_absurd_number_of_items_reads_as_advice_not_a_count():
    comparison = make_comparison()
    ppl = comparison.capabilities[2]
    ppl.items_needed = 230_556  # a drop sitting on the tolerance: no suite that size exists
    markdown = render_markdown(comparison)
    assert "230,556" not in markdown
    assert "wiki-ppl** is inconclusive with 120 items: more items alone will not settle it (it would take over " \
           "20 times as many); if a drop of 2.0 pts, 0.020 nats/token does not matter to you, widen --tolerance" in markdown
