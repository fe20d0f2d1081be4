"""The exports' fast writers give the same files as the writers they replaced (tests/export_oracle.py): the
streamed sheets' data rows and the discrepancy workbook's rows written as XML (sheets.SheetRows) equal what
openpyxl's cells gave, byte for byte. Nothing is timed here."""

from __future__ import annotations

import dataclasses
import math
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook
from openpyxl.worksheet import _writer as openpyxl_writer

sys.path.insert(0, str(Path(__file__).resolve().parent))

from export_oracle import old_stream_frame, old_write_discrepancies  # noqa: E402
from workbook_diff import workbook_differences  # noqa: E402

from review.adjudication import write_discrepancies  # noqa: E402
from review.errors import ReviewError  # noqa: E402
from review.files import MAX_CELL_CHARS  # noqa: E402
from review.sheets import discard_on_error, put, save_workbook, stream_frame  # noqa: E402

# text a spreadsheet would run, markup, spaces openpyxl keeps, long text that wraps, lines, non-ASCII
_TEXT = st.one_of(
    st.sampled_from(
        ["", " ", "=1+2", "-3", "+x", "@SUM(A1)", "\tx", "'=x", "a & b < c > d", " padded ", "NR"]
    ),
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cs",), blacklist_characters="".join(map(chr, range(32)))
        ),
        max_size=20,
    ),
    st.text(alphabet="ab =\n-é", min_size=40, max_size=160),
)
_NUMBER = st.one_of(
    st.integers(-(10**18), 10**18),
    st.floats(allow_nan=True, allow_infinity=False, width=64),
    st.sampled_from([0.1 + 0.2, -0.0, 0.0, 1e-300, 12.5]),
)
_VALUE = st.one_of(st.none(), st.booleans(), _TEXT, _NUMBER)


def _frame(data, rows: int) -> pd.DataFrame:
    columns = {
        "study_id": data.draw(st.lists(_TEXT, min_size=rows, max_size=rows)),
        "count": data.draw(
            st.lists(st.one_of(st.none(), st.integers(0, 10**6)), min_size=rows, max_size=rows)
        ),
        "percent": data.draw(st.lists(st.one_of(st.none(), _NUMBER), min_size=rows, max_size=rows)),
        "pval": data.draw(st.lists(st.floats(0, 1), min_size=rows, max_size=rows)),
        "mixed": data.draw(st.lists(_VALUE, min_size=rows, max_size=rows)),
        "note": data.draw(st.lists(st.one_of(st.none(), _TEXT), min_size=rows, max_size=rows)),
    }
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in columns.items()})
    frame["pval"] = frame["pval"].astype(float)  # a float column: numpy values, NaN for missing
    frame["count"] = frame["count"].astype("Int64")  # pd.NA for missing
    return frame


def _write(writer, frames: list[pd.DataFrame], path: Path) -> Path:
    wb = Workbook(write_only=True)
    with discard_on_error(wb):
        for i, frame in enumerate(frames):
            writer(
                wb.create_sheet(f"Sheet {i}"),
                frame,
                percent=("percent",),
                formats={"pval": "0.0000", "mixed": "0.00"},
                table_name=f"table {i}",
                max_width=50,
                title="form x version 1",
                key_columns=1,
                subtitle="A review & more",
            )
        return save_workbook(wb, path)


def _same_files(a: Path, b: Path) -> None:
    za, zb = zipfile.ZipFile(a), zipfile.ZipFile(b)
    assert za.namelist() == zb.namelist()
    for name in za.namelist():
        if name != "docProps/core.xml":  # the time each was made
            assert za.read(name) == zb.read(name), name


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_streamed_rows_equal_openpyxl_cells_byte_for_byte(tmp_path, data):
    frames = [_frame(data, data.draw(st.integers(0, 30))) for _ in range(2)]
    new = _write(stream_frame, frames, tmp_path / "new.xlsx")
    old = _write(old_stream_frame, frames, tmp_path / "old.xlsx")
    _same_files(new, old)


def test_streamed_rows_read_back_with_types_styles_and_heights(tmp_path):
    frame = pd.DataFrame(
        {
            "study": ["S1", "=HYPERLINK(x)", " lead", "a" * 120],
            "n": [10, None, 3, 4],
            "percent": [12.5, 50, None, 0.0],
            "flag": [True, False, None, "x & y"],
            "pval": [0.01234, math.nan, 1.0, 2e-10],
        }
    )
    frame["n"] = frame["n"].astype("Int64")
    new = _write(stream_frame, [frame], tmp_path / "new.xlsx")
    old = _write(old_stream_frame, [frame], tmp_path / "old.xlsx")
    assert workbook_differences(new, old) == []
    ws = load_workbook(new)["Sheet 0"]
    assert [c.value for c in ws[2]] == ["S1", 10, 0.125, True, 0.01234]
    assert ws["A3"].value == "=HYPERLINK(x)" and ws["A3"].data_type == "s" and ws["A3"].quotePrefix
    assert ws["B3"].value is None and ws["E3"].value is None  # missing: an empty cell
    assert (
        ws["A4"].value == " lead" and ws["C2"].number_format == "0.0%" and ws["E2"].number_format == "0.0000"
    )
    assert ws["A5"].alignment.wrap_text and ws.row_dimensions[5].height > 15
    assert ws["D5"].value == "x & y" and ws.tables["t_table0"].ref == "A1:E5"


