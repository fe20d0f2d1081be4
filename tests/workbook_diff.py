"""Differences between two .xlsx files as a reader sees them: every cell (value, type, number format, font,
fill, alignment, quote prefix), column widths, row heights, panes, tables, merged cells, pictures, page breaks,
data validations and print setup. Empty when the files are the same in all of these."""

from __future__ import annotations

from pathlib import Path

from openpyxl import load_workbook


def _cell(cell) -> tuple:
    font, fill, align = cell.font, cell.fill, cell.alignment
    return (
        cell.value,
        cell.data_type,
        cell.number_format,
        (font.b, font.i, font.sz, font.name, font.color.rgb if font.color is not None else None),
        (fill.fill_type, fill.fgColor.rgb if fill.fgColor is not None else None),
        (align.wrap_text, align.vertical, align.horizontal),
        cell.quotePrefix,
    )


def _sheet(ws) -> dict:
    setup, margins = ws.page_setup, ws.page_margins
    return {
        "widths": {k: d.width for k, d in ws.column_dimensions.items() if d.width},
        "heights": {k: d.height for k, d in ws.row_dimensions.items() if d.height},
        "panes": ws.freeze_panes,
        "tables": sorted(
            (t.displayName, t.ref, tuple(c.name for c in t.tableColumns), t.tableStyleInfo.name)
            for t in ws.tables.values()
        ),
        "merged": sorted(str(r) for r in ws.merged_cells.ranges),
        "images": [(img.anchor._from.row, img.anchor._from.col, img.width, img.height) for img in ws._images],
        "breaks": [b.id for b in ws.row_breaks.brk],
        "validations": sorted((str(v.sqref), v.type, v.formula1) for v in ws.data_validations.dataValidation),
        "grid": ws.sheet_view.showGridLines,
        "print": (
            setup.orientation,
            setup.paperSize,
            setup.fitToWidth,
            setup.fitToHeight,
            setup.pageOrder,
            ws.sheet_properties.pageSetUpPr.fitToPage if ws.sheet_properties.pageSetUpPr else None,
            ws.print_title_rows,
            ws.print_title_cols,
            ws.print_options.gridLines,
            (margins.left, margins.right, margins.top, margins.bottom, margins.header, margins.footer),
            tuple(
                (part.text, part.size)
                for hf in (ws.oddHeader, ws.oddFooter)
                for part in (hf.left, hf.center, hf.right)
            ),
        ),
    }


def workbook_differences(a: Path, b: Path, limit: int = 20) -> list[str]:
    wa, wb = load_workbook(a), load_workbook(b)
    out: list[str] = []
    if wa.sheetnames != wb.sheetnames:
        return [f"sheets: {wa.sheetnames} != {wb.sheetnames}"]
    for name in wa.sheetnames:
        sa, sb = wa[name], wb[name]
        pa, pb = _sheet(sa), _sheet(sb)
        out += [f"{name} {key}: {pa[key]!r} != {pb[key]!r}" for key in pa if pa[key] != pb[key]]
        rows = max(sa.max_row, sb.max_row)
        cols = max(sa.max_column, sb.max_column)
        for ra, rb in zip(
            sa.iter_rows(max_row=rows, max_col=cols), sb.iter_rows(max_row=rows, max_col=cols), strict=True
        ):
            for ca, cb in zip(ra, rb, strict=True):
                if _cell(ca) != _cell(cb):
                    out.append(f"{name}!{ca.coordinate}: {_cell(ca)} != {_cell(cb)}")
                    if len(out) >= limit:
                        return out
    return out
