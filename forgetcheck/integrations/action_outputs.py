"""The GitHub Action's own logic: its inputs checked, its cache keys, and its step outputs.

The Action (``action.yml`` at the repository root) calls this module twice:

* ``python -m forgetcheck.integrations.action_outputs prepare`` before anything
  runs: checks the comment mode, the comment key and the thresholds (one line and
  exit 2 for a bad one, before minutes are spent comparing) and prints the cache
  keys. A key is built from content, never from the run: the hash of the suite's
  files and the models as given; after the comparison, the models' resolved
  revisions (:func:`cache_key`). A run that finds the exact key restored saves
  nothing, so the Hugging Face cache is not uploaded again on every run.
* ``python -m forgetcheck.integrations.action_outputs REPORT [thresholds]`` after
  the comparison: ``verdict``, ``regressed``, ``alert`` and ``fail-code``, judged
  again at the alert and fail thresholds (:func:`judge`).

A step output is a ``name=value`` line in ``GITHUB_OUTPUT``: a CR or LF inside a
value would end it and start a line of the value's choosing, such as another
output (``verdict=held``). Capability names come from the suite, and a suite can
come from the pull request under test, so every value is made one line of
printable text, and the verdict is one of the three words or nothing.

Run by the Action as ``python -m forgetcheck.integrations.action_outputs REPORT``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

VERDICTS = ("regressed", "held", "inconclusive")
CACHE_VERSION = "v2"  # bumped when what the cache holds changes shape


def one_line(text: str) -> str:
    r"""``text`` with every line break and other control character made a space.

    >>> one_line("facts\r\nverdict=held\u2028x")
    'facts  verdict=held x'
    """
    return "".join(c if c.isprintable() else " " for c in text)


def step_outputs(report: object) -> dict[str, str]:
    r"""``verdict`` and ``regressed`` (comma-separated names) of a report, each safe as an output value.

    >>> step_outputs({"verdict": "regressed\nverdict=held",
    ...               "capabilities": [{"name": "facts\nverdict=held", "verdict": "regressed"}]})
    {'verdict': '', 'regressed': 'facts verdict=held'}
    """
    report = report if isinstance(report, dict) else {}
    capabilities = report.get("capabilities") if isinstance(report.get("capabilities"), list) else []
    names = [one_line(str(c.get("name", ""))).replace(",", " ") for c in capabilities
             if isinstance(c, dict) and c.get("verdict") == "regressed"]
    verdict = report.get("verdict")
    return {"verdict": verdict if verdict in VERDICTS else "", "regressed": ",".join(names)}


def suite_hash(suite: str) -> str:
    """A hash of everything in the suite's folder (names and bytes): what its items are made from.

    A built-in suite hashes its shipped files; ``lm-eval:TASKS`` hashes the names, since
    the tasks live in the installed lm-eval. Loading the suite would be exact too, but a
    Hub-dataset suite would need the network before the cache is even restored.
    """
    from forgetcheck.suites.suite import LM_EVAL_PREFIX, suite_path

    digest = hashlib.sha256()
    if suite.startswith(LM_EVAL_PREFIX):
        digest.update(suite.encode())
        return digest.hexdigest()[:16]
    folder = suite_path(suite).parent
    for file in sorted(p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(file.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()[:16]


def cache_key(runner_os: str, suite: str, base: str, candidate: str) -> str:
    """``forgetcheck-v2-OS-suite-HASH-models-HASH``: equal exactly when the suite files and the models are.

    >>> cache_key("Linux", "0123456789abcdef", "org/base@" + "a" * 40, "./adapter")
    'forgetcheck-v2-Linux-suite-0123456789abcdef-models-1dd67867b03752f1'
    """
    models = hashlib.sha256(json.dumps([base, candidate]).encode()).hexdigest()[:16]
    return f"{cache_prefix(runner_os, suite)}models-{models}"


def cache_prefix(runner_os: str, suite: str) -> str:
    """The part of the key a fallback restore matches on: another model pair on the same suite."""
    return f"forgetcheck-{CACHE_VERSION}-{one_line(runner_os).replace(' ', '-')}-suite-{suite}-"


def prepare(env: dict[str, str]) -> dict[str, str]:
    """Check the Action's inputs (from ``env``) and give the comment mode and the cache keys to restore."""
    from forgetcheck.errors import BadInput
    from forgetcheck.integrations.comment_policy import MODES, WHEN, threshold
    from forgetcheck.report.comment import marker

    mode = env.get("COMMENT_MODE", "update")
    if mode not in MODES:
        raise BadInput(f"comment-mode {mode[:40]!r}: use update, recreate, hide-old or off")
    on = env.get("COMMENT_ON", "always")
    if on not in WHEN:
        raise BadInput(f"comment-on {on[:40]!r}: use always, change or alert")
    if env.get("FAIL_ON", "regressed") not in ("regressed", "inconclusive", "never"):
        raise BadInput(f"fail-on {env['FAIL_ON'][:40]!r}: use regressed, inconclusive or never")
    if env.get("COMMENT", "true") not in ("true", "false"):
        raise BadInput(f"comment {env['COMMENT'][:40]!r}: use true or false (or comment-mode: off)")
    try:
        marker(env.get("COMMENT_KEY", ""))
    except BadInput as exc:
        raise BadInput(str(exc).replace("--key", "comment-key", 1)) from None
    threshold(env.get("ALERT_THRESHOLD"), "alert-threshold")
    threshold(env.get("FAIL_THRESHOLD"), "fail-threshold")
    suite = suite_hash(env.get("SUITE", "core"))
    runner_os = env.get("RUNNER_OS", "unknown")
    return {"comment-mode": "off" if env.get("COMMENT") == "false" else mode,
            "cache-key": cache_key(runner_os, suite, env.get("BASE", ""), env.get("CANDIDATE", "")),
            "cache-prefix": cache_prefix(runner_os, suite)}


