"""Reviewer workbooks: what is written, and that a complete study reads back unchanged, value for value."""

from __future__ import annotations

import csv
import re
import zipfile

import openpyxl
import pandas as pd
import pytest
from conftest import FORM_PATH, complete_study, edited, write
from openpyxl import load_workbook
from openpyxl.comments import Comment
from openpyxl.utils import get_column_letter
from scipy import stats

from review.errors import ReviewError, UnreadableInput
from review.forms import parse_form
from review.studies import make_study_workbooks, read_studies
from review.workbook import (
    UnreadableWorkbook,
    annotate_workbook,
    make_workbook,
    read_csv_folder,
    read_workbook,
    upgrade_workbook,
)


def _as_typed(frame: pd.DataFrame) -> list[dict]:
    return [{k: v for k, v in row.items() if v is not None} for row in frame.to_dict("records")]


def _expected(frame: pd.DataFrame) -> list[dict]:
    rows = []
    for row in frame.to_dict("records"):
        rows.append(
            {
                k: v
                for k, v in row.items()
                if v is not None and v != "" and not (isinstance(v, float) and pd.isna(v))
            }
        )
    return rows


def test_complete_study_round_trips_value_for_value(form, tmp_path):
    path = write(form, tmp_path / "w.xlsx", reviewer="Reviewer A")
    ext = read_workbook(path, form)
    assert ext.reviewer == "Reviewer A" and ext.form_version == form.version
    assert ext.issues == []
    for name, frame in complete_study().items():
        got = _as_typed(ext.tables[name].as_typed())
        want = _expected(frame)
        assert got == want, name
    # typed per field
    arms = ext["arms"]
    assert str(arms["randomised"].dtype) == "Int64" and str(arms["dose"].dtype) == "Float64"
    assert str(arms["pooled"].dtype) == "boolean" and str(arms["label"].dtype).startswith("string")
    # NR / NA / empty are three different things
    studies = ext.tables["studies"]
    row = studies.data.index[0]
    assert studies.missing.at[row, "funding"] == "NR" and studies.missing.at[row, "notes"] == "NA"
    assert pd.isna(studies.data.at[row, "comment"]) and studies.missing.at[row, "comment"] == ""
    # every value knows its cell
    assert arms.index.tolist() == [2, 3]
    assert ext.tables["arms"].cell(3, "randomised") == "H3"


def test_workbook_layout_dropdowns_and_help(form, tmp_path):
    path = make_workbook(form, tmp_path / "w.xlsx", reviewer="RB")
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == "Instructions" and wb["Lists"].sheet_state == "hidden"
    assert [t.sheet for t in form.tables.values()] == wb.sheetnames[2:]
    ins = {r[0]: r[1] for r in wb["Instructions"].iter_rows(values_only=True) if r[0]}
    assert ins["Form"] == "oncology_trial" and ins["Form version"] == "1.2.0" and ins["Reviewer"] == "RB"
    assert ins["NR"] == "not reported" and ins["NA"] == "not applicable"
    arms = wb["Arms"]
    assert [c.value for c in arms[1]][:3] == ["Study ID", "Arm ID", "Arm label"]
    assert arms.freeze_panes == "C2"
    by_col = {}
    for dv in arms.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            by_col[rng.coord.split(":")[0].rstrip("0123456789")] = dv
    assert by_col["A"].type == "list" and by_col["A"].formula1 == "Studies!$A$2:$A$501"  # study ids entered
    dose_unit = by_col["F"]
    assert dose_unit.type == "list" and dose_unit.formula1.startswith("Lists!")
    randomised = by_col["H"]
    assert (
        randomised.type == "custom"
        and "H2=INT(H2)" in randomised.formula1
        and 'H2="NR"' in randomised.formula1
    )
    assert randomised.prompt.startswith("Patients randomised") and randomised.showInputMessage
    # the list behind the dose-unit dropdown holds the vocabulary and the missing codes
    col = dose_unit.formula1.split("!")[1].split(":")[0].replace("$", "").rstrip("0123456789")
    values = [c.value for c in wb["Lists"][col][1:] if c.value]
    assert values == ["mg", "mg/m2", "mg/kg", "g", "IU", "NR", "NA"]
    response = wb["Best response"]
    arm_dv = next(dv for dv in response.data_validations.dataValidation if "B2" in str(dv.sqref))
    assert arm_dv.formula1 == "Arms!$B$2:$B$501"  # arm ids already entered


