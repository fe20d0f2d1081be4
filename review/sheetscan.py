"""What python-calamine does not say about a workbook's cells, found by one streaming pass over the sheet XML.

calamine gives each cell's saved value, fast, but not: that a formula stood there (or had no saved result), that
the value is an error such as #DIV/0! (read as empty), how the cell is formatted (15.1% is stored as 0.151; a date
shown as Jun-2000 is stored as a full date), which cells are merged, or how many rows a sheet has before loading
it all. The reader needs each of these so that nothing is lost in silence and a huge sheet is refused quickly.

calamine loads a sheet as a dense grid from A1 to the last cell that holds a value: two values far apart (A1 and
ZZ499999) make 350 million cells, gigabytes for two values. The pass bounds that grid before anything loads the
sheet: rows by the number of digits of the longest row number met (one search per chunk that finds only a row
number longer than those met so far), columns by a search for two-letter columns (none in most sheets: the grid is
then at most 26 wide) that, once it finds one, looks only for columns beyond the widest met. That needs every row
and cell to carry its reference (r="B7"), as Excel, LibreOffice and openpyxl write them: two counts check it, and a
chunk where they disagree (cells placed by counting) is measured cell by cell. Only when the bound exceeds
MAX_GRID_CELLS is the sheet read again cell by cell for its exact extent (values only: empty formatted cells, which
calamine skips, do not count), and refused if the grid is still too large. These searches cost about 0.5 s of CPU
per 143 MB of sheet XML (the 1,000-study adverse-event sheet): the price of never loading a hostile grid.

The pass reads the sheet XML in chunks, cut at row ends, so memory stays bounded whatever the sheet's size. A
chunk costs a few byte searches (bytes.count, bytes.find and regexes that start with a rare literal run in C at
memory speed); only the cells those searches point at (a formula, an error, a format of interest) are parsed one
by one. A chunk with namespace-prefixed elements (<x:c>), which calamine reads like plain ones, is parsed cell by
cell. Over-long inline text needs no search: calamine gives it whole and the reader measures it. defusedxml
parses the small parts (workbook, relationships, styles) and refuses entity tricks.
"""

from __future__ import annotations

import functools
import html
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import NoReturn

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

from .errors import UnreadableInput
from .files import MAX_CELL_CHARS, MAX_SHEET_COLUMNS, MAX_SHEET_ROWS

_NS = {
    "m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
    "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "rel": "http://schemas.openxmlformats.org/package/2006/relationships",
}
_CHUNK = 1 << 20

# Text content cannot hold a raw '<', so these byte patterns find elements wherever they are.
_ROW = re.compile(rb"<(?:\w+:)?row[\s>/]")
_ROW_END = re.compile(rb"</(?:\w+:)?row>|<(?:\w+:)?row\b[^>]*/>")
_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_ATTR = re.compile(rb'\b([rst])="([^"]*)"')
_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_FORMULA_TEXT = re.compile(rb"<(?:\w+:)?f\b[^>]*>([^<]*)</(?:\w+:)?f>")
# LibreOffice saves a typed TRUE or FALSE as the formula TRUE() or FALSE() (t="b"): a constant, not a calculation.
_CONSTANT_BOOLEAN = re.compile(r"=?\s*(TRUE|FALSE)\s*(?:\(\s*\))?\s*", re.I)
_VALUE = re.compile(rb"<(?:\w+:)?v>([^<]*)</(?:\w+:)?v>")
_LONG_INLINE = re.compile(rb"<(?:\w+:)?t\b[^>]*>[^<]{%d,}" % (MAX_CELL_CHARS + 1))
_SHARED = re.compile(rb"<(?:\w+:)?si>(.*?)</(?:\w+:)?si>", re.S)
_TEXT = re.compile(rb"<(?:\w+:)?t\b[^>]*>([^<]*)</(?:\w+:)?t>")
# A cell with content (a value, formula or inline text) in a column of three letters (AAA = 703 and beyond).
_WIDE = re.compile(rb'<(?:\w+:)?c\s[^>]*?r="([A-Z]{3}\d+)"[^>/]*>\s*<(?:\w+:)?(?:v|f|is)[\s>]')
# The extent of the grid calamine builds. A row (<row>) or cell (<c>) without r= takes the place after the previous
# one; whole rows and cells are matched here for the exact extent (rare: see _extent).
_ROW_ELEMENT = re.compile(rb"<(?:\w+:)?row\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?row>)", re.S)
_REF = re.compile(rb'\br="([A-Z]*)(\d*)"')
_HAS_VALUE = re.compile(rb"<(?:\w+:)?(?:v>[^<]|is[\s>])")  # calamine keeps cells with a value or inline text
MAX_GRID_CELLS = 26_000_000  # 1,000,000 rows x 26 columns: about 1 GB once loaded
_MERGED = re.compile(rb'<(?:\w+:)?mergeCell\s[^>]*?ref="([^"]+)"')
# Cheap searches for the common case, plain (unprefixed) elements; each starts with a literal that is rare or
# short, which the regex engine finds at memory speed. A hit is only a hint: the cell is then parsed exactly.
_PREFIXED = re.compile(rb":(?:row|c|f|v|is|t)[\s>/]")  # a namespace prefix on an element calamine reads
_WIDE_HINT = re.compile(rb'r="[A-Z]{2}')  # a column of two letters or more: AA (27) and beyond
_FORMULA_HINT = re.compile(rb"<f[\s>/]")
_ERROR_HINT = re.compile(rb't="e"')
_AFTER_NAME = (b" ", b"\t", b"\r", b"\n", b">", b"/")  # what may follow an element's name
_MANY = 2000  # hints in one chunk beyond which parsing every cell of it is quicker

