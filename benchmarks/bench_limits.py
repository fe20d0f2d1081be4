"""Refusing a sheet beyond the row limit: review.workbook.read_workbook (which streams the sheet XML and stops once
the count passes review.files.MAX_SHEET_ROWS) against the obvious alternative, loading the sheet with
python-calamine and counting its rows afterwards, measured in the same run. Also reports the scan's cost on a legal workbook.

    python benchmarks/bench_limits.py [--rows 1100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import zipfile
from pathlib import Path

import python_calamine
from timing import best_of

from review.errors import UnreadableInput
from review.files import MAX_SHEET_ROWS
from review.forms import default_form_path, load_form
from review.sheetscan import scan
from review.workbook import make_workbook, read_workbook


def huge_workbook(path: Path, rows: int) -> Path:
    """A reviewer workbook whose Arms sheet has a header and `rows` rows of one cell, written as XML."""
    form = load_form(default_form_path())
    make_workbook(form, path)
    with zipfile.ZipFile(path) as zf:
        parts = {i.filename: zf.read(i.filename) for i in zf.infolist()}
    part = "xl/worksheets/sheet4.xml"
    head, data = parts[part].split(b"<sheetData>")
    header = data.split(b"</row>")[0] + b"</row>"
    body = b"".join(
        b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>T%d</t></is></c></row>' % (r, r, r % 97)
        for r in range(2, rows + 2)
    )
    parts[part] = head + b"<sheetData>" + header + body + b"</sheetData></worksheet>"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in parts.items():
            zf.writestr(name, content)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.rows <= MAX_SHEET_ROWS:
        parser.error(f"--rows must pass the limit it measures, MAX_SHEET_ROWS = {MAX_SHEET_ROWS:,}")
    form = load_form(default_form_path())
    with tempfile.TemporaryDirectory() as tmp:
        path = huge_workbook(Path(tmp) / "huge.xlsx", args.rows)

        def refuse() -> None:
            try:
                read_workbook(path, form)
            except UnreadableInput:
                return
            raise AssertionError("not refused")

        def load_then_count() -> None:
            sheet = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Arms")
            assert len(sheet.to_python()) > 100_000

        ours, theirs = best_of(args.repeat, refuse)[0], best_of(args.repeat, load_then_count)[0]
        print(
            f"sheet of {args.rows:,} rows: refused by read_workbook in {ours:.3f} s; "
            f"calamine load-then-count {theirs:.3f} s; ratio {theirs / ours:.1f}x"
        )
        legal = make_workbook(form, Path(tmp) / "legal.xlsx")
        scan_time = best_of(args.repeat, lambda: scan(legal))[0]
        read_time = best_of(args.repeat, lambda: read_workbook(legal, form))[0]
        print(
            f"legal workbook: scan {scan_time * 1000:.1f} ms of read_workbook's {read_time * 1000:.1f} ms "
            f"({scan_time / read_time:.0%})"
        )


if __name__ == "__main__":
    main()