def test_a_sheet_without_rows_or_columns(tmp_path):
    frames = [pd.DataFrame({"a": [], "b": []}), pd.DataFrame(index=range(3))]
    _same_files(
        _write(stream_frame, frames, tmp_path / "new.xlsx"),
        _write(old_stream_frame, frames, tmp_path / "old.xlsx"),
    )


def test_every_row_of_a_long_sheet(tmp_path):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {"study_id": [f"S{i % 997}" for i in range(45_000)], "percent": rng.normal(size=45_000).round(3)}
    )
    new = _write(stream_frame, [frame], tmp_path / "new.xlsx")
    _same_files(new, _write(old_stream_frame, [frame], tmp_path / "old.xlsx"))
    assert pd.read_excel(new, engine="calamine").shape == (45_000, 2)


# the refused workbook is left unsaved: openpyxl's row writer complains when it is collected, harmlessly
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize(
    ("text", "says"),
    [("x" * (MAX_CELL_CHARS + 1), "characters of text is more than")],
)
def test_text_a_cell_cannot_hold_is_refused_naming_the_cell(tmp_path, text, says):
    frame = pd.DataFrame({"a": ["ok", "ok"], "b": [1, text]})
    streams = len(openpyxl_writer.ALL_TEMP_FILES)
    with pytest.raises(ReviewError, match=rf"sheet 'Sheet 0', cell B3: .*{says}"):
        _write(stream_frame, [frame], tmp_path / "new.xlsx")
    assert not (tmp_path / "new.xlsx").exists()
    # the refused sheet's stream is closed and its temporary file gone, not left until Python exits
    left = openpyxl_writer.ALL_TEMP_FILES[streams:]
    assert left and not any(Path(f).exists() for f in left)


# --- the discrepancy workbook -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def synthetic_comparison(tmp_path_factory):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from make_review import make_review

    from review import project
    from review.compare import compare
    from review.workbook import read_extraction

    folder = tmp_path_factory.mktemp("synthetic") / "review"
    make_review(folder, 4, seed=3)
    review = project.load_review(folder)
    return compare([read_extraction(p, review.form) for p in review.reviewers])


def test_discrepancy_workbook_equals_the_cell_by_cell_writer(synthetic_comparison, tmp_path):
    assert len(synthetic_comparison.disagreements) > 20
    _same_files(
        write_discrepancies(synthetic_comparison, tmp_path / "new.xlsx"),
        old_write_discrepancies(synthetic_comparison, tmp_path / "old.xlsx"),
    )


class _Edited:
    """A comparison whose disagreements and details are replaced (text a spreadsheet would run, markup, empty
    values, long and multi-line text), everything else as it is."""

    def __init__(self, comparison, units, details) -> None:
        self._comparison, self.disagreements = comparison, units
        self.discrepancies = pd.DataFrame({"detail": details})

    def __getattr__(self, name):
        return getattr(self._comparison, name)


def test_discrepancy_workbook_equals_the_cell_by_cell_writer_on_hostile_text(synthetic_comparison, tmp_path):
    texts = ['=HYPERLINK("x")', "-1", "+a", "@x", " lead", "a & <b>", "", "x\ny", "long " * 30, "'=q", 7]
    units = []
    for i, u in enumerate(synthetic_comparison.disagreements[:40]):
        entries = tuple(
            dataclasses.replace(
                e, value=texts[(i + j) % len(texts)], location=texts[(i + 2 * j) % len(texts)]
            )
            for j, e in enumerate(u.entries)
        )
        units.append(dataclasses.replace(u, entries=entries, field=str(texts[i % len(texts)]) or u.field))
    edited = _Edited(synthetic_comparison, units, [texts[i % len(texts)] for i in range(len(units))])
    new = write_discrepancies(edited, tmp_path / "new.xlsx")
    _same_files(new, old_write_discrepancies(edited, tmp_path / "old.xlsx"))
    ws = load_workbook(new)["Discrepancies"]
    assert ws["D2"].value == '=HYPERLINK("x")' and ws["D2"].quotePrefix and ws["D2"].data_type == "s"


def test_discrepancy_workbook_without_disagreements(synthetic_comparison, tmp_path):
    edited = _Edited(synthetic_comparison, [], [])
    _same_files(
        write_discrepancies(edited, tmp_path / "new.xlsx"),
        old_write_discrepancies(edited, tmp_path / "old.xlsx"),
    )


