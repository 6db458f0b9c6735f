"""`lofte sample`: a realistic data set made to the contract, with its known answers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.common import app, err, out


@app.command()
def sample(
    outdir: Annotated[Path, typer.Argument(help="folder to write config/, inbox/ and expected/ into")],
    year: Annotated[list[int], typer.Option("--year", help="year; repeatable")],
    kommuner: Annotated[int, typer.Option("--kommuner", min=1, max=290)] = 1,
    scale: Annotated[int, typer.Option("--scale", min=1)] = 1,
    seed: Annotated[int, typer.Option("--seed")] = 2019,
) -> None:
    """Write a realistic data set per the contract, with its known answers in expected/."""
    from rich.progress import Progress

    from sample.generator import write_sample

    with Progress(console=err, transient=True) as progress:
        bar = progress.add_task("generating", total=None)

        def step(what: str, done: int, total: int) -> None:
            progress.update(bar, description=what, completed=done, total=total)

        summary = write_sample(
            outdir, sorted(set(year)), kommuner=kommuner, scale=scale, seed=seed, progress=step
        )
    lines = summary.lines
    kommuner_text = ", ".join(summary.kommuner)
    years_text = ", ".join(str(y) for y in summary.years)
    out.print(
        f"wrote {outdir}: {summary.files} files for kommun {kommuner_text}, {years_text}", highlight=False
    )
    out.print(
        f"  lines: {lines['status']} STATUS, {lines['storm']} STORM, {lines['activities']} activities "
        f"({sum(summary.rejected_total.values())} made to be rejected)",
        highlight=False,
    )
    out.print(f"  config: {outdir / 'config'}  exports: {outdir / 'inbox'}", highlight=False)
    n = len(summary.partitions)
    out.print(
        f"  known answers: {outdir / 'expected'} ({n} kommun-year{'' if n == 1 else 's'})", highlight=False
    )