def test_text_that_looks_like_a_formula_stays_text(form, tmp_path):
    data = edited("studies", 0, citation='=HYPERLINK("http://x","y")', notes="=1+2")
    path = write(form, tmp_path / "w.xlsx", data=data)
    with zipfile.ZipFile(path) as zf:
        xml = "".join(zf.read(n).decode() for n in zf.namelist() if n.startswith("xl/worksheets/"))
    assert "<f>" not in xml
    assert read_workbook(path, form)["studies"].at[2, "citation"] == '=HYPERLINK("http://x","y")'


def test_formula_cells_are_reported_and_never_run(form, tmp_path):
    path = write(form, tmp_path / "w.xlsx")
    wb = openpyxl.load_workbook(path)
    wb["Arms"]["H2"] = "=50+50"  # no saved result: openpyxl does not compute
    wb.save(path)
    ext = read_workbook(path, form)
    issue = [i for i in ext.issues if i.code.startswith("formula")]
    assert [(i.code, i.sheet, i.cell, i.severity) for i in issue] == [
        ("formula-without-value", "Arms", "H2", "error")
    ]
    assert pd.isna(ext["arms"].at[2, "randomised"])


def _saved_as(path, sheet_xml: str, cells: dict[str, str]) -> None:
    """Rewrite cells of one sheet's XML as a spreadsheet application saves them (openpyxl saves no results)."""
    with zipfile.ZipFile(path) as zf:
        parts = {n: zf.read(n) for n in zf.namelist()}
    xml = parts[sheet_xml].decode()
    for ref, cell in cells.items():
        start = xml.index(f'<c r="{ref}"')
        end = xml.index("</c>", start) + 4 if not xml[start:].split(">", 1)[0].endswith("/") else None
        end = end or xml.index("/>", start) + 2
        xml = xml[:start] + cell + xml[end:]
    parts[sheet_xml] = xml.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)


def test_libreoffice_booleans_are_values_and_formulas_are_shown(form, tmp_path):
    # LibreOffice saves a typed TRUE as the formula TRUE() with its result: a value, not a calculation
    path = write(form, tmp_path / "w.xlsx")
    wb = openpyxl.load_workbook(path)
    header = {c.value: c.column_letter for c in wb["Arms"][1]}
    pooled, randomised = header["Pools other arms"], header["Randomised (n)"]
    wb["Arms"][f"{pooled}2"] = "=TRUE()"
    wb["Arms"][f"{randomised}2"] = "=50+50"
    wb.save(path)
    sheet = f"xl/worksheets/sheet{wb.sheetnames.index('Arms') + 1}.xml"
    _saved_as(
        path,
        sheet,
        {
            f"{pooled}2": f'<c r="{pooled}2" t="b"><f aca="false">TRUE()</f><v>1</v></c>',
            f"{randomised}2": f'<c r="{randomised}2"><f>50+50</f><v>100</v></c>',
        },
    )
    ext = read_workbook(path, form)
    formulas = [(i.code, i.cell, i.message) for i in ext.issues if i.code.startswith("formula")]
    assert formulas == [
        (
            "formula-cell",
            f"{randomised}2",
            "Randomised: a cell holds a formula; its saved result was used and the formula never run "
            "(=50+50). Fix: Type the value itself; put any calculation in Comment.",
        )
    ]
    assert ext["arms"].at[2, "pooled"] == True  # noqa: E712 (a numpy bool)
    assert ext["arms"].at[2, "randomised"] == 100
    target, done = upgrade_workbook(path, form, tmp_path / "up.xlsx")
    assert done[-1] == f"1 formulas carried as their saved values: Arms!{randomised}2"
    assert read_workbook(target, form)["arms"].at[2, "pooled"] == True  # noqa: E712


