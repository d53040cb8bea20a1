"""The GitHub Action's step outputs (verdict, regressed), read from the report.json it just wrote.

A step output is a ``name=value`` line in ``GITHUB_OUTPUT``: a CR or LF inside a
value would end it and start a line of the value's choosing, such as another
output (``verdict=held``). Capability names come from the suite, and a suite can
come from the pull request under test, so every value is made one line of
printable text, and the verdict is one of the three words or nothing.

Run by the Action as ``python -m forgetcheck.integrations.action_outputs REPORT``.
"""

from __future__ import annotations

import json
import sys

VERDICTS = ("regressed", "held", "inconclusive")


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


def main(argv: list[str]) -> int:
    try:
        with open(argv[0], encoding="utf-8") as file:
            report = json.load(file)
    except (OSError, ValueError, IndexError) as exc:
        print(f"forgetcheck: cannot read the report for the step outputs ({type(exc).__name__})", file=sys.stderr)
        return 2
    for name, value in step_outputs(report).items():
        print(f"{name}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
