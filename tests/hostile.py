"""A generator of messy and hostile inputs: each recipe builds its files in a fresh folder (in code, no binary
blobs) and says what the CLI must answer: the exit code and facts its message must name (file, sheet, cell,
issue code). tests/test_hostile.py runs every recipe with a time limit and checks that no input changed.

Classes (issue 11): overwrite (outputs that would replace the user's work), traceback (input that once crashed
a command), hang (input that once never finished), loss (values that were dropped in silence), format (cells
stored differently from what they show), version (a workbook from another form version), corrupt (files that
are not what they claim).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
import pandas as pd
from conftest import FORM_PATH, complete_study, edited, write

from review.forms import load_form


@dataclass
class Case:
    name: str
    kind: str
    build: Callable[[Path], list[str]]  # makes the files in the folder; returns the CLI arguments
    exit_code: int
    facts: list[str] = field(default_factory=list)  # each must appear in the command's output


def _form():
    return load_form(FORM_PATH)


def _workbook(folder: Path, name: str = "a.xlsx", data=None, reviewer: str = "A") -> Path:
    return write(_form(), folder / name, data=data, reviewer=reviewer)


def _edit(path: Path, edit: Callable[[openpyxl.Workbook], None]) -> Path:
    wb = openpyxl.load_workbook(path)
    edit(wb)
    wb.save(path)
    return path


def _rewrite(path: Path, part: str, change: Callable[[bytes], bytes]) -> Path:
    """Change one part of an .xlsx archive (for what openpyxl would not write)."""
    with zipfile.ZipFile(path) as zf:
        parts = {i.filename: zf.read(i.filename) for i in zf.infolist()}
    new = change(parts[part])
    assert new != parts[part], f"recipe changed nothing in {part}"
    parts[part] = new
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


# --- overwrite ------------------------------------------------------------------------------------------------


def workbook_over_filled(folder: Path) -> list[str]:
    filled = _workbook(folder, "filled.xlsx")
    return ["workbook", str(FORM_PATH), "-o", str(filled)]


def compare_over_adjudication(folder: Path) -> list[str]:
    a, b = _workbook(folder, "a.xlsx"), _workbook(folder, "b.xlsx", reviewer="B")
    adjudicated = _workbook(folder, "adjudication.xlsx")  # any existing file stands for the adjudicated one
    return ["compare", str(a), str(b), "-o", str(adjudicated)]


def report_over_input(folder: Path) -> list[str]:
    a = _workbook(folder)
    return ["validate", str(a), "--report", str(folder / "a.xlsx")]


def report_into_csv_folder(folder: Path) -> list[str]:
    csvs = folder / "extraction"
    csvs.mkdir()
    for name, frame in complete_study().items():
        frame.to_csv(csvs / f"{name}.csv", index=False)
    for t in _form().tables:
        if not (csvs / f"{t}.csv").exists():
            pd.DataFrame(columns=list(_form().table(t).fields)).to_csv(csvs / f"{t}.csv", index=False)
    return ["validate", str(csvs), "--report", str(csvs / "issues.csv")]


def annotate_onto_other_input(folder: Path) -> list[str]:
    a = _workbook(folder, "a.xlsx")
    other = _workbook(folder, "a.checked.xlsx", reviewer="B")
    return ["validate", str(a), str(other), "--annotate", str(folder)]


def symlinked_report_to_input(folder: Path) -> list[str]:
    a = _workbook(folder)
    (folder / "report.xlsx").symlink_to(a)
    return ["validate", str(a), "--report", str(folder / "report.xlsx"), "--force"]


def symlinked_workbook_to_form(folder: Path) -> list[str]:
    form = folder / "form.yaml"
    form.write_bytes(FORM_PATH.read_bytes())
    (folder / "out.xlsx").symlink_to(form)
    return ["workbook", str(form), "-o", str(folder / "out.xlsx"), "--force"]


def meta_over_input(folder: Path) -> list[str]:
    data = folder / "data.csv"
    data.write_text("events_e,n_e,events_c,n_c\n4,10,2,10\n5,12,3,11\n", encoding="utf-8")
    return ["meta", str(data), "--measure", "OR", "-o", str(data), "--force"]


def run_output_holds_reviewers(folder: Path) -> list[str]:
    _workbook(folder, "reviewer_a.xlsx")
    _workbook(folder, "reviewer_b.xlsx", reviewer="B")
    (folder / "review.toml").write_text(
        'title = "t"\nreviewers = ["reviewer_a.xlsx", "reviewer_b.xlsx"]\noutput = "."\n', encoding="utf-8"
    )
    return ["run", str(folder)]


def reconcile_into_input_folder(folder: Path) -> list[str]:
    a, b = _workbook(folder, "a.xlsx"), _workbook(folder, "b.xlsx", reviewer="B")
    return ["reconcile", str(a), str(b), str(a), "-o", str(folder)]


# --- traceback ------------------------------------------------------------------------------------------------


def huge_count_as_number(folder: Path) -> list[str]:
    return ["validate", str(_workbook(folder, data=edited("arms", 0, randomised=1e20)))]


def huge_count_as_text(folder: Path) -> list[str]:
    return [
        "validate",
        str(_workbook(folder, data=edited("arms", 0, randomised="123456789012345678901234567890"))),
    ]


def device_as_workbook(folder: Path) -> list[str]:
    return ["validate", "/dev/zero"]


def fifo_as_workbook(folder: Path) -> list[str]:
    return ["validate", str(_fifo(folder / "pipe.xlsx"))]


def toml_not_utf8(folder: Path) -> list[str]:
    (folder / "review.toml").write_bytes('title = "Caf\u00e9"\n'.encode("latin-1"))
    return ["run", str(folder)]


def toml_nested(folder: Path) -> list[str]:
    (folder / "review.toml").write_text("title = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    return ["run", str(folder)]


def form_not_utf8(folder: Path) -> list[str]:
    text = FORM_PATH.read_text(encoding="utf-8").replace("title:", "# caf\u00e9\ntitle:", 1)
    (folder / "form.yaml").write_bytes(text.encode("latin-1", errors="replace"))
    return ["workbook", str(folder / "form.yaml"), "-o", str(folder / "w.xlsx")]


def form_nested(folder: Path) -> list[str]:
    (folder / "form.yaml").write_text("name: x\ntables: " + "[" * 3000 + "]" * 3000 + "\n", encoding="utf-8")
    return ["workbook", str(folder / "form.yaml"), "-o", str(folder / "w.xlsx")]


# --- hang -----------------------------------------------------------------------------------------------------


def million_rows(folder: Path) -> list[str]:
    """The Arms sheet of a workbook given a header and 1,100,000 rows (more than Excel holds), written as XML."""
    rows = b"".join(
        b'<row r="%d"><c r="A%d" t="inlineStr"><is><t>T%d</t></is></c></row>' % (r, r, r % 97)
        for r in range(2, 1_100_002)
    )

    def grow(xml: bytes) -> bytes:
        head, data = xml.split(b"<sheetData>")
        header = data.split(b"</row>")[0] + b"</row>"
        return head + b"<sheetData>" + header + rows + b"</sheetData></worksheet>"

    return ["validate", str(_rewrite(_workbook(folder), "xl/worksheets/sheet4.xml", grow))]


def value_in_the_last_column(folder: Path) -> list[str]:
    """One stray value at XFD5000: loaded as a dense grid it took 20 s and 3.4 GB."""
    return [
        "validate",
        str(_edit(_workbook(folder), lambda wb: wb["Adverse events"].__setitem__("XFD5000", "x"))),
    ]


def values_far_apart(folder: Path) -> list[str]:
    """Two values far apart (A1 and ZZ499999) pass the row and column limits, but loaded as a dense grid they are
    350 million cells: refused before the sheet loads."""
    return [
        "validate",
        str(_edit(_workbook(folder), lambda wb: wb["Adverse events"].__setitem__("ZZ499999", 1))),
    ]


def fifo_as_form(folder: Path) -> list[str]:
    return ["workbook", str(_fifo(folder / "form.yaml")), "-o", str(folder / "w.xlsx")]


def billion_laughs(folder: Path) -> list[str]:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    (folder / "form.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return ["workbook", str(folder / "form.yaml"), "-o", str(folder / "w.xlsx")]


def fifo_as_review_toml(folder: Path) -> list[str]:
    _fifo(folder / "review.toml")
    return ["run", str(folder)]


def fifo_as_csv_table(folder: Path) -> list[str]:
    args = report_into_csv_folder(folder)
    (folder / "extraction" / "arms.csv").unlink()
    _fifo(folder / "extraction" / "arms.csv")
    return args[:2]


def fifo_as_meta_input(folder: Path) -> list[str]:
    return ["meta", str(_fifo(folder / "data.csv")), "--measure", "OR"]


# --- loss -----------------------------------------------------------------------------------------------------


def text_beyond_cell_limit(folder: Path) -> list[str]:
    """openpyxl cuts text at 32,767 characters itself, so the cell is written into the XML directly."""
    path = _workbook(folder)
    citation = complete_study()["studies"].at[0, "citation"].encode()
    _rewrite(path, "xl/worksheets/sheet3.xml", lambda xml: xml.replace(citation, b"x" * 40_000))
    return ["validate", str(path)]


def column_twice(folder: Path) -> list[str]:
    def twice(wb):
        ws = wb["Arms"]
        ws.cell(row=1, column=ws.max_column + 1, value="Randomised (n)")
        ws.cell(row=2, column=ws.max_column, value=7)

    return ["validate", str(_edit(_workbook(folder), twice))]


def merged_cells(folder: Path) -> list[str]:
    return ["validate", str(_edit(_workbook(folder), lambda wb: wb["Arms"].merge_cells("A2:A3")))]


def error_value(folder: Path) -> list[str]:
    def div0(wb):
        cell = wb["Arms"]["H2"]
        cell.value, cell.data_type = "#DIV/0!", "e"

    return ["validate", str(_edit(_workbook(folder), div0))]


def formula_without_value(folder: Path) -> list[str]:
    def formula(wb):
        wb["Arms"]["H2"] = "=50+50"

    return ["validate", str(_edit(_workbook(folder), formula))]


def value_without_header(folder: Path) -> list[str]:
    return ["validate", str(_edit(_workbook(folder), lambda wb: wb["Arms"].__setitem__("AB3", "lost?")))]


def meta_duplicate_columns(folder: Path) -> list[str]:
    data = folder / "data.csv"
    data.write_text("events_e,n_e,events_c,n_c,n_e\n4,10,2,10,11\n5,12,3,11,12\n", encoding="utf-8")
    return ["meta", str(data), "--measure", "OR"]


# --- version ----------------------------------------------------------------------------------------------------


def other_form_version(folder: Path) -> list[str]:
    """A workbook made from v1 of a form, read with v2 that renamed one field's label and added another."""
    old = FORM_PATH.read_text(encoding="utf-8")
    version = load_form(FORM_PATH).version
    new = (
        old.replace(f"version: {version}", "version: 9.9.9", 1)
        .replace("label: Randomised, unit: n", "label: Randomised participants, unit: n", 1)
        .replace("      treated:", "      cycles: {type: integer, label: Cycles, min: 0}\n      treated:", 1)
    )
    assert new.count("9.9.9") == 1 and "Randomised participants" in new and "Cycles" in new
    (folder / "v2.yaml").write_text(new, encoding="utf-8")
    return ["validate", str(_workbook(folder)), "--form", str(folder / "v2.yaml")]


