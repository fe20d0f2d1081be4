"""The exports' fast writers give the same files as the writers they replaced (tests/export_oracle.py): the
streamed sheets' data rows written as XML (sheets.SheetRows) equal openpyxl's write-only cells byte for byte.
Nothing is timed here."""

from __future__ import annotations

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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from export_oracle import old_stream_frame  # noqa: E402
from workbook_diff import workbook_differences  # noqa: E402

from review.errors import ReviewError  # noqa: E402
from review.files import MAX_CELL_CHARS  # noqa: E402
from review.sheets import save_workbook, stream_frame  # noqa: E402

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


@pytest.mark.parametrize(
    ("text", "says"),
    [("x" * (MAX_CELL_CHARS + 1), "characters of text is more than"), ("a\x01b", "control character")],
)
def test_text_a_cell_cannot_hold_is_refused_naming_the_cell(tmp_path, text, says):
    frame = pd.DataFrame({"a": ["ok", "ok"], "b": [1, text]})
    with pytest.raises(ReviewError, match=rf"sheet 'Sheet 0', cell B3: .*{says}"):
        _write(stream_frame, [frame], tmp_path / "new.xlsx")
    assert not (tmp_path / "new.xlsx").exists()
