"""What a hostile model folder or an edited cache can make forgetcheck do: nothing it was not asked to.

Each test builds the attack for real (a pickled adapter behind a decoy, an edited SQLite
record) and runs the real CLI or library on it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3

import torch

from forgetcheck.results.store import ResultCache
from forgetcheck.workflows.compare import compare
from tests.conftest import assert_one_line_error, run_subprocess


def _pickled_adapter_behind_a_decoy(forgetful_adapter, folder):
    from safetensors.torch import load_file, save_file

    shutil.copytree(forgetful_adapter, folder)
    weights = load_file(folder / "adapter_model.safetensors")
    (folder / "adapter_model.safetensors").unlink()
    torch.save(weights, folder / "adapter_model.bin")  # what PEFT loads when no adapter_model.safetensors is there
    save_file({"decoy": torch.zeros(1)}, folder / "decoy.safetensors")
    return folder


def test_a_decoy_safetensors_does_not_let_a_pickled_adapter_load(tiny_base, forgetful_adapter, tiny_suite,
                                                                    tmp_path):
    adapter = _pickled_adapter_behind_a_decoy(forgetful_adapter, tmp_path / "decoyed")
    result = run_subprocess("compare", tiny_base, adapter, "--suite", tiny_suite, "--out", tmp_path / "out",
                            "--quiet")
    assert_one_line_error(result, "adapter_model.safetensors", "--allow-pickle")
    assert not (tmp_path / "out" / "report.json").exists()


def test_the_same_adapter_loads_when_the_user_allows_pickle(tiny_base, forgetful_adapter, tiny_suite, tmp_path):
    adapter = _pickled_adapter_behind_a_decoy(forgetful_adapter, tmp_path / "decoyed")
    comparison = compare(str(tiny_base), str(adapter), str(tiny_suite), cache=False, progress=False,
                         allow_pickle=True, kl_samples=0, recovery_shots=0)
    assert "facts" in comparison.regressed()


def _edit_every_record(db_path, edit):
    with sqlite3.connect(db_path) as db:
        rows = db.execute("SELECT model, item, record FROM results").fetchall()
        for model, item, text in rows:
            db.execute("UPDATE results SET record = ? WHERE model = ? AND item = ?", (edit(text), model, item))
    return len(rows)


def test_edited_cache_records_are_detected_and_scored_again(tiny_base, tiny_suite, tmp_path):
    """The attack from the issue: flip cached scores so a self-comparison reads as a regression."""
    store = ResultCache(tmp_path / "cache")
    options = dict(cache=store, progress=False, kl_samples=0, recovery_shots=0, tolerance=0.2)
    clean = compare(str(tiny_base), str(tiny_base), str(tiny_suite), **options)
    assert clean.verdict == "held"

    def forge(text):
        # An attacker who can write the database but not read the secret: rewrite the score inside,
        # keeping the old MAC (or any MAC: without the secret none of them verifies).
        sealed = json.loads(text)
        value = json.loads(sealed["value"])
        value["score"] = 0.0
        value["values"] = {k: 0.0 if k != "n_tokens" else v for k, v in value["values"].items()}
        sealed["value"] = json.dumps(value, sort_keys=True)
        return json.dumps(sealed)

    assert _edit_every_record(store.path, forge) > 0
    warnings = []
    options["cache"] = ResultCache(tmp_path / "cache", warn=warnings.append)
    again = compare(str(tiny_base), str(tiny_base), str(tiny_suite), **options)
    assert again.verdict == "held"
    assert [(i.base_score, i.candidate_score) for i in again.items] == \
        [(i.base_score, i.candidate_score) for i in clean.items]
    assert any("integrity check" in w for w in warnings)


def test_records_written_with_another_secret_are_not_trusted(tiny_base, tiny_suite, tmp_path, monkeypatch):
    store_path = tmp_path / "cache"
    options = dict(progress=False, kl_samples=0, recovery_shots=0)
    monkeypatch.setenv("FORGETCHECK_CACHE_SECRET", "the CI secret")
    first = compare(str(tiny_base), str(tiny_base), str(tiny_suite), cache=ResultCache(store_path), **options)
    monkeypatch.setenv("FORGETCHECK_CACHE_SECRET", "a pull request's guess")
    second = compare(str(tiny_base), str(tiny_base), str(tiny_suite), cache=ResultCache(store_path), **options)
    n = len(first.items)
    # A model against itself: the base pass scores every item, the candidate pass reads them back.
    assert (first.counts.scored_items, first.counts.cached_items) == (n, n)
    # Nothing written under the first secret verifies under the second: the base pass scores all again.
    assert (second.counts.scored_items, second.counts.cached_items) == (n, n)
    assert [i.base_score for i in second.items] == [i.base_score for i in first.items]


def test_the_integrity_key_is_readable_by_its_owner_only(tiny_base, tiny_suite, tmp_path):
    store = ResultCache(tmp_path / "cache")
    compare(str(tiny_base), str(tiny_base), str(tiny_suite), cache=store, progress=False, kl_samples=0,
            recovery_shots=0)
    key = store.path.parent / "integrity.key"
    assert key.exists() and (key.stat().st_mode & 0o777) == 0o600


# -- a suite reads only inside its own folder ----------------------------------------------------

SECRET = "token=ghp" + "_THIS_MUST_NOT_LEAK"


def _secret_outside(tmp_path):
    """A file next to (not inside) the suite's folder, shaped like a probe file, holding a secret."""
    secret = tmp_path / "secret.jsonl"
    secret.write_text(json.dumps({"id": "s1", "prompt": SECRET, "target": "x"}) + "\n")
    (tmp_path / "secret.json").write_text(json.dumps({"question": SECRET, "answer": "x"}) + "\n")
    folder = tmp_path / "suite"
    folder.mkdir()
    return secret, folder