def test_discrepancy_workbook_with_carried_and_stale_decisions(synthetic_comparison, tmp_path):
    from review.adjudication import SHEET, read_decisions

    first = write_discrepancies(synthetic_comparison, tmp_path / "d.xlsx")
    wb = load_workbook(first)
    ws = wb[SHEET]
    headers = {c.value: c.column for c in ws[1]}
    for row in range(2, 12):  # ten decided: B's value, by Cleo, with a reason that would run as a formula
        for header, value in (
            ("Decision", "B"),
            ("Adjudicator", "Cleo"),
            ("Date", "2024-05-02"),
            ("Reason", "-checked"),
        ):
            ws.cell(row, headers[header]).value = value
    wb.save(first)
    previous = read_decisions(first)
    # the first three disagreements' values changed since: their decisions are stale
    units = list(synthetic_comparison.disagreements)
    for i in range(3):
        entries = tuple(dataclasses.replace(e, value=f"changed {i}") for e in units[i].entries)
        units[i] = dataclasses.replace(units[i], entries=entries)
    edited = _Edited(synthetic_comparison, units, synthetic_comparison.discrepancies["detail"].tolist())
    new = write_discrepancies(edited, tmp_path / "new.xlsx", previous=previous)
    _same_files(new, old_write_discrepancies(edited, tmp_path / "old.xlsx", previous=previous))
    ws = load_workbook(new)[SHEET]
    status = [ws.cell(r, headers["Status"]).value or "" for r in range(2, 13)]
    assert [s[:5] for s in status[:3]] == ["STALE"] * 3 and status[3].startswith("carried over from d.xlsx")
    assert ws.cell(2, headers["Status"]).fill.fgColor.rgb.endswith("FFC7CE")
    assert ws.cell(5, headers["Reason"]).value == "-checked" and ws.cell(5, headers["Reason"]).quotePrefix


# --- the RevMan files -------------------------------------------------------------------------------------------


def _pooled_review(folder: Path):
    from review import project
    from review.analyses import pool_analyses
    from review.compare import compare
    from review.reconcile import read_decisions, reconcile
    from review.tables import analysis_tables
    from review.workbook import read_extraction

    review = project.load_review(folder)
    extractions = [read_extraction(p, review.form) for p in review.reviewers]
    consensus = reconcile(extractions, read_decisions(review.adjudication), comparison=compare(extractions))
    tables = analysis_tables(consensus.tables, review.form, settings=review.settings)
    return review, consensus, tables, pool_analyses(review, tables)


@pytest.mark.parametrize("studies", [0, 5])  # 0: the worked example (derived responses, a hazard ratio)
def test_revman_files_equal_the_former_exports(studies, tmp_path):
    import revman_oracle

    from review.revman import revman_exports

    if studies:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
        from make_review import make_review

        folder = tmp_path / "review"
        make_review(folder, studies, seed=5)
    else:
        folder = Path(__file__).resolve().parents[1] / "data" / "gist_imatinib"  # read only
    review, consensus, tables, results = _pooled_review(folder)
    new = revman_exports(review, results.datasets, tables, consensus, tmp_path / "new")
    old = revman_oracle.revman_exports(review, results.datasets, tables, consensus, tmp_path / "old")
    assert [p.name for p in new] == [p.name for p in old]
    for a, b in zip(new, old, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    assert len(new[1].read_text(encoding="utf-8-sig").splitlines()) > 5  # results were written


# A control character (a form feed pasted from a PDF) cannot be XML: it is stored as OOXML's _xHHHH_ escape, and a
# literal "_x0041_" as "_x005F_x0041_", so the text reads back as typed (no refusal, no loss).
CONTROL_TEXTS = ["a\x01b", "page\x0cbreak", "tab\tand\x0bvt", "_x0041_ literal", "_x005F_", "x\x1f_x00"]


def test_control_characters_and_escapes_read_back_as_typed(tmp_path):
    frame = pd.DataFrame({"text": CONTROL_TEXTS})
    streamed = _write(stream_frame, [frame], tmp_path / "streamed.xlsx")
    assert pd.read_excel(streamed, engine="calamine")["text"].tolist() == CONTROL_TEXTS
    with zipfile.ZipFile(streamed) as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert "page_x000C_break" in xml and "_x005F_x0041_ literal" in xml
    wb = Workbook()
    for row, text in enumerate(CONTROL_TEXTS, start=1):
        put(wb.active, row, 1, text)
    wb.save(tmp_path / "put.xlsx")
    # (Excel, LibreOffice and calamine decode the escapes; openpyxl's reader shows them as written)
    assert pd.read_excel(tmp_path / "put.xlsx", engine="calamine", header=None)[0].tolist() == CONTROL_TEXTS
