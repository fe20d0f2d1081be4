"""The one writer (review/sheets.py): text never runs, numbers stay numbers, the CSV dialect reads back."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook

from review.csvs import csv_bytes, write_csv
from review.sheets import neutral, put, runs, save_workbook, unneutral

RISKY = ["=1+2", "+cmd", "-2+3", "@SUM(A1)", "\tx", "\rx", '=HYPERLINK("http://x")', "-", "'=1"]
HARMLESS = ["-1.5", "+3", "1e5", "text", "", "'quoted", "a=b"]


@pytest.mark.parametrize("text", RISKY + HARMLESS)
def test_neutral_round_trips(text):
    assert unneutral(neutral(text)) == text
    assert not runs(neutral(text))


@pytest.mark.parametrize("text", RISKY[:-1])
def test_text_that_would_run_gets_an_apostrophe(text):
    assert neutral(text) == "'" + text


@pytest.mark.parametrize("text", HARMLESS)
def test_plain_numbers_and_text_are_left_alone(text):
    assert neutral(text) == text


def test_csv_neutralises_text_and_keeps_numbers(tmp_path):
    frame = pd.DataFrame(
        {
            "name": ["=1+2", "-5", "ok", None],
            "x": [-1.5, 0.1, 1e300, float("nan")],
            "flag": [True, False, True, False],
        }
    )
    path = write_csv(frame, tmp_path / "out.csv")
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert rows[0] == ["name", "x", "flag"]
    assert rows[1] == ["'=1+2", "-1.5", "TRUE"]
    assert rows[2] == ["-5", "0.1", "FALSE"]
    assert rows[3][1] == "1e+300"
    assert rows[4][:2] == ["", ""]
    assert not path.read_bytes().startswith(b"\xef\xbb\xbf")  # no byte-order mark
    assert b"\r\n" not in path.read_bytes()
    back = pd.read_csv(path)
    assert back["x"].iloc[0] == -1.5 and back["name"].iloc[2] == "ok"


def test_header_cells_are_neutralised_too():
    assert csv_bytes(pd.DataFrame({"=x": [1]})).splitlines()[0] == b"'=x"


def test_workbook_text_keeps_its_value_and_never_runs(tmp_path):
    wb = Workbook()
    ws = wb.active
    for r, text in enumerate(RISKY, start=1):
        put(ws, r, 1, text)
    put(ws, 1, 2, -1.5)
    save_workbook(wb, tmp_path / "t.xlsx")
    back = load_workbook(tmp_path / "t.xlsx").active
    for r, text in enumerate(RISKY, start=1):
        cell = back.cell(row=r, column=1)
        assert cell.data_type == "s"
        assert cell.value == text.replace("\r", "\n") or cell.value == text
        if runs(text):
            assert cell.quotePrefix, text
    assert back["B1"].value == -1.5 and back["B1"].data_type == "n"


def test_headers_of_numbers_are_right_aligned_over_them(tmp_path, form):
    """A header stands over its column's values: right over numbers (as spreadsheets align them), left over
    text, the same in the in-memory and the streamed writer, and in a reviewer's workbook."""
    from review.sheets import stream_frame, write_frame
    from review.workbook import make_workbook

    frame = pd.DataFrame(
        {
            "study": ["a", "b"],
            "n": pd.array([10, None], dtype="Int64"),
            "estimate": [0.5, 1.5],
            "percent": [10.0, 20.0],
            "shown": ["1.0", "NR"],
            "flag": [True, False],
        }
    )
    wb = Workbook()
    write_frame(wb.active, frame, percent=["percent"], formats={"shown": "0.0"})
    streamed = Workbook(write_only=True)
    stream_frame(streamed.create_sheet("s"), frame, percent=["percent"], formats={"shown": "0.0"})
    save_workbook(wb, tmp_path / "memory.xlsx")
    save_workbook(streamed, tmp_path / "streamed.xlsx")
    for name in ("memory", "streamed"):
        ws = load_workbook(tmp_path / f"{name}.xlsx").worksheets[0]
        aligned = {c.value: c.alignment.horizontal for c in ws[1]}
        assert aligned == {
            "study": None,
            "n": "right",
            "estimate": "right",
            "percent": "right",
            "shown": "right",
            "flag": None,
        }, name
    arms = load_workbook(make_workbook(form, tmp_path / "w.xlsx"))["Arms"]
    aligned = {c.value: c.alignment.horizontal for c in arms[1]}
    assert (
        aligned["Randomised (n)"] == "right" and aligned["Dose"] == "right" and aligned["Arm label"] is None
    )