def test_typed_values_report_cells(form, tmp_path):
    data = edited("arms", 1, randomised="n=100", treated="100 or 99", dose_unit="MG")
    ext = read_workbook(write(form, tmp_path / "w.xlsx", data=data), form)
    found = {(i.code, i.cell, i.severity) for i in ext.issues}
    assert found == {
        ("count-prefix", "H3", "warning"),
        ("ambiguous-number", "I3", "error"),
        ("vocabulary-case", "F3", "warning"),
    }
    assert ext["arms"].at[3, "randomised"] == 100 and pd.isna(ext["arms"].at[3, "treated"])
    assert ext["arms"].at[3, "dose_unit"] == "mg"


def test_version_mismatch_and_unknown_column_warn(form, tmp_path):
    path = write(form, tmp_path / "w.xlsx")
    wb = openpyxl.load_workbook(path)
    wb["Instructions"]["B4"] = "0.9"
    wb["Arms"].cell(row=1, column=wb["Arms"].max_column + 1, value="My notes")
    wb.save(path)
    codes = {(i.code, i.sheet, i.cell) for i in read_workbook(path, form).issues}
    assert ("form-version-mismatch", "Instructions", "B4") in codes
    assert ("unknown-column", "Arms", "P1") in codes


def test_missing_sheet_and_column_are_fatal(form, tmp_path):
    path = write(form, tmp_path / "w.xlsx")
    wb = openpyxl.load_workbook(path)
    del wb["Safety summary"]
    wb.save(tmp_path / "nosheet.xlsx")
    with pytest.raises(UnreadableWorkbook) as exc:
        read_workbook(tmp_path / "nosheet.xlsx", form)
    assert exc.value.code == "missing-sheet" and "Safety summary" in str(exc.value)
    wb = openpyxl.load_workbook(path)
    wb["Arms"]["H1"] = None
    wb.save(tmp_path / "nocol.xlsx")
    with pytest.raises(UnreadableWorkbook) as exc:
        read_workbook(tmp_path / "nocol.xlsx", form)
    assert exc.value.code == "missing-column" and "'Randomised (n)'" in str(exc.value)
    assert "review workbook" in str(exc.value)


