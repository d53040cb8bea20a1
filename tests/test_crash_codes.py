"""A run that cannot finish never exits 1 ("regressed"): every way of stopping early has its own code.

0 held, 1 regressed, 2 bad input (one line), 3 inconclusive on request, 4 could not finish
(the machine, or a bug: the traceback is shown), 130 interrupted. Each case runs the real
CLI on the tiny models; where a failure must be injected (an interrupt, a full disk, a bug)
one real function is replaced by one that raises, so everything around it is real.
"""

from __future__ import annotations

import errno
import json
import shutil

from tests.conftest import assert_one_line_error, build_model, run, run_subprocess


def _cli_in_process(monkeypatch, capsys, *args):
    """Run forgetcheck.cli.main as the console script does and return (exit code, stderr)."""
    import pytest

    from forgetcheck.cli import main

    with pytest.raises(SystemExit) as stopped:
        main([str(a) for a in args], prog_name="forgetcheck")
    return stopped.value.code, capsys.readouterr().err


def test_interrupt_exits_130_and_says_the_work_is_kept(tiny_base, tiny_suite, tmp_path, monkeypatch, capsys):
    import forgetcheck.workflows.compare as compare_module

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(compare_module, "score_suite", interrupted)
    code, err = _cli_in_process(monkeypatch, capsys, "compare", tiny_base, tiny_base, "--suite", tiny_suite,
                                "--out", tmp_path / "out", "--quiet", "--kl-samples", "0")
    assert code == 130
    assert "interrupted" in err and "resumes" in err and "Aborted" not in err


def test_a_bug_exits_4_with_its_traceback_never_1(tiny_base, tiny_suite, tmp_path, monkeypatch, capsys):
    import forgetcheck.workflows.compare as compare_module

    def broken(*args, **kwargs):
        raise IndexError("index 7 is out of bounds")

    monkeypatch.setattr(compare_module, "judge_items", broken)
    code, err = _cli_in_process(monkeypatch, capsys, "compare", tiny_base, tiny_base, "--suite", tiny_suite,
                                "--out", tmp_path / "out", "--quiet", "--kl-samples", "0")
    assert code == 4
    assert "Traceback" in err and "IndexError" in err and "bug in forgetcheck" in err


def test_a_full_disk_exits_4_in_one_line(tiny_base, tiny_suite, tmp_path, monkeypatch, capsys):
    import os

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr("forgetcheck.files.os.replace", full)
    code, err = _cli_in_process(monkeypatch, capsys, "compare", tiny_base, tiny_base, "--suite", tiny_suite,
                                "--out", tmp_path / "out", "--quiet", "--kl-samples", "0")
    assert code == 4
    assert "Traceback" not in err and "No space left on device" in err


def test_an_out_folder_under_a_file_is_refused_before_any_scoring(tiny_base, tiny_suite, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run_subprocess("compare", tiny_base, tiny_base, "--suite", tiny_suite, "--out", blocker / "report",
                            "--quiet")
    assert_one_line_error(result, "--out", "is a file")
    assert "base" not in result.stderr.replace("forgetcheck: error:", "")  # refused before anything was scored


def test_an_unusable_cache_degrades_to_no_cache_with_a_warning(tiny_base, tiny_suite, tmp_path):
    blocker = tmp_path / "cache-is-a-file"
    blocker.write_text("")
    result = run_subprocess("compare", tiny_base, tiny_base, "--suite", tiny_suite, "--out", tmp_path / "out",
                            "--quiet", "--kl-samples", "0", "--tolerance", "0.2",
                            env={"FORGETCHECK_CACHE": str(blocker)})
    assert result.returncode == 0, result.stderr
    assert "result cache" in result.stderr and "cannot be used" in result.stderr
    assert json.loads((tmp_path / "out" / "report.json").read_text())["verdict"] == "held"


def test_a_chat_template_that_escapes_the_sandbox_is_one_line(tiny_base, tiny_suite, tmp_path):
    hostile = tmp_path / "hostile-template"
    shutil.copytree(tiny_base, hostile)
    config_path = hostile / "tokenizer_config.json"
    config = json.loads(config_path.read_text())
    config["chat_template"] = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    config_path.write_text(json.dumps(config))
    (hostile / "chat_template.jinja").unlink(missing_ok=True)
    chat_suite = tmp_path / "chat-suite" / "suite.yaml"
    from tests.conftest import write_suite

    write_suite(chat_suite.parent, n_facts=8, chat="on")
    result = run_subprocess("compare", hostile, hostile, "--suite", chat_suite, "--out", tmp_path / "out", "--quiet",
                            "--kl-samples", "0")
    assert_one_line_error(result, "chat template", "--chat-template off")


def test_a_candidate_with_another_tokenizer_and_a_short_context_finishes(tiny_base, tiny_suite, tmp_path):
    """Scores compare per item text; drift (token by token) is skipped, and long re-asked prompts are cut."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    other = tmp_path / "other-tokenizer"
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(["zz yy xx fact is red blue green gold"] * 20, trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>")
    fast.save_pretrained(other)
    model = build_model(fast, seed=3)
    model.config.max_position_embeddings = 12
    model.save_pretrained(other)
    result = run("compare", tiny_base, other, "--suite", tiny_suite, "--out", tmp_path / "out", "--quiet",
                 "--kl-samples", "8")
    assert result.exit_code == 1, result.output  # a random model forgot the facts: a real regression
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["drift"] is None
    assert any("tokenizer differs" in w and "skipped" in w for w in report["warnings"])


def test_a_report_folder_is_written_whole_or_not_at_all(tiny_base, tiny_suite, tmp_path, monkeypatch):
    """A disk that fills up half-way through the new report leaves the previous report as it was."""
    import os

    from forgetcheck.report.files import write_report_folder
    from forgetcheck.workflows.compare import compare

    out = tmp_path / "report"
    first = compare(str(tiny_base), str(tiny_base), str(tiny_suite), cache=False, progress=False, kl_samples=0,
                    recovery_shots=0)
    write_report_folder(first, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    second = compare(str(tiny_base), str(tiny_base), str(tiny_suite), cache=False, progress=False, kl_samples=0,
                     recovery_shots=0, tolerance=0.3)
    real_replace, calls = os.replace, []

    def fills_up(source, target):
        calls.append(target)
        if len(calls) == 3:  # the third file of the new report finds the disk full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(source, target)

    monkeypatch.setattr("forgetcheck.files.os.replace", fills_up)
    try:
        write_report_folder(second, out)
    except OSError:
        pass
    else:
        raise AssertionError("the full disk was not reported")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # same files, same bytes, no staging left


def test_a_binary_probe_file_is_one_line_not_a_crash(tmp_path):
    (tmp_path / "items.jsonl").write_bytes(b'{"id": "a", "prompt": "ok", "target": "x"}\n\xa3\xff\x00binary')
    suite = tmp_path / "suite.yaml"
    suite.write_text("name: b\nprobes:\n  - {name: x, kind: generate, file: items.jsonl}\n")
    result = run_subprocess("probes", "show", suite)
    assert_one_line_error(result, "items.jsonl:2", "not UTF-8")


def test_quiet_means_quiet(tiny_base, tiny_suite, tmp_path):
    """--quiet: no progress bars and no library notices, only forgetcheck's own lines and the table."""
    result = run_subprocess("compare", tiny_base, tiny_base, "--suite", tiny_suite, "--out", tmp_path / "out",
                            "--quiet", "--kl-samples", "0", "--recovery-shots", "0", "--tolerance", "0.3")
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stderr.splitlines() if line.strip()] == []
