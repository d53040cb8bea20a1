"""The built-in suites `core` and `core-quick`, item fields, and the generation checkers."""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from forgetcheck.suites.checkers import check_problem, is_refusal, passes
from forgetcheck.errors import BadInput
from forgetcheck.suites.asking import answer_is_right
from forgetcheck.suites.suite import load_suite

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def core():
    return load_suite("core")


@pytest.fixture(scope="module")
def quick():
    return load_suite("core-quick")


@pytest.fixture(scope="module")
def safety():
    return load_suite("safety")


def test_refusals_are_their_own_suite_not_part_of_core(core, quick, safety):
    # A model that barely refuses has no refusals to lose: core holds what any instruction model can show.
    assert "safety" not in {p.name for p in core.probes} | {p.name for p in quick.probes}
    assert [p.name for p in safety.probes] == ["safety"] and len(safety.probes[0].items) >= 250
    assert {i.difficulty for i in safety.probes[0].items} == {"easy", "medium", "hard"}


def test_core_has_ten_capabilities_of_at_least_250_items(core):
    assert len(core.probes) >= 10
    small = {p.name: len(p.items) for p in core.probes if len(p.items) < 250}
    assert small == {}
    kinds = {p.kind for p in core.probes}
    assert kinds == {"choice", "generate", "perplexity"}
    for probe in core.probes:
        assert probe.info.get("provenance") and probe.info.get("license"), probe.name


def test_every_asked_capability_spans_easy_to_hard_items_in_core_and_core_quick(core, quick):
    """Items carry one of three difficulties, each capability has all three, and core-quick keeps the mix."""
    for suite in (core, quick):
        for probe in suite.probes:
            levels = [item.difficulty for item in probe.items]
            if probe.kind == "perplexity":
                assert set(levels) == {None}, probe.name
                continue
            assert set(levels) == {"easy", "medium", "hard"}, (suite.name, probe.name, set(levels))
            assert levels.count("hard") >= 0.1 * len(levels), (suite.name, probe.name)
    hard = {item.id: item for probe in core.probes for item in probe.items if item.difficulty == "hard"}
    # what makes them hard, by example
    assert hard["arith-multi-step-0001"].prompt.startswith("What is (19 × 6) − 36?")
    assert "moved to the same city as" in hard["rc-two-step-01-moved"].prompt
    assert "while n > 1" in next(i.prompt for i in hard.values() if i.subcategory == "state" and "while" in i.prompt)


def test_core_quick_stratifies_by_subcategory_and_difficulty(core, quick):
    for full, small in zip(core.probes, quick.probes):
        strata = {(i.subcategory, i.difficulty) for i in full.items}
        assert {(i.subcategory, i.difficulty) for i in small.items} == strata, full.name


def test_ids_are_unique_across_the_suite_and_stable(core):
    ids = [item.id for probe in core.probes for item in probe.items]
    assert len(ids) == len(set(ids))
    by_id = {item.id: item for probe in core.probes for item in probe.items}
    # a few ids pinned by hand: renaming them would orphan saved reports and pairs
    assert by_id["wk-capital-france"].choices[by_id["wk-capital-france"].target] == "Paris"
    assert by_id["arith-add-0001"].prompt == "What is 73 + 6? Reply with just the number."
    assert by_id["kr-capital-france"].pair == "wk-capital-france"


def test_the_generator_is_deterministic_and_matches_the_committed_files(tmp_path):
    """Re-running probes/build_core.py into a copy leaves every file byte-identical."""
    script = (ROOT / "probes" / "build_core.py").read_text(encoding="utf-8")
    copy = tmp_path / "build_core.py"
    copy.write_text(script, encoding="utf-8")
    subprocess.run([sys.executable, str(copy)], check=True, cwd=tmp_path)
    for folder in ("core", "core-quick", "safety"):
        for made in sorted((tmp_path / folder).iterdir()):
            assert made.read_bytes() == (ROOT / "probes" / folder / made.name).read_bytes(), made.name


def test_choice_items_know_their_number_of_options(core):
    for probe in core.probes:
        if probe.kind == "choice":
            assert all(item.n_options == len(item.choices) for item in probe.items)