# Built-in number formats (ECMA-376 18.8.30) that matter here; custom ones are classified by their code.
_BUILTIN = {9: "percent", 10: "percent", 17: "month"}
_QUOTED = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.')


@dataclass
class SheetFacts:
    """One sheet's cells that need more than their saved value, by A1 reference."""

    rows: int = 0
    formulas: dict[str, str] = field(default_factory=dict)  # cell -> the formula it holds (never evaluated)
    no_value: set[str] = field(default_factory=set)  # formulas with no saved result
    errors: dict[str, str] = field(default_factory=dict)  # error values: '#DIV/0!', '#N/A'...
    formats: dict[str, str] = field(default_factory=dict)  # 'percent', 'month' (shows month and year), 'year'
    merged: list[str] = field(default_factory=list)  # merged ranges, 'A2:A4'
    long_text: dict[str, int] = field(default_factory=dict)  # text beyond MAX_CELL_CHARS: its length
    # A bound on the grid calamine builds from A1 to the last value: rows (10^digits - 1 for the longest row number
    # met), columns (26 while no column has two letters, else the widest met)
    grid_rows: int = 0
    grid_columns: int = 0


def format_kind(code: str) -> str:
    """'percent' for a percent format, 'month' or 'year' for a date format that shows no day, else ''."""
    bare = _QUOTED.sub("", code.split(";")[0]).casefold()
    if "%" in bare:
        return "percent"
    if "y" in bare and "d" not in bare and "h" not in bare and "s" not in bare:
        return "month" if "m" in bare else "year"
    return ""


def _styles(zf: zipfile.ZipFile) -> dict[int, str]:
    """Style index -> 'percent' / 'month' / 'year', for the styles that matter."""
    if "xl/styles.xml" not in zf.namelist():
        return {}
    root = SafeET.fromstring(zf.read("xl/styles.xml"))
    custom = {
        int(n.get("numFmtId", -1)): n.get("formatCode", "")
        for n in root.findall("m:numFmts/m:numFmt", _NS)
        if (n.get("numFmtId") or "").isdigit()
    }
    kinds: dict[int, str] = {}
    for i, xf in enumerate(root.findall("m:cellXfs/m:xf", _NS)):
        fmt = int(xf.get("numFmtId", "0") or 0) if (xf.get("numFmtId") or "0").isdigit() else 0
        kind = format_kind(custom[fmt]) if fmt in custom else _BUILTIN.get(fmt, "")
        if kind:
            kinds[i] = kind
    return kinds


def _long_shared(zf: zipfile.ZipFile) -> set[bytes]:
    """Indexes (as the bytes a cell's <v> holds) of shared strings longer than a cell may hold. calamine cuts
    such text at the limit without a word, so it is found here. Only a large string table is read."""
    part = "xl/sharedStrings.xml"
    if part not in zf.namelist() or zf.getinfo(part).file_size <= MAX_CELL_CHARS:
        return set()
    found = set()
    for i, m in enumerate(_SHARED.finditer(zf.read(part))):
        if len(m.group(1)) > MAX_CELL_CHARS and _text_length(m.group(1)) > MAX_CELL_CHARS:
            found.add(str(i).encode())
    return found


def _text_length(xml: bytes) -> int:
    return sum(len(html.unescape(t.decode("utf-8", "replace"))) for t in _TEXT.findall(xml))


