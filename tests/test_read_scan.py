"""sheetscan's byte searches find what parsing every cell finds: the same formulas, errors, formats, long text,
merged ranges and row count, on random sheet XML (plain and namespace-prefixed, cut into chunks anywhere)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from review import sheetscan
from review.errors import UnreadableInput
from review.files import MAX_CELL_CHARS

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
STYLES = f"""<styleSheet xmlns="{MAIN}"><cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="10"/>
<xf numFmtId="17"/><xf numFmtId="2"/></cellXfs></styleSheet>"""
SHARED = ["short", "x" * (MAX_CELL_CHARS + 3), "other"]


def _xlsx(path: Path, sheet: bytes) -> Path:
    shared = "".join(f"<si><t>{s}</t></si>" for s in SHARED)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets>'
            "</workbook>",
        )
        zf.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Target="worksheets/sheet1.xml" '
            'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"/></Relationships>',
        )
        zf.writestr("xl/styles.xml", STYLES)
        zf.writestr("xl/sharedStrings.xml", f'<sst xmlns="{MAIN}">{shared}</sst>')
        zf.writestr("xl/worksheets/sheet1.xml", sheet)
    return path


CELLS = st.sampled_from(
    [
        '<c r="{r}"><v>1.5</v></c>',
        '<c r="{r}" t="inlineStr"><is><t>text</t></is></c>',
        '<c r="{r}" t="inlineStr"><is><r><rPr><color rgb="FF0000"/></rPr><t>rich</t></r></is></c>',
        '<c r="{r}" t="s"><v>0</v></c>',
        '<c r="{r}" t="s"><v>1</v></c>',  # a shared string beyond the cell limit
        '<c r="{r}"><f>SUM(A1:A2)</f><v>3</v></c>',
        '<c r="{r}"><f>A1</f><v></v></c>',  # a formula without a saved value
        '<c r="{r}"><f t="shared" si="0"/><v>2</v></c>',
        '<c r="{r}" t="str"><f>"a"</f><v>a</v></c>',
        '<c r="{r}" t="e"><v>#DIV/0!</v></c>',
        '<c r="{r}" t="e"><f>1/0</f><v>#DIV/0!</v></c>',
        '<c r="{r}" s="1"><v>0.151</v></c>',
        '<c r="{r}" s="2"><v>36678</v></c>',
        '<c r="{r}" s="3"><v>7</v></c>',
        '<c r="{r}" s="1"/>',
        '<c\n r="{r}"\n t="e"><v>#N/A</v></c>',
        '<c r="{r}"><f\n>1+1</f><v>2</v></c>',
        '<c r="{r}" t="b"><f aca="false">TRUE()</f><v>1</v></c>',  # LibreOffice's typed TRUE: not a formula
        '<c r="{r}" t="b"><f>A1&gt;0</f><v>0</v></c>',  # a boolean that is calculated: a formula
    ]
)


@st.composite
def sheets(draw):
    prefixed = draw(st.booleans())
    rows = []
    for r in range(1, draw(st.integers(0, 30)) + 1):
        cells = draw(st.lists(CELLS, max_size=6))
        body = "".join(c.format(r=f"{'ABCDEFG'[i]}{r}") for i, c in enumerate(cells))
        if draw(st.booleans()) or not body:
            rows.append(f'<row r="{r}"/>' if not body else f'<row r="{r}" spans="1:7">{body}</row>')
        else:
            rows.append(f'<row r="{r}">{body}</row>')
    data = "".join(rows)
    tail = ""
    if draw(st.booleans()):
        tail += '<mergeCells count="2"><mergeCell ref="A2:A3"/><mergeCell ref="B5:C5"/></mergeCells>'
    if draw(st.booleans()):
        tail += '<dataValidations><dataValidation sqref="A2"><formula1>"a,b"</formula1></dataValidation>'
        tail += "</dataValidations>"
    if draw(st.booleans()):
        tail += '<rowBreaks count="1"><brk id="5"/></rowBreaks>'
    xml = f'<worksheet xmlns="{MAIN}"><sheetData>{data}</sheetData>{tail}</worksheet>'
    if prefixed:  # the same sheet with every element prefixed, as some tools write it
        xml = xml.replace("</", "\0").replace("<", "<x:").replace("\0", "</x:").replace(f'xmlns="{MAIN}"', "")
        xml = xml.replace("<x:worksheet", f'<x:worksheet xmlns:x="{MAIN}"', 1)
    return xml.encode(), draw(st.sampled_from([64, 257, 1 << 20]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sheets())
def test_byte_searches_find_what_parsing_every_cell_finds(tmp_path_factory, monkeypatch, sheet):
    xml, chunk = sheet
    path = _xlsx(tmp_path_factory.mktemp("scan") / "s.xlsx", xml)
    monkeypatch.setattr(sheetscan, "_CHUNK", chunk)
    fast = sheetscan.scan(path)["S"]
    monkeypatch.setattr(sheetscan, "_MANY", -1)  # every chunk parsed cell by cell
    exact = sheetscan.scan(path)["S"]
    assert vars(fast) == vars(exact)


def test_facts_of_a_known_sheet(tmp_path):
    xml = (
        f'<worksheet xmlns="{MAIN}"><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>h</t></is></c></row>'
        '<row r="2"><c r="A2"><f>1/0</f><v></v></c><c r="B2" t="e"><v>#DIV/0!</v></c><c r="C2" s="1"><v>0.1</v>'
        '</c><c r="D2" t="s"><v>1</v></c><c r="E2" s="2"><v>36678</v></c><c r="F2" t="b"><f aca="false">FALSE()'
        '</f><v>0</v></c><c r="G2" t="b"><f>B1&gt;0</f><v>1</v></c></row><row r="3"/></sheetData>'
        '<mergeCells><mergeCell ref="A3:B3"/></mergeCells><rowBreaks><brk id="2"/></rowBreaks></worksheet>'
    )
    facts = sheetscan.scan(_xlsx(tmp_path / "k.xlsx", xml.encode()))["S"]
    assert facts.rows == 3
    assert facts.formulas == {"A2": "1/0", "G2": "B1>0"} and facts.no_value == {"A2"}
    assert facts.errors == {"B2": "#DIV/0!"}
    assert facts.formats == {"C2": "percent", "E2": "month"}
    assert facts.long_text == {"D2": MAX_CELL_CHARS + 1}
    assert facts.merged == ["A3:B3"]


@pytest.mark.parametrize("prefix", ["", "x:"])
def test_row_limit_counts_prefixed_and_self_closing_rows(tmp_path, prefix):
    rows = "".join(f'<{prefix}row r="{r}"/>' for r in range(1, 12))
    xmlns = f'xmlns:x="{MAIN}"' if prefix else f'xmlns="{MAIN}"'
    xml = f"<{prefix}worksheet {xmlns}><{prefix}sheetData>{rows}</{prefix}sheetData></{prefix}worksheet>"
    path = _xlsx(tmp_path / "r.xlsx", xml.encode())
    assert sheetscan.scan(path, max_rows=11)["S"].rows == 11
    with pytest.raises(UnreadableInput, match="more than 10 rows"):
        sheetscan.scan(path, max_rows=10)


# ---- the grid calamine would build: bounded before the sheet loads -------------------------------------------


def _sheet(rows: str, before: str = "") -> bytes:
    return f'<worksheet xmlns="{MAIN}">{before}<sheetData>{rows}</sheetData></worksheet>'.encode()


HEADER = '<row r="1"><c r="A1" t="inlineStr"><is><t>h</t></is></c><c r="K1"><v>1</v></c></row>'


@pytest.mark.parametrize(
    "rows, far",
    [
        ('<row r="499999"><c r="ZZ499999"><v>1</v></c></row>', "ZZ499999"),  # A1 and ZZ499999
        ('<row r="2"><c r="ZZ2"><v>1</v></c></row><row r="499999"><c r="A499999"><v>1</v></c></row>', "ZZ2"),
        ('<row r="3"><c r="B3"><v>1</v></c></row><row r="2"><c r="ZY999999"><v>1</v></c></row>', "ZY999999"),
        ('<row r="2"><c r="A4000000"><v>1</v></c></row>', "A4000000"),  # a cell's own row, not its row's
        (
            '<row r="2">' + "<c><v>1</v></c>" * 702 + '</row><row r="99999"><c r="A99999"><v>1</v></c></row>',
            "ZZ2",
        ),
        (
            '<row r="2"><c r="ZZ2"><v>1</v></c></row>'
            + "<row><c><v>1</v></c></row>" * 3
            + '<row r="400000"/>'
            '<row><c r="B400001" t="inlineStr"><is><t></t></is></c></row>',
            "B400001",
        ),
    ],
    ids=["far-corner", "far-apart", "out-of-order", "cell-row", "cells-without-r", "rows-without-r"],
)
def test_values_far_apart_are_refused_before_loading(tmp_path, rows, far):
    path = _xlsx(tmp_path / "far.xlsx", _sheet(HEADER + rows))
    with pytest.raises(UnreadableInput) as refused:
        sheetscan.scan(path)
    message = str(refused.value)
    assert "sheet 'S'" in message and far in message and "cells" in message and "delete the values" in message
    assert f"{sheetscan.MAX_GRID_CELLS:,}" in message


@pytest.mark.parametrize(
    "rows, before",
    [
        (
            "",
            '<dimension ref="A1:ZZ1048576"/>',
        ),  # a dimension that claims the whole sheet: calamine ignores it
        (
            "".join(f'<row r="{r}" s="1" customFormat="1"/>' for r in range(2, 200_000)),
            "",
        ),  # empty styled rows
        (
            "".join(f'<row r="{r}"><c r="A{r}" s="1"/><c r="ZZ{r}" s="1"/></row>' for r in range(2, 60_000)),
            "",
        ),
        (
            '<row r="1048576" s="1" customFormat="1"><c r="ZZ1048576" s="1"/></row>',
            "",
        ),  # a formatted last row
        ('<row r="2"><c r="ZZ2"><v></v></c><c r="A999999"><f>1/0</f></c></row>', ""),  # no value: not loaded
    ],
    ids=["huge-dimension", "styled-rows", "styled-cells", "last-row-formatted", "valueless"],
)
def test_empty_formatted_cells_far_away_are_fine(tmp_path, rows, before):
    facts = sheetscan.scan(_xlsx(tmp_path / "ok.xlsx", _sheet(HEADER + rows, before)))["S"]
    assert facts.rows == 1 + rows.count("<row")


def test_a_large_dense_sheet_is_bounded_without_reading_every_cell(tmp_path, monkeypatch):
    rows = "".join(
        f'<row r="{r}"><c r="A{r}"><v>1</v></c><c r="K{r}"><v>2</v></c></row>' for r in range(2, 150_000)
    )
    path = _xlsx(tmp_path / "tall.xlsx", _sheet(HEADER + rows))
    monkeypatch.setattr(sheetscan, "_check_extent", lambda *a: pytest.fail("read cell by cell"))
    facts = sheetscan.scan(path)["S"]
    assert (facts.grid_rows, facts.grid_columns) == (
        999_999,
        26,
    )  # 26 million cells at most: within the limit


def test_the_exact_extent_places_cells_as_calamine_does(tmp_path):
    """python-calamine's grid for a sheet with rows and cells without r=, out of order, and empty cells."""
    xml = (
        '<row r="3"><c r="B3"><v>1</v></c><c><v>2</v></c><c r="F3" s="1"/></row><row><c><v>3</v></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t></t></is></c></row><row r="9"><c r="H9"><v></v></c></row>'
    )
    _, rows, columns, bottom, right = sheetscan._extent(xml.encode(), 0)
    assert (rows, columns, bottom, right) == (4, 3, "A4", "C3")


@pytest.mark.parametrize("cell", ['<c r="AAA2"><v>1</v></c>', "<c><v>1</v></c>" * 703])
def test_a_value_beyond_column_zz_is_refused(tmp_path, cell):
    path = _xlsx(tmp_path / "wide.xlsx", _sheet(HEADER + f'<row r="2">{cell}</row>'))
    with pytest.raises(UnreadableInput, match="sheet 'S' has a value at AAA2, beyond column ZZ"):
        sheetscan.scan(path)