def judge(report: dict, alert_points: float | None, fail_points: float | None, fail_on: str) -> dict[str, str]:
    """``alert``, ``failing`` (names) and ``fail-code`` of a report, at the alert and fail thresholds.

    A threshold re-judges the saved items with it as the tolerance, so "regressed"
    keeps its meaning (a real loss larger than the threshold); the fail threshold
    defaults to the alert threshold, which defaults to the report's tolerance.
    """
    from forgetcheck.commands.options import exit_code
    from forgetcheck.comparison import from_dict
    from forgetcheck.integrations.comment_policy import judged_at

    comparison = from_dict(report)
    alerting = judged_at(comparison, alert_points)
    failing = judged_at(comparison, fail_points if fail_points is not None else alert_points)
    return {"alert": "true" if alerting.regressed() else "false",
            "failing": ",".join(one_line(name).replace(",", " ") for name in failing.regressed()),
            "fail-code": str(exit_code(failing, fail_on))}


def main(argv: list[str]) -> int:
    from forgetcheck.errors import BadInput

    try:
        if argv[:1] == ["prepare"]:
            outputs = prepare(dict(os.environ))
        else:
            outputs = _after_compare(argv)
    except BadInput as exc:
        print(f"forgetcheck: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    for name, value in outputs.items():
        print(f"{name}={one_line(value)}")
    return 0


def _after_compare(argv: list[str]) -> dict[str, str]:
    from forgetcheck.errors import BadInput
    from forgetcheck.integrations.comment_policy import threshold

    parser = argparse.ArgumentParser(prog="action_outputs")
    parser.add_argument("report")
    parser.add_argument("--alert-threshold", default="")
    parser.add_argument("--fail-threshold", default="")
    parser.add_argument("--fail-on", default=None, choices=("regressed", "inconclusive", "never"))
    parser.add_argument("--runner-os", default=None)
    parser.add_argument("--suite", default=None)
    args = parser.parse_args(argv)
    try:
        with open(args.report, encoding="utf-8") as file:
            report = json.load(file)
    except (OSError, ValueError) as exc:
        raise BadInput(f"cannot read the report for the step outputs ({type(exc).__name__})") from None
    outputs = step_outputs(report)
    if args.fail_on is not None:
        outputs.update(judge(report, threshold(args.alert_threshold, "alert-threshold"),
                             threshold(args.fail_threshold, "fail-threshold"), args.fail_on))
    if args.runner_os is not None and args.suite is not None:
        sides = [(report.get(side) or {}).get("resolved") or (report.get(side) or {}).get("spec") or ""
                 for side in ("base", "candidate")]
        outputs["cache-key"] = cache_key(args.runner_os, suite_hash(args.suite), *map(str, sides))
    return outputs


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
