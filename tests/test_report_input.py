"""A report.json is untrusted input: every bad one is one line and exit 2, and every field renders inert.

A pull request's artifact can hand forgetcheck any report.json. Each malformed
variant below goes through the real CLI commands that read a report (``report``,
``comment github``, ``card --readme``) and must give exit code 2 with one line on
stderr naming the file and the field, never a traceback. Then a report whose every
text field carries mentions, closing tags, comment markers, backticks, pipes and
terminal escapes must render defused in Markdown, in the terminal and in the comment.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace

import pytest
from click.testing import CliRunner

from forgetcheck.cli import main
from forgetcheck.comparison import (
    CapabilityResult,
    ChanceAdjusted,
    Comparison,
    Counts,
    ItemResult,
    ModelInfo,
    SampleDrift,
    SampleDriftGroup,
    Settings,
    SubcategoryResult,
    overall_verdict,
    to_dict,
)
from forgetcheck.report.comment import comment_body
from forgetcheck.report.files import read_report
from forgetcheck.report.markdown import render_markdown
from forgetcheck.report.text import render_text


def full_comparison(name: str = "arithmetic", text: str = "391") -> Comparison:
    """A comparison with every part a report can hold; ``name`` and ``text`` fill its text fields."""
    group = SampleDriftGroup(name, 4, 0.02, 0.01, 0.03, 0.05, 0.02, 0.08)
    caps = [
        CapabilityResult(
            name=name, kind="choice", metric="acc", n=400, base_score=0.7, candidate_score=0.6, drop=0.1,
            ci_low=0.05, ci_high=0.15, p_value=0.001, p_adjusted=0.002, verdict="regressed", forgotten=50,
            learned=10, note=text, chance=0.25, at_chance=None, diagnosis=text,
            chance_adjusted=ChanceAdjusted(0.1, 0.05, 0.02, 0.02, 0.08, 0.03, 0.7, 0.6),
            subcategories=[SubcategoryResult(name, 200, 0.8, 0.7, 0.1, 0.05, 0.15, 25, 5),
                           SubcategoryResult("other", 200, 0.6, 0.5, 0.1, 0.05, 0.15, 25, 5)]),
        CapabilityResult(
            name="guessing", kind="choice", metric="acc", n=100, base_score=0.26, candidate_score=0.25, drop=0.01,
            ci_low=-0.02, ci_high=0.04, p_value=0.5, p_adjusted=1.0, verdict="at-chance", forgotten=8, learned=5,
            chance=0.25, at_chance=text),
        CapabilityResult(
            name="wiki", kind="perplexity", metric="loglik_per_token", n=30, base_score=-2.4, candidate_score=-2.43,
            drop=0.03, ci_low=-0.01, ci_high=0.07, p_value=0.2, p_adjusted=0.4, verdict="inconclusive",
            forgotten=None, learned=None, items_needed=410, extra={"perplexity": {"base": 11.0, "candidate": 11.4}}),
    ]
    items = [ItemResult(name, text, 1.0, 0.0, "forgotten", prompt=text, expected=text, base_answer=text,
                        candidate_answer=text, subcategory=name, n_options=4, forgetting=text),
             ItemResult("guessing", "g-1", 0.0, 0.0, "same", n_options=4),
             ItemResult("wiki", "w-1", -2.4, -2.43, prompt="The Eiffel Tower is")]
    return Comparison(
        base=ModelInfo(text, "hub", "a" * 40),
        candidate=ModelInfo(text, "adapter", "sha256:" + "b" * 64, adapter=True, adapter_base=text),
        settings=Settings(dtype="float32", device="cpu", tolerance=0.02, confidence=0.95,
                          suites=[{"name": text, "hash": "c" * 64, "source": text}], batch_tokens=4096,
                          probes=[{"name": name, "kind": "choice", "items": 400}], kl_samples=4),
        capabilities=caps, verdict=overall_verdict(caps), items=items,
        timings={"load_s": 1.5, text: 2.0}, counts=Counts(cached_items=0, scored_items=800, models_loaded=2),
        warnings=[text], label_free=SampleDrift(4, 0, 1.0, 48, 256, overall=replace(group, name="all"),
                                                groups=[group]),
        forgetcheck_version="0.1.0", created_at=text)


def valid() -> dict:
    return json.loads(json.dumps(to_dict(full_comparison())))


def mutated(change) -> str:
    data = valid()
    change(data)
    return json.dumps(data)


def setting(path: str, value):
    """A change that sets one field, by a path like ``capabilities.0.n``."""
    def change(data):
        *parents, last = path.split(".")
        for key in parents:
            data = data[int(key)] if isinstance(data, list) else data[key]
        if isinstance(data, list):
            data[int(last)] = value
        else:
            data[last] = value
    return change


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


BIG = "9" * 5000
# (name, the file's bytes or text, what the one line must say)
MALFORMED = [
    ("deep nesting", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ("deep nesting in a field", '{"schema_version": 2, "base": ' + "[" * 100_000 + "]" * 100_000 + "}",
     "nested too deeply"),
    ("nesting in free-form settings", mutated(setting("settings.probes.0.items", nested(40))),
     "settings.probes[0].items"),
    ("a 5000-digit integer", mutated(setting("capabilities.0.n", 0)).replace('"n": 0', f'"n": {BIG}'),
     "integer too long"),
    ("a huge integer", mutated(setting("capabilities.0.n", 10**30)), "capabilities[0].n: expected an integer"),
    ("a huge integer as a score", mutated(setting("capabilities.0.drop", 10**30)),
     "capabilities[0].drop: expected a finite number"),
    ("n as a string", mutated(setting("capabilities.0.n", "12")),
     'capabilities[0].n: expected an integer (at most 10^15 in size), got "12"'),
    ("n as a float", mutated(setting("capabilities.0.n", 12.5)), "capabilities[0].n: expected an integer"),
    ("n as a bool", mutated(setting("capabilities.0.n", True)), "capabilities[0].n: expected an integer"),
    ("forgotten as a mention", mutated(setting("capabilities.0.forgotten", "@everyone")),
     "capabilities[0].forgotten: expected an integer"),
    ("a sub-category's n as a string", mutated(setting("capabilities.0.subcategories.0.n", "200")),
     "capabilities[0].subcategories[0].n: expected an integer"),
    ("drift kl as a string", mutated(setting("drift.overall.kl", "</details>")),
     "drift.overall.kl: expected a finite number"),
    ("a drift group's name as a number", mutated(setting("drift.groups.0.name", 7)),
     "drift.groups[0].name: expected text"),
    ("drift without overall", mutated(lambda d: d["drift"].pop("overall")), "drift.overall: missing"),
    ("an unknown verdict", mutated(setting("verdict", "pwned")), "verdict: must be one of"),
    ("a capability's unknown verdict", mutated(setting("capabilities.2.verdict", "maybe")),
     "capabilities[2].verdict: must be one of"),
    ("an unknown flip", mutated(setting("items.0.flip", "sideways")), "items[0].flip: must be one of"),
    ("a p-value above 1", mutated(setting("capabilities.0.p_value", 1.5)), "capabilities[0].p_value: must be between"),
    ("a share above 1", mutated(setting("capabilities.0.base_score", 2.0)),
     "capabilities[0].base_score: must be between"),
    ("a negative n", mutated(setting("capabilities.0.n", -1)), "capabilities[0].n: must be at least 0"),
    ("warnings not a list", mutated(setting("warnings", "@everyone")), "warnings: expected a list"),
    ("a warning as a number", mutated(setting("warnings.0", 5)), "warnings[0]: expected text"),
    ("a lone surrogate in a spec", mutated(setting("base.spec", "x")).replace('"spec": "x"', '"spec": "\\ud800"'),
     "base.spec: text holds a lone surrogate"),
    ("a lone surrogate in a name", mutated(setting("capabilities.1.name", "x")).replace('"x"', '"a\\udfffb"'),
     "capabilities[1].name: text holds a lone surrogate"),
    ("NaN", mutated(setting("capabilities.0.drop", 0.5)).replace('"drop": 0.5', '"drop": NaN'),
     "capabilities[0].drop: expected a finite number, got NaN"),
    ("Infinity", mutated(setting("capabilities.0.ci_high", 0.5)).replace('"ci_high": 0.5', '"ci_high": Infinity'),
     "capabilities[0].ci_high: expected a finite number, got Infinity"),
    ("-Infinity", mutated(setting("drift.overall.kl", 0.5)).replace('"kl": 0.5', '"kl": -Infinity'),
     "drift.overall.kl: expected a finite number, got -Infinity"),
    ("1e999", mutated(setting("capabilities.0.drop", 0.5)).replace('"drop": 0.5', '"drop": 1e999'),
     "capabilities[0].drop: expected a finite number"),
    ("NaN in free-form settings", mutated(setting("settings.probes.0.items", 1)).replace('"items": 1', '"items": NaN'),
     "settings.probes[0].items: expected a finite number"),
    ("a list at the top", "[1, 2, 3]", "expected a JSON object"),
    ("a string at the top", '"report"', "expected a JSON object"),
    ("null at the top", "null", "expected a JSON object"),
    ("a truncated file", mutated(lambda d: None)[:1500], "not valid JSON"),
    ("a capability without items", mutated(lambda d: d["items"].pop()), "capabilities[2]: no items for \"wiki\""),
    ("binary garbage", bytes(range(256)) * 40, "not UTF-8"),
    ("an empty file", "", "not valid JSON"),
    ("schema_version as a string", mutated(setting("schema_version", "2")), "schema_version \"2\" is not supported"),
    ("an unknown field inside", mutated(setting("capabilities.0.evil", 1)), "capabilities[0].evil: unknown field"),
    ("a timing as a string", mutated(setting("timings.load_s", "1.5")), "timings.load_s: expected a finite number"),
    ("a count as a string", mutated(setting("counts.scored_items", "800")), "counts.scored_items: expected an integer"),
    ("a chance-adjusted share above 1", mutated(setting("capabilities.0.chance_adjusted.forgetting", 3)),
     "capabilities[0].chance_adjusted.forgetting: must be between"),
    ("adapter as a string", mutated(setting("candidate.adapter", "yes")), "candidate.adapter: expected true or false"),
    ("text past the bound", mutated(setting("warnings.0", "x" * 200_000)), "warnings[0]: text of 200,000 characters"),
    ("a perplexity as a string", mutated(setting("capabilities.2.extra.perplexity.base", "11")),
     "capabilities[2].extra.perplexity.base: expected a finite number"),
    ("capabilities as an object", mutated(setting("capabilities", {"a": 1})), "capabilities: expected a list"),
    ("an escape sequence in a key", mutated(setting("capabilities.0.\x1b[2J", 1)),
     'capabilities[0]["\\u001b[2J"]: unknown field'),
]
assert len(MALFORMED) >= 32


def write(tmp_path, content) -> str:
    path = tmp_path / "report.json"
    if isinstance(content, str):
        content = content.encode("utf-8", "surrogatepass")
    path.write_bytes(content)
    return str(path)


def assert_one_line(result, path: str, needle: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"forgetcheck: error: {path}: "), result.stderr
    assert needle in lines[0], lines[0]
    assert "\x1b" not in lines[0] and lines[0].isprintable(), lines[0]


@pytest.mark.parametrize("name,content,needle", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_report_is_one_line_and_exit_2_in_every_command(tmp_path, name, content, needle, monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    path = write(tmp_path, content)
    runner = CliRunner()
    for args in (["report", path], ["report", path, "--format", "md"],
                 ["comment", "github", path, "--repo", "octo/repo", "--pr", "1"],
                 ["card", path, "--readme", str(tmp_path / "README.md")]):
        assert_one_line(runner.invoke(main, args), path, needle)
    assert not (tmp_path / "README.md").exists()


def test_a_500_mb_report_is_refused_before_reading(tmp_path):
    path = tmp_path / "report.json"
    with path.open("wb") as file:
        file.truncate(500 * 2**20)  # sparse: nothing is written, the size is what counts
    assert_one_line(CliRunner().invoke(main, ["report", str(path)]), str(path), "500 MB is too big")


@pytest.mark.parametrize("index", [0, 6, 24])
def test_the_installed_command_gives_one_line_too(tmp_path, index):
    name, content, needle = MALFORMED[index]
    path = write(tmp_path, content)
    done = subprocess.run([sys.executable, "-m", "forgetcheck.cli", "report", path], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"forgetcheck: error: {path}: ") and needle in lines[0], lines


def test_a_valid_report_reads_back_as_written(tmp_path):
    path = write(tmp_path, json.dumps(valid()))
    assert to_dict(read_report(path)) == valid()
    assert CliRunner().invoke(main, ["report", path]).exit_code == 1  # it regressed: read, judged, not refused


def test_counts_an_older_report_kept_in_timings_move_to_counts(tmp_path):
    data = valid()
    del data["counts"]
    data["timings"] = {"load_s": 1.5, "models_loaded": 2, "base_s": 3.0, "padding_efficiency": 0.9,
                       "cached_items": 0, "scored_items": 800}
    comparison = read_report(write(tmp_path, json.dumps(data)))
    assert comparison.timings == {"load_s": 1.5, "base_s": 3.0}
    assert comparison.counts == Counts(cached_items=0, scored_items=800, models_loaded=2, padding_efficiency=0.9)
    written = to_dict(comparison)
    assert written["timings"] == {"load_s": 1.5, "base_s": 3.0}
    assert written["counts"] == {"cached_items": 0, "scored_items": 800, "models_loaded": 2, "padding_efficiency": 0.9}
    markdown = render_markdown(comparison)
    assert "- timings: load\\_s 1.5 s · base\\_s 3.0 s" in markdown
    assert "- counts: cached\\_items 0 · scored\\_items 800 · models\\_loaded 2 · padding\\_efficiency 0.900" in markdown


HOSTILE = "@everyone </details> <!-- forgetcheck:comment --> `x` | y | \x1b[31mred\x1b[0m \u202eevil"


def hostile_comparison() -> Comparison:
    """Hostile text in every text field, and (as a Python caller could) in the count fields."""
    comparison = full_comparison(name=HOSTILE, text=HOSTILE)
    cap, sub, drift = comparison.capabilities[0], comparison.capabilities[0].subcategories[0], comparison.label_free
    # Wrongly typed values set after construction: renderers escape them whatever their type.
    cap.n = cap.forgotten = sub.n = sub.learned = drift.overall.n = drift.seed = HOSTILE
    comparison.counts.scored_items = HOSTILE
    return comparison


def assert_defused_markdown(markdown: str) -> None:
    assert "@everyone" not in markdown
    assert markdown.count("</details>") == markdown.count("<details>")
    assert "<!--" not in markdown and "<!-- forgetcheck" not in markdown
    assert not re.search(r"(?<!\\)`", markdown)  # every backtick escaped: no code span opens
    assert "\x1b" not in markdown and "\u202e" not in markdown
    for line in markdown.splitlines():
        if line.startswith("| ") and "everyone" in line:
            # A hostile pipe never adds a cell: the row has as many as its table's header.
            cells = len(re.findall(r"(?<!\\)\|", line))
            assert cells in (5, 8, 9, 10), line


def test_every_rendered_field_is_defused(tmp_path):
    # Through report.json and the real CLI: every text field hostile.
    path = write(tmp_path, json.dumps(to_dict(full_comparison(name=HOSTILE, text=HOSTILE)), ensure_ascii=False))
    markdown = CliRunner().invoke(main, ["report", path, "--format", "md"]).stdout
    assert "everyone" in markdown  # the text is there, made inert
    assert_defused_markdown(markdown)
    text = CliRunner().invoke(main, ["report", path]).stdout
    assert "\x1b" not in text and "\u202e" not in text
    # Through the Python API, with hostile values in fields typed as numbers too.
    comparison = hostile_comparison()
    assert_defused_markdown(render_markdown(comparison))
    text = render_text(comparison)
    assert "\x1b" not in text and "\u202e" not in text and "?[31mred" in text
    body = comment_body(comparison)
    lines = body.rstrip("\n").splitlines()
    assert lines[-1] == "<!-- forgetcheck:comment -->"
    assert_defused_markdown("\n".join(lines[:-1]))


def test_a_real_report_reads_back_byte_for_byte(tiny_base, forgetful_adapter, tiny_suite, tmp_path):
    out = tmp_path / "report"
    result = CliRunner().invoke(main, ["compare", str(tiny_base), str(forgetful_adapter), "--suite", str(tiny_suite),
                                       "--out", str(out), "--kl-samples", "4", "--quiet"])
    assert result.exit_code == 1, result.output  # the adapter forgot the facts
    written = (out / "report.json").read_text(encoding="utf-8")
    comparison = read_report(out)
    assert comparison.label_free.overall.n == 4 and comparison.capabilities[0].chance_adjusted is not None
    assert comparison.counts.scored_items > 0 and "scored_items" not in comparison.timings
    assert json.dumps(to_dict(comparison), indent=2, ensure_ascii=False) + "\n" == written
