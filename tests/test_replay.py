"""``forgetcheck replay``: the base's own samples as JSONL that datasets and trainers read."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner

from forgetcheck.cli import main
from forgetcheck.workflows.compare import compare
from forgetcheck.report.files import write_report_folder


def _replay(*args):
    return CliRunner().invoke(main, ["replay", *map(str, args)])


def test_chat_rows_load_with_datasets_and_are_seeded(tiny_base, tiny_suite, tmp_path):
    import datasets

    first, again = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    result = _replay(tiny_base, "--suite", tiny_suite, "--samples", 8, "--out", first, "--max-new-tokens", 6)
    assert result.exit_code == 0, result.output
    assert _replay(tiny_base, "--suite", tiny_suite, "--samples", 8, "--out", again,
                   "--max-new-tokens", 6).exit_code == 0
    assert first.read_bytes() == again.read_bytes()  # seeded
    rows = [json.loads(line) for line in first.read_text().splitlines()]
    assert 0 < len(rows) <= 8 and "replay rows (chat messages)" in result.output and "20%" in result.output
    assert all([m["role"] for m in r["messages"]] == ["user", "assistant"] and r["messages"][1]["content"]
               for r in rows)
    loaded = datasets.load_dataset("json", data_files=str(first), split="train")
    assert loaded.num_rows == len(rows) and "messages" in loaded.column_names


def test_plain_text_rows_without_a_chat_template(tiny_base, tiny_suite, tmp_path):
    plain = tmp_path / "plain-base"
    shutil.copytree(tiny_base, plain)
    config = json.loads((plain / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (plain / "tokenizer_config.json").write_text(json.dumps(config))
    (plain / "chat_template.jinja").unlink(missing_ok=True)
    out = tmp_path / "r.jsonl"
    result = _replay(plain, "--suite", tiny_suite, "--samples", 4, "--out", out, "--max-new-tokens", 6)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows and all(set(r) == {"text", "source"} for r in rows)


def test_a_report_focuses_the_prompts_on_what_regressed(tiny_base, forgetful_adapter, tiny_suite, tmp_path):
    report = compare(str(tiny_base), str(forgetful_adapter), str(tiny_suite), progress=False, kl_samples=0,
                     recovery_shots=0)
    assert report.regressed()
    write_report_folder(report, tmp_path / "report")
    out = tmp_path / "focused.jsonl"
    result = _replay(tiny_base, "--suite", tiny_suite, "--samples", 8, "--out", out, "--max-new-tokens", 4,
                     "--report", tmp_path / "report" / "report.json")
    assert result.exit_code == 0, result.output
    sources = {json.loads(line)["source"] for line in out.read_text().splitlines()}
    assert sources <= {"open", *report.regressed()} and sources & set(report.regressed())


def test_an_adapter_is_not_a_base_to_sample(forgetful_adapter, tmp_path):
    result = _replay(forgetful_adapter, "--out", tmp_path / "x.jsonl")
    assert result.exit_code == 2 and "PEFT adapter" in result.output
