"""The per-capability floor table of probes/core/README.md, made from audit.json files, never typed by hand.

`forgetcheck probes audit SUITE --model M --out DIR` writes DIR/audit.json; this
script turns one or more of them (for example one per `--capability` run) into a
Markdown table: each capability's chance level, every knowledge-free floor, M's own
score, its margin over the highest floor and the audit's outcome. With
``--readme FILE --section NAME`` it replaces the table between the lines
``<!-- audit-table NAME -->`` and ``<!-- /audit-table NAME -->`` of FILE instead of
printing it:

    python probes/audit_table.py /tmp/audit-quick/audit.json --readme probes/core/README.md --section core-quick

A capability audited in more than one file keeps its last audit; capabilities
follow the order they first appear in. ``--only a,b`` keeps those capabilities.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

CHOICE_FLOORS = ("random weights", "no question", "shortest (tokens)", "longest (tokens)", "shortest (bytes)",
                 "longest (bytes)")
# a generate probe's degenerate answers share one column: the highest of them, named
DEGENERATE = ("empty answer", "whitespace", "prompt echoed", "fixed refusal", "one fixed word", "long ramble")
COLUMNS = ("capability", "items", "chance", *CHOICE_FLOORS, "degenerate answers (highest)", "model", "margin",
           "needed", "audit")


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def read_audits(paths: list[Path]) -> list[dict]:
    """The capabilities of every file; the last audit of each name wins."""
    capabilities: dict[str, dict] = {}
    for path in paths:
        for cap in json.loads(path.read_text(encoding="utf-8"))["capabilities"]:
            capabilities[cap["name"]] = cap
    return list(capabilities.values())


def row(cap: dict) -> list[str]:
    floors = {f["name"]: f["score"] for f in cap["floors"]}
    if not floors:  # perplexity: no answer to guess
        return [f"`{cap['name']}`", str(cap["n"]), "—", *["—"] * len(CHOICE_FLOORS), "—",
                f"{cap['model_score']:.3f} nat/token", "—", "—", "no floor"]
    degenerate = [(floors[name], name) for name in DEGENERATE if name in floors]
    worst = max(degenerate, key=lambda pair: pair[0]) if degenerate else None  # ties: the first named
    audit = "**flagged**" if cap["flagged"] else "sound"
    return [f"`{cap['name']}`", str(cap["n"]), pct(cap["chance"]),
            *[pct(floors.get(name)) for name in CHOICE_FLOORS],
            f"{pct(worst[0])} ({worst[1]})" if worst else "—",
            pct(cap["model_score"]), f"{cap['margin'] * 100:+.1f} pts", f"{cap['needed_margin'] * 100:.1f} pts", audit]


def table(capabilities: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|---|" + "---:|" * (len(COLUMNS) - 2) + "---|"]
    lines += ["| " + " | ".join(row(cap)) + " |" for cap in capabilities]
    return "\n".join(lines)


def replace_section(readme: Path, section: str, text: str) -> None:
    start, end = f"<!-- audit-table {section} -->", f"<!-- /audit-table {section} -->"
    content = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(content):
        sys.exit(f"{readme}: no '{start}' ... '{end}' lines to put the table between; add them where it belongs")
    readme.write_text(pattern.sub(lambda _: f"{start}\n{text}\n{end}", content), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("audits", nargs="+", type=Path, help="audit.json files")
    parser.add_argument("--readme", type=Path, help="a Markdown file to put the table into")
    parser.add_argument("--section", help="which marked section of --readme")
    parser.add_argument("--only", help="comma-separated capabilities to keep (default: all of them)")
    args = parser.parse_args()
    capabilities = read_audits(args.audits)
    if args.only:
        capabilities = [cap for cap in capabilities if cap["name"] in args.only.split(",")]
    text = table(capabilities)
    if args.readme:
        replace_section(args.readme, args.section or "core", text)
    else:
        print(text)


if __name__ == "__main__":
    main()
