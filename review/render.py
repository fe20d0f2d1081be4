"""The `review` command's tables: a report's issues, a comparison with its agreement, pooled analyses, rendered
with rich on the consoles cli.py prints to. Part of the command-line layer: the library never imports it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table as RichTable
from rich.text import Text

from .issues import ERROR, FATAL, Report
from .words import counted

out = Console(width=None if sys.stdout.isatty() else 200, markup=False)
err = Console(stderr=True, markup=False)


def labelled(label: str, style: str, text: object) -> Text:
    return Text.assemble((label, style), " ", str(text))


def render_issues(report: Report) -> None:
    if len(report):
        table = RichTable(show_lines=False, header_style="bold")
        for col in ("severity", "where", "study", "field", "value", "code", "message"):
            table.add_column(col, overflow="fold")
        style = {FATAL: "bold red", ERROR: "red"}
        for i in report:
            table.add_row(
                i.severity,
                i.where,
                i.study_id,
                i.field,
                i.value,
                i.code,
                i.message,
                style=style.get(i.severity, "yellow"),
            )
        out.print(table)
    colour = "red" if not report.ok else "green"
    out.print(report.summary(), style=colour)


_TYPE_STYLE = {"arms-swapped": "magenta", "zero-vs-nr": "red", "omission": "yellow", "numeric": "cyan"}


def render_comparison(result, by_field: bool) -> None:
    for r in result.reviewers:
        out.print(labelled(r.letter, "bold", f"{r.name}  {r.file}"), highlight=False)
    if len(result):
        table = RichTable(header_style="bold", title=counted(len(result), "discrepancy"))
        for col in ("id", "table", "row", "field", "type", *(r.letter for r in result.reviewers)):
            table.add_column(col, overflow="fold")
        for u in result.disagreements:
            table.add_row(
                u.id,
                u.table,
                u.row,
                u.field,
                u.type,
                *(e.shown or "(empty)" for e in u.entries),
                style=_TYPE_STYLE.get(u.type),
            )
        out.print(table)
    else:
        out.print("No discrepancies: the extractions agree on every value.", style="green")
    shown = result.agreement if by_field else result.agreement[result.agreement["field"] == ""]
    table = RichTable(header_style="bold", title="Agreement")
    for col in (
        "pair",
        "table",
        *(("field",) if by_field else ()),
        "values",
        "agree",
        "numbers exact",
        "kappa (95% CI)",
    ):
        table.add_column(col, justify="right" if col in ("values", "agree", "numbers exact") else "left")
    for _, a in shown.iterrows():
        kappa = (
            "-"
            if a["kappa"] != a["kappa"]
            else f"{a['kappa']:.2f} ({a['kappa_low']:.2f} to {a['kappa_high']:.2f}), n={a['kappa_units']}"
        )
        exact = (
            "-"
            if a["numeric_exact"] != a["numeric_exact"]
            else f"{a['numeric_exact']:.1f}% of {a['numeric_units']}"
        )
        overall = a["table"] == ""
        table.add_row(
            a["pair"],
            a["table"] or "all tables",
            *((a["field"],) if by_field else ()),
            str(a["units"]),
            f"{a['agreement']:.1f}%",
            exact,
            kappa,
            style="bold" if overall else None,
        )
    out.print(table)
    for note in result.notes:
        out.print(labelled("note:", "yellow", note), highlight=False)


def render_meta(result, by: list[str], output: Path | None, shown: int = 20) -> None:
    first = result.iloc[0]
    table = RichTable(
        header_style="bold", title=f"{first['measure']}, {first['method']}, test {first['test']}"
    )
    for col in [*by, "k", "estimate", "CI", "PI", "tau2", "I2 [CI]", "note"]:
        table.add_column(col, overflow="fold", justify="right" if col in ("k", "tau2", "I2 [CI]") else "left")
    for _, row in result.head(shown).iterrows():
        table.add_row(
            *(str(row[c]) for c in by),
            str(row["k"]),
            f"{row['estimate']:.4g}",
            f"{row['ci_low']:.4g} to {row['ci_high']:.4g}",
            "" if row["pi_low"] != row["pi_low"] else f"{row['pi_low']:.4g} to {row['pi_high']:.4g}",
            f"{row['tau2']:.4g}",
            f"{row['i2']:.1f}%"
            + (
                ""
                if row["i2_ci_low"] != row["i2_ci_low"]
                else f" [{row['i2_ci_low']:.1f}, {row['i2_ci_high']:.1f}]"
            ),
            row["note"],
        )
    out.print(table)
    if len(result) > shown:
        out.print(f"... and {counted(len(result) - shown, 'more analysis', 'more analyses')}.")
    if "q_between" in result:  # one test per analysis: print it once
        model = first["model"]
        for _, row in result.drop_duplicates(subset=[*by[:-1], "q_between"]).head(shown).iterrows():
            where = ", ".join(f"{c}={row[c]}" for c in by[:-1])
            stat = "F" if row["q_between_ddf"] == row["q_between_ddf"] else "Q"
            out.print(
                f"Subgroup differences{' (' + where + ')' if where else ''}: {stat} = {row['q_between']:.3f}, "
                f"df = {row['q_between_df']:.0f}, p = {row['q_between_pval']:.4g} ({model})"
            )
    failed = int((~result["converged"].astype(bool)).sum())
    if failed:
        out.print(
            f"{failed} of {counted(len(result), 'analysis')} have no estimate; see their note.",
            style="yellow",
        )
    if output is not None:
        out.print(f"Wrote {output} ({counted(len(result), 'analysis')}).")