def test_unreadable_files_are_refused_before_parsing(form, tmp_path):
    (tmp_path / "text.xlsx").write_text("hello", encoding="utf-8")
    with pytest.raises(UnreadableInput, match="not a zip archive"):
        read_workbook(tmp_path / "text.xlsx", form)
    (tmp_path / "ole.xlsx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(UnreadableInput, match="password-protected"):
        read_workbook(tmp_path / "ole.xlsx", form)
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", "<a>" + "a" * 50_000_000 + "</a>")
    with pytest.raises(UnreadableInput, match="zip bomb"):
        read_workbook(bomb, form)


def test_xml_entity_bomb_is_refused(form, tmp_path):
    path = write(form, tmp_path / "w.xlsx")
    evil = tmp_path / "evil.xlsx"
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>&lol2;</t></is></c></row></sheetData></worksheet>'
    )
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(evil, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet3.xml":
                data = laughs.encode()
            dst.writestr(item, data)
    with pytest.raises(UnreadableInput):
        read_workbook(evil, form)


def test_reading_never_modifies_the_input(form, tmp_path):
    path = write(form, tmp_path / "w.xlsx")
    before = path.read_bytes()
    read_workbook(path, form)
    assert path.read_bytes() == before


def test_csv_folder_reads_the_same_tables(form, tmp_path):
    ext = read_workbook(write(form, tmp_path / "w.xlsx"), form)
    folder = tmp_path / "csv"
    folder.mkdir()
    for name, et in ext.tables.items():
        et.as_typed().to_csv(folder / f"{name}.csv", index=False)
    again = read_csv_folder(folder, form)
    assert again.issues == []
    for name in ext.tables:
        assert _as_typed(again.tables[name].as_typed()) == _as_typed(ext.tables[name].as_typed()), name
    assert again.tables["arms"].cell(3, "randomised") == "H3"  # line 3 of arms.csv, 8th column
    (folder / "safety.csv").unlink()
    with pytest.raises(UnreadableWorkbook, match="safety.csv: missing"):
        read_csv_folder(folder, form)


def test_studies_prefilled_from_ris_and_csv(form, tmp_path):
    ris = tmp_path / "included.ris"
    ris.write_text(
        "TY  - JOUR\nAU  - Demetri, G D\nAU  - von Mehren, M\nTI  - Efficacy and safety of imatinib mesylate\n"
        "T2  - N Engl J Med\nPY  - 2002\nVL  - 347\nIS  - 7\nSP  - 472\nEP  - 480\nDO  - 10.1056/NEJMoa020461\n"
        "AN  - 12181401\nER  - \n",
        encoding="utf-8",
    )
    studies = read_studies(ris)
    row = studies.iloc[0]
    assert row["study_id"] == "Demetri 2002" and row["doi"] == "10.1056/NEJMoa020461"
    assert row["pmid"] == "12181401" and row["citation"].endswith("N Engl J Med 2002;347(7):472-480.")
    path = make_workbook(
        form, tmp_path / "w.xlsx", data={"studies": studies[["study_id", "citation", "doi"]]}
    )
    assert read_workbook(path, form)["studies"].at[2, "study_id"] == "Demetri 2002"
    table = tmp_path / "included.csv"
    with open(table, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(
            [["first_author", "year", "citation"], ["Doe", "2020", "x"], ["Doe", "2020", "y"]]
        )
    assert read_studies(table)["study_id"].tolist() == ["Doe 2020a", "Doe 2020b"]
    table.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(UnreadableInput, match="not a readable UTF-8 CSV"):
        read_studies(table)


def test_one_workbook_per_study(form, tmp_path):
    studies = pd.DataFrame({"study_id": ["B2222", "EORTC 62005"], "citation": ["a", "b"]})
    paths = make_study_workbooks(form, studies, tmp_path / "out", reviewer="A")
    assert [p.name for p in paths] == ["B2222.xlsx", "EORTC_62005.xlsx"]
    assert read_workbook(paths[1], form)["studies"]["study_id"].tolist() == ["EORTC 62005"]


def test_annotated_copy_marks_cells_and_leaves_the_original(form, tmp_path):
    from review.validate import validate

    path = write(form, tmp_path / "w.xlsx", data=edited("dichotomous", 0, events=120, percent=None))
    before = path.read_bytes()
    report = validate(read_workbook(path, form))
    target = annotate_workbook(path, report, tmp_path / "marked.xlsx")
    assert path.read_bytes() == before
    cell = openpyxl.load_workbook(target)["Dichotomous outcomes"]["E2"]
    assert cell.fill.fgColor.rgb.endswith("FFC7CE") and "count-exceeds-total" in cell.comment.text
    with pytest.raises(Exception, match="must not overwrite"):
        annotate_workbook(path, report, path)


def test_input_messages_match_each_fields_type(form, tmp_path):
    """Text, date, percent and identifier columns are not asked for 'a number'."""
    from openpyxl.utils import get_column_letter

    wb = load_workbook(make_workbook(form, tmp_path / "w.xlsx"))
    for t in form.tables.values():
        ws = wb[t.sheet]
        prompts = {
            str(dv.sqref).split(":")[0].rstrip("0123456789"): dv.prompt
            for dv in ws.data_validations.dataValidation
        }
        for col, f in enumerate(t.fields.values(), start=1):
            prompt = prompts[get_column_letter(col)]
            if f.type in ("text", "date") and not f.references:
                assert "Type a number" not in prompt, (t.name, f.name, prompt)
            if f.type == "date":
                assert "YYYY-MM-DD" in prompt
            if f.type == "percent":
                assert "49.3 for 49.3%" in prompt
            if f.type == "integer" and not f.format:
                assert "Type a whole number" in prompt
    studies = {f.name: c for c, f in enumerate(form.tables["studies"].fields.values(), start=1)}
    ws = wb["Studies"]
    prompt = {str(dv.sqref).split(":")[0]: dv.prompt for dv in ws.data_validations.dataValidation}
    assert prompt["B2"].endswith(
        "Type the text as the report gives it, or NR (not reported) / NA (not applicable)."
    )
    assert "Type the DOI as 10.xxxx/" in prompt[f"{get_column_letter(studies['doi'])}2"]


def test_reviewer_workbook_prints(form, tmp_path):
    """Instructions on a portrait page with rows tall enough for their text; each table sheet landscape or
    portrait by width, header repeated, key columns repeated when it spans pages, the form and version in the
    page header, and only the header plus the filled (or 15 blank) rows in the print area."""
    wb = load_workbook(make_workbook(form, tmp_path / "w.xlsx", data=complete_study()))
    instructions = wb["Instructions"]
    assert instructions.page_setup.orientation == "portrait"
    assert instructions.oddHeader.left.text == "form oncology_trial version 1.2.0"
    assert instructions.oddFooter.left.text == "Oncology drug trial extraction form"
    tall = [
        r for r in range(1, instructions.max_row + 1) if len(str(instructions.cell(r, 2).value or "")) > 130
    ]
    assert tall and all(instructions.row_dimensions[r].height >= 3 * 15 for r in tall)
    studies = wb["Studies"]
    assert studies.page_setup.orientation == "landscape" and studies.print_title_rows == "$1:$1"
    assert studies.oddFooter.center.text == "Page &P of &N"
    assert studies.print_area == f"'Studies'!$A$1:${get_column_letter(studies.max_column)}$2"
    blank = load_workbook(make_workbook(form, tmp_path / "b.xlsx"))["Arms"]
    assert blank.print_area.endswith("$16") and blank.print_options.gridLines


# --- carrying a workbook to a new form version ------------------------------------------------------------------


def _older(form):
    """The shipped form as it was before a release that added continuous.median and continuous.q1."""
    text = FORM_PATH.read_text(encoding="utf-8").replace(f"version: {form.version}", "version: 0.9.0", 1)
    for field in ("median", "q1"):
        line = next(
            x for x in text.splitlines(keepends=True) if x.startswith(f"      {field}: {{type: number")
        )
        text = text.replace(line, "", 1)
    text = "".join(  # nor do the lists of fields standing in for the mean and SD name them
        line.replace("median, ", "").replace("q1, ", "").replace("unless_given: [median]", "unless_given: []")
        if "unless_given" in line
        else line
        for line in text.splitlines(keepends=True)
    )
    text = re.sub(r"  - rule: spread-excludes-value\n(    \w+: \w+\n)+", "", text)  # rules on the quartiles
    older = parse_form(text, "older form")
    assert older.version == "0.9.0" and "median" not in older.table("continuous").fields
    return older


def _study_without(fields: set[str]) -> dict[str, pd.DataFrame]:
    return {
        name: frame.drop(columns=[c for c in frame.columns if c in fields])
        for name, frame in complete_study().items()
    }


def test_upgrade_carries_every_value_format_and_note_to_the_new_form(form, tmp_path):
    older = _older(form)
    old = write(older, tmp_path / "old.xlsx", data=_study_without({"median", "q1"}), reviewer="RB")
    wb = openpyxl.load_workbook(old)
    ws = wb["Best response"]
    percent = next(c for c in ws[1] if c.value == "Percent (%)").column_letter
    ws[f"{percent}2"].value, ws[f"{percent}2"].number_format = 0.151, "0.0%"  # typed 15.1% in Excel
    ws["A2"].comment = openpyxl.comments.Comment("checked twice", "RB")
    wb.save(old)
    before = old.read_bytes()
    # read with the new version, it is refused, and the message says how to carry it over
    with pytest.raises(UnreadableWorkbook) as exc:
        read_workbook(old, form)
    assert (
        exc.value.code == "missing-column"
        and "'Median'" in str(exc.value)
        and "review upgrade" in str(exc.value)
    )

    target, done = upgrade_workbook(old, form, tmp_path / "new.xlsx")
    assert old.read_bytes() == before  # the input is never changed
    assert done[0].startswith("carried ") and "form oncology_trial v0.9.0" in done[0]
    was, now = read_workbook(old, older), read_workbook(target, form)
    assert now.form_version == form.version and now.reviewer == "RB"
    # the same reading issues at the same cells (the percent typed with its format is read as 15.1, and said)
    assert [(i.code, i.sheet, i.cell) for i in now.issues] == [(i.code, i.sheet, i.cell) for i in was.issues]
    assert [i.code for i in now.issues] == ["percent-format"]
    for name, table in was.tables.items():
        kept = list(table.data.columns)
        pd.testing.assert_frame_equal(table.data, now.tables[name].data[kept])
        pd.testing.assert_frame_equal(table.missing, now.tables[name].missing[kept])
    assert now["continuous"][["median", "q1"]].isna().all().all()
    assert now["response"]["percent"].iloc[0] == pytest.approx(15.1)  # its format came along
    new = openpyxl.load_workbook(target)
    assert new["Best response"]["A2"].comment.text == "checked twice"
    header = [c.value for c in new["Continuous outcomes"][1]]
    assert header.index("Median") == list(form.table("continuous").fields).index("median")


def test_upgrade_refuses_to_drop_a_value_and_names_its_cell(form, tmp_path):
    path = write(form, tmp_path / "w.xlsx")
    wb = openpyxl.load_workbook(path)
    arms = wb["Arms"]
    column = arms.max_column + 1
    arms.cell(row=1, column=column, value="My notes")
    arms.cell(row=3, column=column, value="ask the author")
    wb.create_sheet("Scratch")["B2"] = 42
    wb.create_sheet("Empty")
    wb.save(path)
    with pytest.raises(ReviewError) as exc:
        upgrade_workbook(path, form, tmp_path / "out.xlsx")
    message = str(exc.value)
    assert f"sheet 'Arms' cell {get_column_letter(column)}3" in message and "'My notes'" in message
    assert "sheet 'Scratch' is not a table" in message and "Empty" not in message
    assert not (tmp_path / "out.xlsx").exists()


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda wb: wb["Studies"].merge_cells("Y2:Z2"), "sheet 'Studies' has cells Y2:Z2 merged"),
        (lambda wb: wb["Studies"].__setitem__("M2", "=6+6"), "cell M2 holds a formula with no saved value"),
        (lambda wb: wb.copy_worksheet(wb["Studies"]).__setattr__("title", "studies "), "both name one table"),
        (
            lambda wb: wb.create_sheet("Notes")["B3"].__setattr__(
                "comment", openpyxl.comments.Comment("n", "me")
            ),
            "sheet 'Notes'",
        ),
    ],
)
def test_upgrade_refuses_what_it_could_not_carry(form, tmp_path, edit, words):
    """A merged range (openpyxl keeps only its first cell), a formula never calculated, two sheets for one table,
    a note on a sheet no table takes: refused, naming them, nothing written."""
    path = write(form, tmp_path / "w.xlsx")
    wb = openpyxl.load_workbook(path)
    edit(wb)
    wb.save(path)
    with pytest.raises(ReviewError, match=words):
        upgrade_workbook(path, form, tmp_path / "out.xlsx")
    assert not (tmp_path / "out.xlsx").exists()