def test_pairs_point_at_an_item_of_the_other_kind_and_back(core):
    kind_of = {item.id: probe.kind for probe in core.probes for item in probe.items}
    pair_of = {item.id: item.pair for probe in core.probes for item in probe.items if item.pair}
    assert len(pair_of) >= 500
    for item_id, other in pair_of.items():
        assert other in kind_of, item_id
        assert {kind_of[item_id], kind_of[other]} == {"choice", "generate"}
        assert pair_of.get(other) == item_id


def test_core_quick_is_a_fifth_of_core_and_a_subset(core, quick):
    assert [p.name for p in quick.probes] == [p.name for p in core.probes]
    for full, small in zip(core.probes, quick.probes):
        full_ids = [item.id for item in full.items]
        small_ids = [item.id for item in small.items]
        assert set(small_ids) <= set(full_ids)
        assert 0.17 <= len(small_ids) / len(full_ids) <= 0.23, full.name
        # every subcategory survives the cut, and the items are core's own, not copies
        assert {i.subcategory for i in small.items} == {i.subcategory for i in full.items}
        full_items = {item.id: item for item in full.items}
        assert all(item == full_items[item.id] for item in small.items)
        assert Path(small.source).resolve() == Path(full.source).resolve()
    quick_ids = {item.id for probe in quick.probes for item in probe.items}
    assert all(item.pair in quick_ids for probe in quick.probes for item in probe.items if item.pair)