def sheet_parts(zf: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its part in the archive (xl/worksheets/sheet1.xml)."""
    book = SafeET.fromstring(zf.read("xl/workbook.xml"))
    rels = SafeET.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
    targets = {r.get("Id"): r.get("Target") or "" for r in rels.findall("rel:Relationship", _NS)}
    parts = {}
    for s in book.findall("m:sheets/m:sheet", _NS):
        target = targets.get(s.get(f"{{{_NS['r']}}}id"), "")
        parts[s.get("name", "")] = (
            target.lstrip("/") if target.startswith("/") else str(PurePosixPath("xl") / target)
        )
    return parts


def scan(path: Path, sheets: set[str] | None = None, max_rows: int = MAX_SHEET_ROWS) -> dict[str, SheetFacts]:
    """Facts for each sheet (or those named in `sheets`). A sheet with more than `max_rows` rows, or whose values
    lie so far apart that its grid passes MAX_GRID_CELLS, raises UnreadableInput before anything loads it."""
    return dict(scan_sheets(path, sheets, max_rows))


def scan_sheets(
    path: Path, sheets: set[str] | None = None, max_rows: int = MAX_SHEET_ROWS
) -> Iterator[tuple[str, SheetFacts]]:
    """scan's facts sheet by sheet, in the workbook's order, each as soon as its sheet is scanned: a caller can
    load a sheet that passed while the next ones are scanned."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            kinds = _styles(zf)
            styled = (
                re.compile(rb's="(?:' + b"|".join(str(i).encode() for i in kinds) + rb')"') if kinds else None
            )
            long_shared = _long_shared(zf)
            long_ref = (
                re.compile(rb"<(?:\w+:)?v>(" + b"|".join(long_shared) + rb")</") if long_shared else None
            )
            for name, part in sheet_parts(zf).items():
                if part not in names or (sheets is not None and name not in sheets):
                    continue
                facts = SheetFacts()
                with zf.open(part) as fh:
                    for data, final in _row_chunks(fh):
                        rows = facts.rows
                        prefixed = _scan_chunk(data, facts, kinds, styled, long_shared, long_ref, final=final)
                        _bound_grid(
                            data, facts, facts.rows - rows, path, name, prefixed=prefixed, final=final
                        )
                        if facts.rows > max_rows:
                            raise UnreadableInput(
                                f"{path}: sheet '{name}' has more than {max_rows:,} rows, the limit for a sheet; "
                                "delete the empty or unrelated rows below the data (or move them to another "
                                "workbook) and save again."
                            )
                if facts.grid_rows * facts.grid_columns > MAX_GRID_CELLS:  # a loose bound: measure exactly
                    _check_extent(zf, part, path, name)
                yield name, facts
    except (KeyError, zipfile.BadZipFile, SafeET.ParseError) as exc:
        raise UnreadableInput(
            f"{path}: the workbook's XML is damaged ({exc}); save it again as .xlsx."
        ) from None
    except DefusedXmlException as exc:  # refused DTDs or entities: a hostile or broken file
        raise UnreadableInput(
            f"{path}: refused unsafe XML ({type(exc).__name__}); save it again as .xlsx."
        ) from None


def _last_row_end(data: bytes) -> int:
    """Where the last complete row of `data` ends (0 when none does): the chunk is cut there."""
    end = data.rfind(b"</row>")
    cut = end + len(b"</row>") if end >= 0 else 0
    for m in _ROW_END.finditer(data, max(end, 0)):  # self-closing or prefixed rows after it
        cut = m.end()
    return cut


def _scan_chunk(
    data: bytes,
    facts: SheetFacts,
    kinds: dict[int, str],
    styled: re.Pattern | None,
    long_shared: set[bytes],
    long_ref: re.Pattern | None,
    *,
    final: bool,
) -> bool:
    """The facts of one chunk of whole rows; `final` for what follows the last row (merged cells are there).
    True when the chunk has namespace-prefixed elements."""
    if _PREFIXED.search(data):  # <x:row>, <x:c>...: the byte searches below would miss them
        _scan_every_cell(data, facts, kinds, long_shared)
        return True
    # Each search points at a place inside the cell to look at; the cell starts at the last "<c" before it.
    hits = [m.start() for m in _FORMULA_HINT.finditer(data)]
    hits += [m.start() for m in _ERROR_HINT.finditer(data)]
    for pattern in (styled, long_ref):
        if pattern is not None:
            hits += [m.start() for m in pattern.finditer(data)]
    if len(hits) > _MANY:  # counts the rows and merged ranges too
        _scan_every_cell(data, facts, kinds, long_shared)
        return False
    facts.rows += data.count(b"<row")
    if final:  # page breaks follow the rows; no other element of a sheet starts with "row"
        facts.rows -= data.count(b"<rowBreaks")
        facts.merged += [m.decode() for m in _MERGED.findall(data)]
    starts = {_cell_start(data, at) for at in hits}
    for at in sorted(starts - {-1}):
        m = _CELL.match(data, at)
        if m:
            _cell_facts(m, facts, kinds, long_shared)
    return False


def constant_boolean(formula: str | bytes) -> bool | None:
    """The boolean a formula (its text, or a cell's XML body) stands for when it is only TRUE() or FALSE(), as
    LibreOffice saves a typed boolean; None for any other formula."""
    if isinstance(formula, bytes):
        text = _FORMULA_TEXT.search(formula)
        formula = text.group(1).decode() if text else "?"
    m = _CONSTANT_BOOLEAN.fullmatch(formula)
    return None if m is None else m.group(1).upper() == "TRUE"


def _cell_start(data: bytes, at: int) -> int:
    """Where the cell holding position `at` starts: the last "<c" before it that opens a cell (not <color>)."""
    start = data.rfind(b"<c", 0, at + 1)
    while start >= 0 and data[start + 2 : start + 3] not in _AFTER_NAME:
        start = data.rfind(b"<c", 0, start)
    return start


def _scan_every_cell(data: bytes, facts: SheetFacts, kinds: dict[int, str], long_shared: set[bytes]) -> None:
    """The facts of a chunk, cell by cell: the way for chunks with prefixed elements or many hits."""
    facts.rows += len(_ROW.findall(data))
    facts.merged += [m.decode() for m in _MERGED.findall(data)]
    for m in _CELL.finditer(data):
        _cell_facts(m, facts, kinds, long_shared)


def _cell_facts(m: re.Match, facts: SheetFacts, kinds: dict[int, str], long_shared: set[bytes]) -> None:
    attrs = dict(_ATTR.findall(m.group(1)))
    ref = attrs.get(b"r", b"").decode()
    body = m.group(2) or b""
    value = _VALUE.search(body)
    if attrs.get(b"t") == b"e":
        facts.errors[ref] = value.group(1).decode() if value else "#ERROR"
    if _FORMULA.search(body) and not (
        attrs.get(b"t") == b"b" and value and constant_boolean(body) is not None
    ):
        text = _FORMULA_TEXT.search(body)
        facts.formulas[ref] = html.unescape(text.group(1).decode()) if text else ""
        if (value is None or not value.group(1)) and attrs.get(b"t") != b"str":
            facts.no_value.add(ref)
    kind = attrs.get(b"t")
    if kind == b"s" and value is not None and value.group(1) in long_shared:
        facts.long_text[ref] = MAX_CELL_CHARS + 1
    elif kind == b"inlineStr" and _LONG_INLINE.search(body):
        facts.long_text[ref] = _text_length(body)
    style = attrs.get(b"s")
    if style is not None and style.isdigit() and int(style) in kinds:
        facts.formats[ref] = kinds[int(style)]


# ---- the grid calamine builds ------------------------------------------------------------------------------


def _bound_grid(
    data: bytes, facts: SheetFacts, rows: int, path: Path, name: str, *, prefixed: bool, final: bool
) -> None:
    """Widen facts' bound on the grid by this chunk of `rows` rows (see the module's docstring); `prefixed` when
    its elements have namespace prefixes, `final` for what follows the last row."""
    # Within sheetData, when every row and cell has r= (what Excel, LibreOffice and openpyxl write), the counts
    # agree. Otherwise (cells placed by counting, namespace prefixes, rich text with <color>): the exact extent.
    lo = max(data.find(b"<sheetData"), 0) if not facts.grid_rows else 0  # the first chunk holds <cols>
    hi = data.find(b"</sheetData>") if final else -1  # the last holds what follows the rows
    hi = len(data) if hi < 0 else hi
    if prefixed or data.count(b"<c", lo, hi) + rows != data.count(b' r="', lo, hi):
        _, last, width, _, right = _extent(data, facts.grid_rows)
        facts.grid_rows, facts.grid_columns = max(facts.grid_rows, last), max(facts.grid_columns, width)
        if width > MAX_SHEET_COLUMNS:
            _too_wide(path, name, right)
        return
    digits, at = len(str(facts.grid_rows)) if facts.grid_rows else 1, 0
    while m := _longer(digits).search(data, at):  # finds only a row number longer than any met before
        digits, at = len(m.group(1)), m.end()
    facts.grid_rows = max(facts.grid_rows, 10**digits - 1)
    width, hint = max(facts.grid_columns, 26), _WIDE_HINT.search(data)
    if hint:
        wide = _WIDE.search(data, max(data.rfind(b"<", 0, hint.start()), 0))  # from the hinted cell's start
        if wide:
            _too_wide(path, name, wide.group(1).decode())
        at = hint.start()
        while width < MAX_SHEET_COLUMNS and (m := _wider(width).search(data, at)):
            width, at = _column(m.group(1)), m.end()
    facts.grid_columns = width


def _too_wide(path: Path, name: str, ref: str) -> NoReturn:
    """calamine would build a dense grid out to that column: gigabytes for one cell."""
    raise UnreadableInput(
        f"{path}: sheet '{name}' has a value at {ref}, beyond column ZZ ({MAX_SHEET_COLUMNS} columns), the limit "
        "for a sheet; delete it (or move it next to the table) and save again."
    )


@functools.lru_cache
def _longer(digits: int) -> re.Pattern:
    return re.compile(rb'r="[A-Z]{0,3}(\d{%d,})' % (digits + 1))


@functools.lru_cache
def _wider(width: int) -> re.Pattern:
    """A reference in a column of two letters beyond column number `width` (26 to 701)."""
    first, second = divmod(width - 1, 26)  # the column's letters: first is 1..26 (A..Z), second 0..25
    letters = [chr(64 + first) + f"[{chr(66 + second)}-Z]" if second < 25 else ""]
    letters.append(f"[{chr(65 + first)}-Z][A-Z]" if first < 26 else "")
    return re.compile(rb'r="(' + "|".join(x for x in letters if x).encode() + rb")\d")


def _column(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def _extent(data: bytes, row: int) -> tuple[int, int, int, str, str]:
    """The grid calamine builds for these whole rows, counting only cells with a value and placing rows and cells
    without r= after the previous one as calamine does; `row` is the number of the row before the chunk. Gives
    (the number of the chunk's last row, the last row with a value, the last column with a value, the reference
    of the lowest value, the reference of the rightmost value)."""
    rows = columns = 0
    bottom = right = ""
    for r in _ROW_ELEMENT.finditer(data):
        ref = _REF.search(r.group(1))
        row = int(ref.group(2)) if ref and ref.group(2) else row + 1
        column = 0
        for c in _CELL.finditer(r.group(2) or b""):
            ref = _REF.search(c.group(1))
            at = row
            if ref and ref.group(1):
                column, at = _column(ref.group(1)), int(ref.group(2)) if ref.group(2) else row
            else:
                column += 1
            if _HAS_VALUE.search(c.group(2) or b""):
                if at > rows:
                    rows, bottom = at, f"{_letters(column)}{at}"
                if column > columns:
                    columns, right = column, f"{_letters(column)}{at}"
    return row, rows, columns, bottom, right


def _letters(column: int) -> str:
    name = ""
    while column:
        column, rest = divmod(column - 1, 26)
        name = chr(65 + rest) + name
    return name


def _row_chunks(fh) -> Iterator[tuple[bytes, bool]]:
    """The sheet XML in pieces of about _CHUNK bytes that end where a row ends, each with whether it is the last."""
    tail = b""
    while True:
        chunk = fh.read(_CHUNK)
        data = tail + chunk
        if chunk:
            cut = _last_row_end(data)
            data, tail = data[:cut], data[cut:]
        yield data, not chunk
        if not chunk:
            return


def _check_extent(zf: zipfile.ZipFile, part: str, path: Path, name: str) -> None:
    """Read the sheet again for the exact extent of its values; refuse a grid beyond MAX_GRID_CELLS."""
    rows = columns = row = 0
    bottom = right = ""
    with zf.open(part) as fh:
        for data, _ in _row_chunks(fh):
            row, last, width, low, far = _extent(data, row)
            if last > rows:
                rows, bottom = last, low
            if width > columns:
                columns, right = width, far
    if rows * columns > MAX_GRID_CELLS:
        where = " and ".join(dict.fromkeys((right, bottom)))
        raise UnreadableInput(
            f"{path}: sheet '{name}' has values as far apart as A1 and {_letters(columns)}{rows} (the value at "
            f"{where}): loaded, that is a grid of {rows:,} rows x {columns:,} columns = {rows * columns:,} cells, "
            f"beyond the {MAX_GRID_CELLS:,} a sheet may span; delete the values far below or to the right of the "
            "table (or move them next to it) and save again."
        )
