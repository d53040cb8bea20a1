"""``forgetcheck drift BASE CANDIDATE``: which layers moved, weighted by what the base relied on."""

from __future__ import annotations

import json
from pathlib import Path

import click

from forgetcheck.files import check_out_dir, write_atomic


@click.command("drift")
@click.argument("base")
@click.argument("candidate")
@click.option("--out", "out_dir", default="forgetcheck-drift", show_default=True, type=click.Path(file_okay=False),
              help="Folder for drift.json, drift.md and drift.png.")
@click.option("--fisher-samples", type=click.IntRange(min=0), default=16, show_default=True,
              help="Sequences the base samples to estimate the Fisher; 0 skips the Fisher weighting.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the base's samples for the Fisher.")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True, help="Matrices shown.")
@click.option("--dtype", default="float32", show_default=True, help="float32 keeps the Fisher's gradients exact.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:1 ...")
@click.option("--allow-pickle", is_flag=True, help="Allow .bin/.pt weights (loading them can run code).")
@click.option("--trust-remote-code", is_flag=True, help="Allow models that ship their own Python code.")
def drift_command(base, candidate, out_dir, fisher_samples, seed, top, dtype, device, allow_pickle,
                  trust_remote_code):
    """Rank layers by how far CANDIDATE moved them, and by how much that matters to BASE.

    No probes: per weight matrix, the relative change ‖ΔW‖/‖W‖ and the Fisher-weighted
    change ΣF·ΔW² (the EWC penalty) with the Fisher estimated on the base's own samples.
    A large change is a risk, not a proof of forgetting.
    """
    # Imported here: matplotlib and torch take seconds to load, and other commands never need them.
    from forgetcheck.report.weights import render_markdown, render_text, write_chart
    from forgetcheck.workflows.weight_drift import measure

    check_out_dir(out_dir)
    drift = measure(base, candidate, fisher_samples=fisher_samples, seed=seed, dtype=dtype, device=device,
                    allow_pickle=allow_pickle, trust_remote_code=trust_remote_code)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "drift.json", json.dumps(drift, indent=2).encode())
    write_atomic(out / "drift.md", render_markdown(drift).encode())
    write_chart(drift, out / "drift.png")
    click.echo(render_text(drift, top))
    click.echo(f"report: {out / 'drift.md'} · chart: {out / 'drift.png'} · data: {out / 'drift.json'}")