def _suite(folder, body):
    path = folder / "suite.yaml"
    path.write_text("name: hostile\nprobes:\n" + body)
    return path


def _refused(result):
    """Exit 2 and the reason (validate lists problems on stdout, other commands one error line); no secret."""
    said = result.stdout + result.stderr
    assert result.returncode == 2 and "Traceback" not in said, said
    assert "outside the suite's folder" in said and "--allow-files-outside-suite" in said, said
    assert "THIS_MUST_NOT_LEAK" not in said


def test_a_suite_file_outside_its_folder_is_refused_and_never_echoed(tmp_path):
    secret, folder = _secret_outside(tmp_path)
    relative = _suite(folder, "  - {name: leak, kind: generate, file: ../secret.jsonl}\n")
    for command in (["probes", "validate"], ["probes", "show"], ["probes", "list"]):
        _refused(run_subprocess(*command, relative))
    absolute = _suite(folder, f"  - {{name: leak, kind: generate, file: {secret}}}\n")
    _refused(run_subprocess("probes", "show", absolute))


def test_a_symlink_out_of_the_folder_is_refused(tmp_path):
    secret, folder = _secret_outside(tmp_path)
    (folder / "innocent.jsonl").symlink_to(secret)
    _refused(run_subprocess("probes", "show", _suite(folder, "  - {name: leak, kind: generate, file: innocent.jsonl}\n")))


def test_dataset_files_outside_the_folder_are_refused(tmp_path):
    _, folder = _secret_outside(tmp_path)
    suite = _suite(folder, """  - name: leak
    kind: generate
    dataset: {path: json, data_files: ../secret.json}
    fields: {prompt: question, target: answer}
""")
    _refused(run_subprocess("probes", "show", suite))
    folder_suite = _suite(folder, "  - {name: leak, kind: generate, dataset: {path: ..}, fields: {prompt: question}}\n")
    _refused(run_subprocess("probes", "validate", folder_suite))


def test_an_lm_eval_include_outside_the_folder_is_refused(tmp_path):
    _, folder = _secret_outside(tmp_path)
    (tmp_path / "parent.yaml").write_text("task: parent\ndoc_to_text: '{{question}}'\n")
    (folder / "task.yaml").write_text("include: ../parent.yaml\ntask: child\n")
    _refused(run_subprocess("probes", "validate", folder / "task.yaml"))


def test_the_user_can_allow_a_suite_they_trust_to_read_outside(tmp_path):
    _, folder = _secret_outside(tmp_path)
    suite = _suite(folder, "  - {name: shared, kind: generate, file: ../secret.jsonl}\n")
    result = run_subprocess("probes", "validate", suite, "--allow-files-outside-suite")
    assert result.returncode == 0, result.stderr
    assert "shared 1" in result.stdout