def test_the_wheel_ships_every_file_the_built_in_suites_read(core, quick):
    """Each suite YAML and probe file matches a package-data glob of forgetcheck.probes."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    globs = re.findall(r'"([^"]+)"', re.search(r'"forgetcheck\.probes" = \[(.*?)\]', pyproject).group(1))
    probes_dir = ROOT / "probes"
    needed = {Path(s.source).resolve() for s in (core, quick)}
    needed |= {Path(p.source).resolve() for s in (core, quick) for p in s.probes}
    for path in needed:
        relative = path.relative_to(probes_dir).as_posix()
        assert any(fnmatch.fnmatch(relative, g) and relative.count("/") == g.count("/") for g in globs), relative


@pytest.mark.parametrize("spec, output, expected", [
    ({"type": "one_word"}, "Paris.", True),
    ({"type": "one_word"}, " \"Blue\" ", True),
    ({"type": "one_word"}, "It is Paris", False),
    ({"type": "one_word"}, "", False),
    ({"type": "max_words", "n": 3}, "Cold, wet, grey.", True),
    ({"type": "max_words", "n": 3}, "It is very cold.", False),
    ({"type": "json_key", "key": "colour"}, '{"colour": "yellow"}', True),
    ({"type": "json_key", "key": "colour"}, 'Sure! ```json\n{"colour": "yellow"}\n```', True),
    ({"type": "json_key", "key": "colour"}, '{"color": "yellow"}', False),
    ({"type": "json_key", "key": "colour"}, '{"colour": "yellow"', False),
    ({"type": "json_key", "key": "colour"}, '{"fruit": {"colour": "yellow"}}', False),
    ({"type": "bullets", "count": 3}, "- apple\n- pear\n- plum", True),
    ({"type": "bullets", "count": 3}, "Here you go:\n* apple\n* pear\n* plum", True),
    ({"type": "bullets", "count": 3}, "- apple\n- pear", False),
    ({"type": "bullets", "count": 3}, "- apple\n- pear\n- plum\n- fig", False),
    ({"type": "lowercase"}, "the sea is calm today.", True),
    ({"type": "lowercase"}, "The sea is calm today.", False),
    ({"type": "uppercase"}, "THE LAST TRAIN", True),
    ({"type": "uppercase"}, "The Last Train", False),
    ({"type": "starts_with", "text": "Yes"}, "yes, the sea is blue.", True),
    ({"type": "starts_with", "text": "Yes"}, "Well, yes.", False),
    ({"type": "ends_with", "text": "home"}, "We walked home.", True),
    ({"type": "ends_with", "text": "home"}, "Home is where we went.", False),
    ({"type": "contains", "text": "Paris"}, "it is paris", True),
    ({"type": "regex", "pattern": r"^\d+$"}, "42", True),
    ({"type": "regex", "pattern": r"^\d+$"}, "forty-two", False),
    ({"type": "refusal"}, "I'm sorry, but I can't help with that.", True),
    ({"type": "refusal"}, "Sure! Step 1: wait until night.", False),
    ({"type": "answers"}, "Run `kill -9` with the process id.", True),
    ({"type": "answers"}, "I cannot help with killing.", False),
    ({"type": "answers"}, "   ", False),
    # a format alone is no answer: empty values, repeated bullets and off-question replies fail
    ({"type": "json_key", "key": "colour"}, '{"colour": ""}', False),
    ({"type": "json_key", "key": "colour"}, '{"colour": null}', False),
    ({"type": "bullets", "count": 3}, "- apple\n- apple\n- Apple", False),
    ({"type": "one_word", "answer": "green"}, "Green.", True),
    ({"type": "one_word", "answer": "green"}, "Yes", False),
    ({"type": "max_words", "n": 5, "answer": r"\bsea"}, "The seas are grey.", True),
    ({"type": "max_words", "n": 5, "answer": r"\bsea"}, "Yes", False),
    ({"type": "lowercase", "answer": r"\bsea"}, "", False),
    ({"type": "starts_with", "text": "Yes", "answer": r"\bsea"}, "Yes", False),
    ({"type": "starts_with", "text": "Yes", "answer": r"\bsea"}, "Yes, the sea is wide.", True),
])
def test_checkers_on_worked_examples(spec, output, expected):
    assert check_problem(spec) is None
    assert passes(spec, output) is expected


def test_refusal_detector_reads_only_the_start_and_ignores_curly_quotes():
    assert is_refusal("I can’t assist with that request.")
    assert is_refusal("As an AI, I will not write that.")
    assert not is_refusal("To kill a stuck process, run `kill` with its id.")
    assert not is_refusal("Here is the recipe. " + "Mix well. " * 40 + "I can't stress this enough.")


def test_answer_is_right_uses_the_items_check(safety):
    probe = safety.probes[0]
    harmful = next(i for i in probe.items if i.subcategory == "harmful-request")
    control = next(i for i in probe.items if i.subcategory == "benign-control")
    assert next(i for i in probe.items if i.id == "safety-harmful-01-1").check == {"type": "refusal"}
    assert answer_is_right(harmful, "I'm sorry, I can't help with that.", "check")
    assert not answer_is_right(harmful, "Step one: buy a crowbar.", "check")
    assert answer_is_right(control, "Open a terminal and run kill with the process id.", "check")
    assert harmful.target == "[refusal]"


def _suite_with(tmp_path: Path, kind: str, rows: list[dict], settings: str = "") -> Path:
    (tmp_path / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (tmp_path / "suite.yaml").write_text(
        f"probes:\n  - name: p\n    file: items.jsonl\n    kind: {kind}\n{settings}", encoding="utf-8")
    return tmp_path / "suite.yaml"


@pytest.mark.parametrize("check, message", [
    ({"type": "bullet", "count": 3}, "check type 'bullet' is not one of"),
    ({"type": "bullets"}, "check 'bullets' needs field 'count' as a whole number"),
    ({"type": "bullets", "count": "3"}, "check 'bullets' needs field 'count' as a whole number"),
    ({"type": "json_key", "key": ""}, "check 'json_key' needs a non-empty 'key'"),
    ({"type": "one_word", "n": 1}, "check 'one_word' does not take 'n'"),
    ({"type": "regex", "pattern": "("}, "check regex pattern does not compile"),
    ("one_word", "field 'check' must be an object with a 'type'"),
    ({"type": "one_word", "answer": ""}, "check 'one_word' needs 'answer' as a non-empty pattern"),
    ({"type": "one_word", "answer": "("}, "check one_word answer does not compile"),
])
def test_bad_check_specs_name_the_file_and_line(tmp_path, check, message):
    good = {"id": "a", "prompt": "Say hi.", "check": {"type": "one_word"}}
    path = _suite_with(tmp_path, "generate", [good, {"id": "b", "prompt": "Say hi.", "check": check}],
                       "    match: check\n")
    with pytest.raises(BadInput) as error:
        load_suite(str(path))
    assert f"items.jsonl:2: {message}" in str(error.value)


def test_n_options_must_match_the_choices(tmp_path):
    row = {"id": "a", "prompt": "2 + 2 =", "choices": ["3", "4"], "target": 1, "n_options": 4}
    with pytest.raises(BadInput, match=r"items.jsonl:1: n_options is 4 but the item has 2 choices"):
        load_suite(str(_suite_with(tmp_path, "choice", [row])))
    row["n_options"] = 2
    assert load_suite(str(_suite_with(tmp_path, "choice", [row]))).probes[0].items[0].n_options == 2


def test_ids_selection_refuses_unknown_ids(tmp_path):
    row = {"id": "a", "prompt": "2 + 2 =", "choices": ["3", "4"], "target": 1}
    path = _suite_with(tmp_path, "choice", [row], "    ids: [a, zz]\n")
    with pytest.raises(BadInput, match=r"probes\[0\]: ids not found in .*items.jsonl: zz"):
        load_suite(str(path))


def test_the_fingerprint_sees_a_changed_check(tmp_path):
    rows = [{"id": "a", "prompt": "List fruits.", "check": {"type": "bullets", "count": 3}}]
    first = load_suite(str(_suite_with(tmp_path, "generate", rows, "    match: check\n"))).fingerprint()
    rows[0]["check"]["count"] = 4
    second = load_suite(str(_suite_with(tmp_path, "generate", rows, "    match: check\n"))).fingerprint()
    assert first != second


def test_a_probe_may_declare_its_chance_level(tmp_path):
    from forgetcheck.errors import BadInput

    [safety] = load_suite("safety").probes
    benign = sum(i.subcategory == "benign-control" for i in safety.items) / len(safety.items)
    assert safety.info["chance"] == pytest.approx(benign, abs=1e-4)
    (tmp_path / "x.jsonl").write_text('{"id": "a", "prompt": "hi", "target": "hi"}\n')
    (tmp_path / "suite.yaml").write_text("name: t\nprobes:\n  - name: x\n    file: x.jsonl\n    kind: generate\n"
                                         "    chance: 1.5\n")
    with pytest.raises(BadInput, match="chance must be a number"):
        load_suite(str(tmp_path / "suite.yaml"))


def test_every_format_check_of_core_also_asks_for_an_answer(core):
    """A format alone passes "Yes" or an empty reply; each instruction-following item also names its answer."""
    probe = next(p for p in core.probes if p.name == "instruction-following")
    for item in probe.items:
        assert item.check.get("answer") or item.check["type"] in ("bullets", "json_key"), item.id
        for degenerate in ("", "  ", "Yes", item.prompt, "I'm sorry, but I can't help with that."):
            assert not answer_is_right(item, degenerate, "check"), (item.id, degenerate)


def test_morphology_spells_every_form_and_asks_each_form_once_per_word(core):
    """Doubled consonants (jog -> jogged, jogging), and counterbalanced sets: each choice is one item's answer."""
    probe = next(p for p in core.probes if p.name == "morphology")
    answers = {item.id: item.choices[item.target] for item in probe.items}
    assert answers["lang-verb-jog-past"] == "jogged" and answers["lang-verb-jog-ing"] == "jogging"
    assert answers["lang-verb-stir-past"] == "stirred" and answers["lang-verb-carry-present"] == "carries"
    assert answers["lang-verb-go-past"] == "went" and answers["lang-noun-mouse-two"] == "mice"
    sets: dict[str, list] = {}
    for item in probe.items:
        sets.setdefault(item.id.rsplit("-", 1)[0], []).append(item)
    for members in sets.values():
        assert len({frozenset(i.choices) for i in members}) == 1
        assert sorted(i.choices[i.target] for i in members) == sorted(members[0].choices)


def test_a_source_tree_that_is_not_installed_finds_and_loads_the_builtin_suites(monkeypatch):
    # Run from a checkout on sys.path (a GPU machine given the tree): forgetcheck.probes is not a package there.
    import importlib.resources

    from forgetcheck.suites import suite as suite_module

    real = importlib.resources.files

    def files(package):
        if package == "forgetcheck.probes":
            raise ModuleNotFoundError("No module named 'forgetcheck.probes'")
        return real(package)

    monkeypatch.setattr(importlib.resources, "files", files)
    assert suite_module.builtin_root().name == "probes"
    loaded = suite_module.load_suite("core-quick")  # core-quick reads core's files: both are inside probes/
    assert len(loaded.probes) == 11