def test_upgrade_keeps_error_values_and_lists_what_the_form_writes_afresh(form, tmp_path):
    path = write(form, tmp_path / "w.xlsx")
    wb = openpyxl.load_workbook(path)
    countries = next(c for c in wb["Studies"][1] if c.value == "Countries").column_letter
    wb["Studies"][f"{countries}2"].value = "#REF!"
    wb["Studies"][f"{countries}2"].data_type = "e"
    wb["Instructions"]["D30"] = "ask the author about T1"
    noted = next(c for row in wb["Instructions"].iter_rows() for c in row if c.comment)  # the form's own note
    noted.comment = Comment(noted.comment.text, " ")  # as LibreOffice saves it: without its author
    wb.save(path)
    target, done = upgrade_workbook(path, form, tmp_path / "out.xlsx")
    assert (
        done[-1]
        == "not carried (the new form writes these afresh): 'Instructions'!D30 ('ask the author about T1')"
    )
    was, now = read_workbook(path, form), read_workbook(target, form)
    assert [(i.code, i.cell) for i in now.issues] == [(i.code, i.cell) for i in was.issues]
    assert ("error-value", f"{countries}2") in [(i.code, i.cell) for i in now.issues]


def test_two_sheets_for_one_table_are_refused_when_read(form, tmp_path):
    path = write(form, tmp_path / "w.xlsx")
    wb = openpyxl.load_workbook(path)
    wb.copy_worksheet(wb["Arms"]).title = "arms "
    wb.save(path)
    with pytest.raises(UnreadableWorkbook, match="sheets 'Arms' and 'arms ' both name one table"):
        read_workbook(path, form)


