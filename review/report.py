"""report.html: one self-contained page a collaborator opens offline (no script, no web font, no link out):
the question, the methods text, agreement, the pooled table, any extra tables (e.g. safety), every forest plot
and the other figures embedded as PNG, and what is still open (warnings, analyses with fewer than two studies,
studies left out).
"""

from __future__ import annotations

import base64
import html
import math
import numbers
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .files import write_text

_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1b1b1b;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
h3 { font-size: 1.05em; margin-bottom: 0.3em; }
table { border-collapse: collapse; margin: 0.6em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #d0d7de; padding: 0.25em 0.5em; vertical-align: top; text-align: left; }
th { background: #ddebf7; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 1em 0 2em; page-break-inside: avoid; } figure img { max-width: 100%; height: auto; }
figcaption { font-size: 0.9em; color: #555; }
.meta { color: #555; } .open { background: #fff8e1; padding: 0.5em 1em; border-left: 4px solid #f0b400; }
nav ul { columns: 2; } @media print { nav { display: none; } h2 { page-break-before: auto; } }
"""


# Past this many validation warnings the report lists the first ones and counts per rule (the CSV has all).
REPORT_ISSUES = 1_000
EXAMPLES_PER_RULE = 20  # warnings shown of each rule when there are more than REPORT_ISSUES


def report_html(
    *,
    title: str,
    question: str,
    made: str,
    methods_markdown: str,
    agreement: pd.DataFrame,
    pooled: pd.DataFrame,
    forest_plots: Mapping[str, Path],
    figures: Mapping[str, Path] | None = None,
    tables: Mapping[str, pd.DataFrame] | None = None,
    issues: pd.DataFrame | None = None,
    notes: list[str] | None = None,
) -> str:
    """The report as one HTML string; `figures` and `tables` are further sections (title -> PNG / frame)."""
    figures, tables, notes = dict(figures or {}), dict(tables or {}), list(notes or [])
    sections: list[tuple[str, str, str]] = []  # (anchor, heading, body)
    sections.append(("methods", "Methods", _markdown(methods_markdown)))
    sections.append(("agreement", "Agreement between reviewers", _agreement(agreement)))
    sections.append(("pooled", "Pooled results", _pooled(pooled)))
    for name, frame in tables.items():
        sections.append((_anchor(name), name, _table(frame)))
    forest = "".join(
        f'<figure id="{_anchor("forest " + name)}"><h3>{html.escape(name)}</h3>{_img(png, name)}</figure>'
        for name, png in forest_plots.items()
    )
    missing = [a for a in pooled.get("analysis", pd.Series(dtype=str)) if a not in forest_plots]
    if missing:
        forest += (
            "<p>No forest plot (no study with usable data): " + html.escape("; ".join(missing)) + ".</p>"
        )
    sections.append(("forest", "Forest plots", forest or "<p>No analysis had data to plot.</p>"))
    for name, png in figures.items():
        sections.append((_anchor(name), name, f"<figure>{_img(png, name)}</figure>"))
    sections.append(("open", "Open issues", _open(pooled, issues, notes)))
    nav = "".join(f'<li><a href="#{a}">{html.escape(h)}</a></li>' for a, h, _ in sections)
    body = "".join(f'<section id="{a}"><h2>{html.escape(h)}</h2>{b}</section>' for a, h, b in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="review {__version__}">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
        f"<header><h1>{html.escape(title)}</h1>"
        + (f"<p><b>Question.</b> {html.escape(question)}</p>" if question else "")
        + f'<p class="meta">{html.escape(made)}</p></header>'
        f"<nav><ul>{nav}</ul></nav>{body}</body></html>\n"
    )


def write_report(path: str | Path, **parts) -> Path:
    """Write report_html(**parts) atomically."""
    write_text(path, report_html(**parts))
    return Path(path)


# --- pieces -------------------------------------------------------------------------------------------------------


def _anchor(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-") or "section"


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _markdown(text: str) -> str:
    """The small Markdown the methods text uses: ## headings, - bullets, **bold**, paragraphs."""
    out: list[str] = []
    items: list[str] = []

    def inline(s: str) -> str:
        return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(s))

    def flush() -> None:
        if items:
            out.append("<ul>" + "".join(f"<li>{inline(i)}</li>" for i in items) + "</ul>")
            items.clear()

    for block in text.split("\n\n"):
        for line in block.strip().splitlines():
            if line.startswith("- "):
                items.append(line[2:])
                continue
            flush()
            if line.startswith("## "):
                out.append(f"<h3>{inline(line[3:])}</h3>")
            elif line.strip():
                out.append(f"<p>{inline(line)}</p>")
        flush()
    return "".join(out)


def _num(x: object, digits: int = 3) -> str:
    """A number as a reader takes it in: whole numbers with thousands separators, others to `digits`
    significant digits keeping trailing zeros (1.00, 0.988), a value nearer 0 than 0.0001 as <0.0001 or >-0.0001."""
    if x is None or x is pd.NA or isinstance(x, bool):
        return "" if x is None or x is pd.NA else str(x)
    if isinstance(x, numbers.Integral):
        return f"{int(x):,}"
    if isinstance(x, numbers.Real):
        x = float(x)
        if not math.isfinite(x):
            return ""
        if 0 < abs(x) < 1e-4:
            return "<0.0001" if x > 0 else ">-0.0001"
        return f"{x:#.{digits}g}".rstrip(".") if abs(x) < 10**digits else f"{x:,.0f}"
    return html.escape(str(x))


def _table(frame: pd.DataFrame, numeric_digits: int = 3) -> str:
    if frame is None or frame.empty:
        return "<p>None.</p>"
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False):
        cells = []
        for v in record:
            if isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)):
                cells.append(f'<td class="num">{_num(v, numeric_digits)}</td>')
            else:
                cells.append(f"<td>{'' if v is None or v is pd.NA else html.escape(str(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _agreement(agreement: pd.DataFrame) -> str:
    if agreement is None or agreement.empty:
        return "<p>One extraction: nothing was compared.</p>"
    shown = agreement.assign(
        agreement=agreement["agreement"].map(lambda x: f"{x:.1f}%" if pd.notna(x) else ""),
        kappa=[
            f"{k:.2f} ({lo:.2f} to {hi:.2f})"
            if pd.notna(k) and pd.notna(lo)
            else (f"{k:.2f}" if pd.notna(k) else "")
            for k, lo, hi in zip(
                agreement["kappa"], agreement["kappa_low"], agreement["kappa_high"], strict=True
            )
        ],
    )
    shown["table"] = shown["table"].replace("", "all tables")
    return _table(
        shown[["pair", "table", "units", "agreed", "agreement", "kappa"]].rename(
            columns={"units": "values", "kappa": "Cohen's kappa (95% CI)"}
        )
    )


def _pooled(pooled: pd.DataFrame) -> str:
    if pooled is None or pooled.empty:
        return "<p>No analysis was pooled.</p>"
    rows = []
    for _, r in pooled.iterrows():
        k = int(r["k"]) if pd.notna(r.get("k")) else 0
        ci = f"{_num(r.get('ci_low'))}\u00a0to\u00a0{_num(r.get('ci_high'))}" if k else ""  # never split
        pi = (
            f"{_num(r.get('pi_low'))}\u00a0to\u00a0{_num(r.get('pi_high'))}"
            if k >= 2 and pd.notna(r.get("pi_low"))
            else ""
        )
        rows.append(
            {
                "analysis": r["analysis"],
                "k": f"{k:,}",
                "measure": r.get("measure", ""),
                "model": f"{r.get('method', '')},\u00a0{r.get('test', '')}",
                "estimate": _num(r.get("estimate")) if k else "",
                "95% CI": ci,
                "95% PI": pi,
                "I²": f"{r['i2']:.0f}%" if k >= 2 and pd.notna(r.get("i2")) else "",
                "tau²": _num(r.get("tau2")) if k >= 2 else "",
                "note": "not pooled (one study)"
                if k == 1
                else (r.get("note") or "" if k else "no usable data"),
                "studies left out": r.get("studies_left_out") or "",
            }
        )
    return _table(pd.DataFrame(rows).astype(str).replace("nan", ""))


def _open(pooled: pd.DataFrame, issues: pd.DataFrame | None, notes: list[str]) -> str:
    items = []
    for _, r in (pooled if pooled is not None else pd.DataFrame()).iterrows():
        k = int(r["k"]) if pd.notna(r.get("k")) else 0
        if k < 2:
            items.append(
                f"{r['analysis']}: {'one study, not pooled' if k == 1 else 'no study with usable data'}."
            )
        if isinstance(r.get("studies_left_out"), str) and r["studies_left_out"]:
            items.append(f"{r['analysis']}: left out {r['studies_left_out']}.")
    items += notes
    text = "".join(f"<li>{html.escape(i)}</li>" for i in items)
    warned = 0 if issues is None else len(issues)
    if items:
        out = f'<div class="open"><ul>{text}</ul></div>'
    else:
        out = "<p>Nothing open in the analyses" + (
            "; the extraction warnings are below.</p>" if warned else ".</p>"
        )
    if warned:
        assert issues is not None
        columns = [
            c
            for c in ("severity", "code", "file", "sheet", "cell", "study_id", "field", "value", "message")
            if c in issues.columns
        ]
        shown = (
            issues.assign(file=issues["file"].map(lambda f: Path(str(f)).name))
            if "file" in issues
            else issues
        )
        out += f"<h3>Validation warnings ({warned:,})</h3>"
        if warned > REPORT_ISSUES:  # a page a browser opens: the counts per rule, then examples of each rule
            by = [c for c in ("severity", "code", "file") if c in shown.columns]
            counts = shown.groupby(by, sort=False).size().rename("warnings").reset_index()
            out += _table(counts.sort_values("warnings", ascending=False, kind="stable"))
            shown = (
                shown.groupby(["severity", "code"], sort=False).head(EXAMPLES_PER_RULE).head(REPORT_ISSUES)
            )
            out += (
                f"<p>Up to {EXAMPLES_PER_RULE} examples of each rule ({len(shown):,} of {warned:,} warnings); "
                "validation-issues.csv beside this report lists every one.</p>"
            )
        out += _table(shown[columns])
    return out