# --- corrupt ----------------------------------------------------------------------------------------------------


def empty_file(folder: Path) -> list[str]:
    (folder / "empty.xlsx").write_bytes(b"")
    return ["validate", str(folder / "empty.xlsx")]


def truncated_zip(folder: Path) -> list[str]:
    path = _workbook(folder)
    path.write_bytes(path.read_bytes()[:3000])
    return ["validate", str(path)]


def old_xls(folder: Path) -> list[str]:
    (folder / "old.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504)
    return ["validate", str(folder / "old.xlsx")]


def zip_bomb(folder: Path) -> list[str]:
    with zipfile.ZipFile(folder / "bomb.xlsx", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/workbook.xml", b"<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", b" " * 300_000_000)
    return ["validate", str(folder / "bomb.xlsx")]


def entity_expansion(folder: Path) -> list[str]:
    dtd = b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]>'
    path = _rewrite(_workbook(folder), "xl/workbook.xml", lambda xml: dtd + xml.split(b"?>", 1)[-1])
    return ["validate", str(path)]


CASES = [
    Case("workbook over a filled workbook", "overwrite", workbook_over_filled, 2, ["filled.xlsx", "--force"]),
    Case(
        "compare over an adjudication",
        "overwrite",
        compare_over_adjudication,
        2,
        ["adjudication.xlsx", "--force"],
    ),
    Case("report over an input", "overwrite", report_over_input, 2, ["a.xlsx", "is the input"]),
    Case(
        "report into a CSV folder",
        "overwrite",
        report_into_csv_folder,
        2,
        ["issues.csv", "is inside the input"],
    ),
    Case(
        "annotate onto another input", "overwrite", annotate_onto_other_input, 2, ["a.checked.xlsx", "input"]
    ),
    Case(
        "report symlinked to an input",
        "overwrite",
        symlinked_report_to_input,
        2,
        ["report.xlsx", "is the input"],
    ),
    Case(
        "workbook symlinked to the form",
        "overwrite",
        symlinked_workbook_to_form,
        2,
        ["out.xlsx", "form.yaml"],
    ),
    Case("meta over its input", "overwrite", meta_over_input, 2, ["data.csv", "is the input"]),
    Case("run output holds the reviewers", "overwrite", run_output_holds_reviewers, 2, ["holds the input"]),
    Case("reconcile into an input folder", "overwrite", reconcile_into_input_folder, 2, ["holds the input"]),
    Case("count 1e20 as a number", "traceback", huge_count_as_number, 1, ["Arms!H2", "number-too-large"]),
    Case("count of 30 digits as text", "traceback", huge_count_as_text, 1, ["Arms!H2", "number-too-large"]),
    Case("a device as a workbook", "traceback", device_as_workbook, 2, ["/dev/zero", "not a regular file"]),
    Case("a pipe as a workbook", "hang", fifo_as_workbook, 2, ["pipe.xlsx", "not a regular file"]),
    Case("review.toml not UTF-8", "traceback", toml_not_utf8, 2, ["review.toml", "line 1", "UTF-8"]),
    Case("review.toml nested", "traceback", toml_nested, 2, ["review.toml", "nested more than 32"]),
    Case("form not UTF-8", "traceback", form_not_utf8, 2, ["form.yaml", "UTF-8"]),
    Case("form nested", "traceback", form_nested, 2, ["form.yaml", "32 levels"]),
    Case("a sheet of 1,100,000 rows", "hang", million_rows, 2, ["sheet 'Arms'", "1,048,576 rows"]),
    Case(
        "a value at XFD5000", "hang", value_in_the_last_column, 2, ["sheet 'Adverse events'", "XFD5000", "ZZ"]
    ),
    Case(
        "values far apart",
        "hang",
        values_far_apart,
        2,
        ["sheet 'Adverse events'", "ZZ499999", "350,999,298 cells", "26,000,000"],
    ),
    Case(
        "a value under no header",
        "loss",
        value_without_header,
        0,
        ["unknown-column", "Arms!AB3", "no header"],
    ),
    Case("a pipe as the form", "hang", fifo_as_form, 2, ["form.yaml", "not a regular file"]),
    Case("a billion-laughs form", "hang", billion_laughs, 2, ["form.yaml", "aliases"]),
    Case("a pipe as review.toml", "hang", fifo_as_review_toml, 2, ["review.toml", "not a regular file"]),
    Case("a pipe as a table's CSV", "hang", fifo_as_csv_table, 2, ["arms.csv", "not a regular file"]),
    Case("a pipe as meta's input", "hang", fifo_as_meta_input, 2, ["data.csv", "not a regular file"]),
    Case("text beyond 32,767 characters", "loss", text_beyond_cell_limit, 1, ["Studies!B2", "text-too-long"]),
    Case("a column twice", "loss", column_twice, 1, ["duplicate-column", "Arms!"]),
    Case("merged cells", "loss", merged_cells, 1, ["merged-cells", "Arms!A2"]),
    Case("an error value", "loss", error_value, 1, ["error-value", "Arms!H2", "#DIV/0!"]),
    Case("a formula without a value", "loss", formula_without_value, 1, ["formula-without-value", "Arms!H2"]),
    Case(
        "meta CSV with a column twice",
        "loss",
        meta_duplicate_columns,
        2,
        ["data.csv", "B1", "E1", "duplicate"],
    ),
    Case(
        "another form version",
        "version",
        other_form_version,
        2,
        [
            f"oncology_trial v{load_form(FORM_PATH).version}",
            "v9.9.9",
            "fields added: 'Cycles' (Arms)",
            "renamed: 'Randomised (n)' -> 'Randomised participants (n)' (Arms)",
            "has no column",
        ],
    ),
    Case("an empty file", "corrupt", empty_file, 2, ["empty.xlsx"]),
    Case("a truncated workbook", "corrupt", truncated_zip, 2, ["a.xlsx"]),
    Case("an old .xls", "corrupt", old_xls, 2, ["old.xlsx", "OLE"]),
    Case("a zip bomb", "corrupt", zip_bomb, 2, ["bomb.xlsx", "zip bomb"]),
    Case("XML entities", "corrupt", entity_expansion, 2, ["a.xlsx", "unsafe XML"]),
]