def test_review_upgrade_command(form, tmp_path):
    from typer.testing import CliRunner

    from review.cli import app

    old = write(_older(form), tmp_path / "old.xlsx", data=_study_without({"median", "q1"}))
    target = tmp_path / "new.xlsx"
    result = CliRunner().invoke(app, ["upgrade", str(old), "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert "Carried" in result.output and read_workbook(target, form).issues == []
    again = CliRunner().invoke(app, ["upgrade", str(old), "-o", str(target)])
    assert again.exit_code == 2 and "already exists" in again.output
    onto_input = CliRunner().invoke(app, ["upgrade", str(old), "-o", str(old), "--force"])
    assert onto_input.exit_code == 2 and "never writes over its inputs" in onto_input.output


def test_shipped_form_takes_what_reports_give_instead_of_an_sd(form, tmp_path):
    """A mean with its CI, a median with quartiles, a mean with quartiles, typed in the form's own columns with
    the mean and SD left empty where the report does not give them: no not-extracted warning (the alternatives
    are if_reported, the mean and SD unless_given), and the analysis tables derive the SD (and from the median,
    the mean) and say how."""
    from review.tables import analysis_tables
    from review.validate import validate

    common = {"study_id": "T1", "timepoint": "6 weeks", "unit": "points", "source": "main"}
    by_ci = {**common, "outcome": "pain", "ci_level": 95}
    by_median = {**common, "outcome": "fatigue"}
    by_quartiles = {**common, "outcome": "sleep"}
    data = complete_study()
    data["continuous"] = pd.DataFrame(
        [
            {**by_ci, "arm_id": "low", "mean": 10, "n": 25, "ci_low": 8, "ci_high": 12},
            {**by_ci, "arm_id": "high", "mean": 13, "n": 25, "ci_low": 10.5, "ci_high": 15.5},
            {**by_median, "arm_id": "low", "median": 20, "q1": 15, "q3": 26, "n": 40},
            {**by_median, "arm_id": "high", "median": 18, "q1": 12, "q3": 25, "n": 41},
            {**by_quartiles, "arm_id": "low", "mean": 6.5, "median": 6, "q1": 5, "q3": 8, "n": 40},
            {**by_quartiles, "arm_id": "high", "mean": 7.1, "median": 7, "q1": 5.5, "q3": 8.5, "n": 41},
        ]
    )
    ext = read_workbook(write(form, tmp_path / "w.xlsx", data=data), form)
    assert [(i.code, i.cell) for i in validate(ext).issues if i.table == "continuous"] == []
    continuous = analysis_tables({n: t.data for n, t in ext.tables.items()}, form).continuous
    pain, fatigue, sleep = (
        continuous[continuous["outcome"] == o].set_index("arm_id") for o in ("pain", "fatigue", "sleep")
    )
    # sd_from_ci, t below 60 patients: sqrt(25) * (12 - 8) / (2 * qt(0.975, 24))
    assert pain.at["low", "sd"] == pytest.approx(5 * 4 / (2 * 2.0638985616280205), rel=1e-12)
    assert pain.at["low", "derivation"] == "SD = sqrt(n) x (upper - lower) / (2 x 2.0639), t(24 df)"
    w = 0.7 + 0.39 / 40  # Luo et al. 2018's mean from the median and quartiles (the default method)
    assert fatigue.at["low", "mean"] == pytest.approx(w * (15 + 26) / 2 + (1 - w) * 20, rel=1e-12)
    assert fatigue.at["low", "derivation"].startswith(
        "mean and SD estimated from the median and IQR: mean by Luo et al. 2018, SD by Wan et al. 2014"
    )
    # a reported mean stands; the SD comes from the quartiles: (q3 - q1) / (2 qnorm((0.75 n - 0.125) / (n + 0.25)))
    eta = 2 * stats.norm.ppf((0.75 * 40 - 0.125) / (40 + 0.25))
    assert sleep.at["low", "mean"] == 6.5 and sleep.at["low", "sd"] == pytest.approx(3 / eta, rel=1e-12)
    assert sleep.at["low", "derivation"] == (
        "SD estimated from the median and IQR: SD by Wan et al. 2014 (assumes a roughly symmetric distribution); "
        "the reported mean kept"
    )
