"""Issue 11: cells read as they show, nothing lost in silence, outputs never replace the user's work, exports
never execute. (Hostile inputs through the CLI: test_hostile.py.)"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import os
from pathlib import Path

import openpyxl
import pytest
from conftest import FORM_PATH, edited, write
from openpyxl.utils import get_column_letter
from typer.testing import CliRunner

from review.cli import app
from review.errors import RefusedOutput
from review.files import MARKER, check_output, claim_folder
from review.sheets import FORMULA_START, runs
from review.sheetscan import format_kind
from review.workbook import UnreadableWorkbook, read_workbook

runner = CliRunner()


def _letter(form, table: str, field: str) -> str:
    return get_column_letter(list(form.table(table).fields).index(field) + 1)


def _edit(path: Path, change) -> Path:
    wb = openpyxl.load_workbook(path)
    change(wb)
    wb.save(path)
    return path


def _codes(ext, code: str) -> list[tuple[str, str]]:
    return [(i.sheet, i.cell) for i in ext.issues if i.code == code]


# --- formats: read as shown ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, kind",
    [
        ("0.0%", "percent"),
        ("0%", "percent"),
        ("mmm-yyyy", "month"),
        ("mmmm yyyy", "month"),
        ("yyyy-mm", "month"),
        ("[$-409]mmm-yy;@", "month"),
        ("yyyy", "year"),
        ("yyyy-mm-dd", ""),
        ("d-mmm-yy", ""),
        ("h:mm", ""),
        ('"Year "yyyy', "year"),
        ("0.00", ""),
        ("@", ""),
    ],
)
def test_format_kinds(code, kind):
    assert format_kind(code) == kind


def test_percent_formatted_cell_reads_as_the_percentage_shown(form, tmp_path):
    col = _letter(form, "response", "percent")

    def percent(wb):
        cell = wb["Best response"][f"{col}3"]
        cell.value, cell.number_format = 0.151, "0.0%"

    ext = read_workbook(_edit(write(form, tmp_path / "w.xlsx"), percent), form)
    assert ext["response"].at[3, "percent"] == 15.1
    assert _codes(ext, "percent-format") == [("Best response", f"{col}3")]


def test_percent_format_in_a_count_is_refused(form, tmp_path):
    col = _letter(form, "response", "count")

    def percent(wb):
        cell = wb["Best response"][f"{col}3"]
        cell.value, cell.number_format = 0.49, "0%"

    ext = read_workbook(_edit(write(form, tmp_path / "w.xlsx"), percent), form)
    assert ("Best response", f"{col}3") in _codes(ext, "ambiguous-number")
    assert ext["response"]["count"].isna()[3]


@pytest.mark.parametrize(
    "number_format, expected", [("mmm-yyyy", "2000-06"), ("yyyy", "2000"), ("yyyy-mm-dd", "2000-06-01")]
)
def test_dates_read_at_the_precision_their_format_shows(form, tmp_path, number_format, expected):
    col = _letter(form, "studies", "enrolment_start")

    def date(wb):
        cell = wb["Studies"][f"{col}2"]
        cell.value, cell.number_format = dt.datetime(2000, 6, 1), number_format

    ext = read_workbook(_edit(write(form, tmp_path / "w.xlsx"), date), form)
    assert ext["studies"].at[2, "enrolment_start"] == expected


# --- no silent loss ---------------------------------------------------------------------------------------------


def test_duplicated_column_is_an_issue_at_its_header_and_the_first_is_read(form, tmp_path):
    def twice(wb):
        ws = wb["Arms"]
        last = ws.max_column + 1
        ws.cell(row=1, column=last, value="Randomised (n)")
        ws.cell(row=2, column=last, value=7)

    ext = read_workbook(_edit(write(form, tmp_path / "w.xlsx"), twice), form)
    width = len(form.table("arms").fields)
    assert _codes(ext, "duplicate-column") == [("Arms", f"{get_column_letter(width + 1)}1")]
    assert ext["arms"].at[2, "randomised"] == 100


def test_merged_range_is_an_issue_at_its_first_cell(form, tmp_path):
    ext = read_workbook(
        _edit(write(form, tmp_path / "w.xlsx"), lambda wb: wb["Arms"].merge_cells("C2:C3")), form
    )
    issue = next(i for i in ext.issues if i.code == "merged-cells")
    assert (issue.sheet, issue.cell, issue.value, issue.severity) == ("Arms", "C2", "C2:C3", "error")


def test_error_values_are_errors_not_empty_cells(form, tmp_path):
    col = _letter(form, "arms", "randomised")

    def errors(wb):
        for row, text in ((2, "#DIV/0!"), (3, "#N/A")):
            cell = wb["Arms"][f"{col}{row}"]
            cell.value, cell.data_type = text, "e"

    ext = read_workbook(_edit(write(form, tmp_path / "w.xlsx"), errors), form)
    found = [(i.cell, i.value, i.severity) for i in ext.issues if i.code == "error-value"]
    assert found == [(f"{col}2", "#DIV/0!", "error"), (f"{col}3", "#N/A", "error")]


@pytest.mark.parametrize("value", [1e20, 2.0**53, "123456789012345678901234567890", "9007199254740993"])
def test_counts_beyond_exact_integers_are_errors(form, tmp_path, value):
    ext = read_workbook(write(form, tmp_path / "w.xlsx", data=edited("arms", 0, randomised=value)), form)
    assert _codes(ext, "number-too-large") == [("Arms", f"{_letter(form, 'arms', 'randomised')}2")]
    assert ext["arms"]["randomised"].isna()[2]


def test_form_version_change_without_missing_columns_is_a_warning_naming_both(form, tmp_path):
    path = write(form, tmp_path / "w.xlsx")
    _edit(path, lambda wb: wb["Instructions"].__setitem__("B4", "0.9"))
    ext = read_workbook(path, form)
    issue = next(i for i in ext.issues if i.code == "form-version-mismatch")
    assert issue.severity == "warning" and issue.cell == "B4"
    assert f"oncology_trial v0.9, read with form oncology_trial v{form.version}" in issue.message


def test_missing_sheet_of_another_version_names_the_versions_first(form, tmp_path):
    path = write(form, tmp_path / "w.xlsx")

    def older(wb):
        wb["Instructions"]["B4"] = "0.9"
        del wb["Risk of bias"]

    with pytest.raises(UnreadableWorkbook) as info:
        read_workbook(_edit(path, older), form)
    message = str(info.value)
    assert message.index("v0.9") < message.index("there is no sheet 'Risk of bias'")
    assert "fields added: table risk_of_bias" in message


# --- outputs ----------------------------------------------------------------------------------------------------


def test_check_output_refuses_inputs_symlinks_and_existing_files(tmp_path):
    source = tmp_path / "in.xlsx"
    source.write_bytes(b"x")
    (tmp_path / "link.xlsx").symlink_to(source)
    with pytest.raises(RefusedOutput, match="is the input"):
        check_output(tmp_path / "link.xlsx", [source], force=True)
    folder = tmp_path / "csvs"
    folder.mkdir()
    with pytest.raises(RefusedOutput, match="is inside the input"):
        check_output(folder / "sub" / "r.csv", [folder], force=True)
    with pytest.raises(RefusedOutput, match="--force"):
        check_output(source, [])
    assert check_output(source, [], force=True) == source


def test_claim_folder_reuses_its_own_folder_and_refuses_others(tmp_path):
    out = claim_folder(tmp_path / "out", [])
    assert (out / MARKER).exists()
    (out / "pooled.csv").write_text("x")
    assert claim_folder(out, []) == out  # the toolkit's own folder: a re-run writes there again
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(RefusedOutput, match="did not write"):
        claim_folder(foreign, [])
    assert claim_folder(foreign, [], force=True) == foreign
    with pytest.raises(RefusedOutput, match="holds the input"):
        claim_folder(tmp_path, [foreign / "notes.txt"], force=True)


def test_workbook_force_replaces_and_inputs_stay_unchanged(tmp_path):
    out = tmp_path / "w.xlsx"
    assert runner.invoke(app, ["workbook", str(FORM_PATH), "-o", str(out)]).exit_code == 0
    first = hashlib.sha256(out.read_bytes()).hexdigest()
    form_before = hashlib.sha256(FORM_PATH.read_bytes()).hexdigest()
    again = runner.invoke(app, ["workbook", str(FORM_PATH), "-o", str(out)])
    assert again.exit_code == 2 and "already exists" in again.output and "--force" in again.output
    assert hashlib.sha256(out.read_bytes()).hexdigest() == first
    assert runner.invoke(app, ["workbook", str(FORM_PATH), "-o", str(out), "--force"]).exit_code == 0
    assert hashlib.sha256(FORM_PATH.read_bytes()).hexdigest() == form_before


# --- a whole run: inputs unchanged, exports never execute, re-runs safe -----------------------------------------

RISKY = ['=HYPERLINK("http://evil","x")', "+1+2", "-cmd", "@SUM(A1)", "\tTab", "=1+2"]


@pytest.fixture(scope="module")
def risky_review(tmp_path_factory):
    """A review whose title, analysis name and extracted text start with characters a spreadsheet would run."""
    from test_project import TOML, _data

    from review.forms import default_form_path, load_form
    from review.workbook import make_workbook

    folder = tmp_path_factory.mktemp("risky")
    form = load_form(default_form_path())
    data = _data(10)
    data["studies"]["citation"] = [RISKY[0], RISKY[1]]
    data["arms"]["label"] = [RISKY[2], RISKY[3], RISKY[4], RISKY[5]]
    for r in ("a", "b"):
        make_workbook(form, folder / f"reviewer_{r}.xlsx", reviewer=r.upper(), data=data)
    toml = TOML.replace('adjudication = "adjudication.xlsx"\n', "")
    toml = toml.replace('title = "', 'title = "=cmd|', 1).replace('name = "', 'name = "@x\\nsystem(1)\\n', 1)
    (folder / "review.toml").write_text(toml, encoding="utf-8")
    return folder


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


def test_run_exports_never_execute_and_inputs_stay_unchanged(risky_review, tmp_path):
    before = _digests(risky_review)
    out = tmp_path / "out"
    result = runner.invoke(app, ["run", str(risky_review), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert _digests(risky_review) == before
    csvs = list(out.rglob("*.csv"))
    assert len(csvs) >= 8
    for path in csvs:
        with open(path, newline="", encoding="utf-8") as fh:
            for line, row in enumerate(csv.reader(fh), start=1):
                for value in row:
                    assert not runs(value), f"{path.name} line {line}: {value!r} would run"
    consensus = (out / "consensus" / "studies.csv").read_text(encoding="utf-8")
    assert "'" + RISKY[0].replace('"', '""') in consensus
    script = (out / "r" / "analyses.R").read_text(encoding="utf-8").splitlines()
    assert any(line.startswith("# @x system(1)") for line in script)
    assert not any(line.startswith("system(") for line in script)  # a name's newline starts no R code
    books = list(out.rglob("*.xlsx"))
    assert {p.name for p in books} >= {"review.xlsx", "discrepancies.xlsx"}
    seen = 0
    for path in books:
        wb = openpyxl.load_workbook(path)
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    if isinstance(cell.value, str) and cell.value.startswith(FORMULA_START):
                        assert cell.data_type == "s", f"{path.name} {ws.title}!{cell.coordinate} is a formula"
                        if runs(cell.value):
                            assert cell.quotePrefix, f"{path.name} {ws.title}!{cell.coordinate}"
                            seen += 1
    assert seen >= 6  # the title, the analysis name and the risky values did reach the workbooks


def test_consensus_reads_back_exactly(risky_review, tmp_path):
    from review.forms import default_form_path, load_form
    from review.workbook import read_csv_folder

    out = tmp_path / "out"
    assert runner.invoke(app, ["run", str(risky_review), "--out", str(out)]).exit_code == 0
    back = read_csv_folder(out / "consensus", load_form(default_form_path()))
    assert list(back["studies"]["citation"]) == RISKY[:2]
    assert list(back["arms"]["label"]) == [" ".join(v.split()) for v in RISKY[2:]]  # as the reader gives text


def test_rerun_reuses_its_folder_but_keeps_decisions_and_foreign_folders(risky_review, tmp_path):
    import shutil

    from test_project import _data

    from review.forms import default_form_path, load_form
    from review.workbook import make_workbook

    folder = tmp_path / "review"
    shutil.copytree(risky_review, folder)
    make_workbook(
        load_form(default_form_path()), folder / "reviewer_b.xlsx", reviewer="B", data=_data(11), rows=50
    )
    out = tmp_path / "out"
    first = runner.invoke(app, ["run", str(folder), "--out", str(out)])
    assert first.exit_code == 1 and "no adjudication file" in first.output  # a disagreement to decide
    assert runner.invoke(app, ["run", str(folder), "--out", str(out)]).exit_code == 1  # ours: reused
    wb = openpyxl.load_workbook(out / "discrepancies.xlsx")  # the adjudicator decides in place
    ws = wb["Discrepancies"]
    header = [c.value for c in ws[1]]
    for name, value in (("Decision", "A"), ("Adjudicator", "C"), ("Date", "2026-12-01"), ("Reason", "p. 2")):
        ws.cell(row=2, column=header.index(name) + 1, value=value)
    wb.save(out / "discrepancies.xlsx")
    kept = hashlib.sha256((out / "discrepancies.xlsx").read_bytes()).hexdigest()
    again = runner.invoke(app, ["run", str(folder), "--out", str(out)])
    assert (
        again.exit_code == 2
        and "holds decisions an adjudicator typed (1)" in again.output
        and "--force" in again.output
    )
    assert hashlib.sha256((out / "discrepancies.xlsx").read_bytes()).hexdigest() == kept
    foreign = tmp_path / "papers"
    foreign.mkdir()
    (foreign / "draft.docx").write_bytes(b"mine")
    refused = runner.invoke(app, ["run", str(folder), "--out", str(foreign)])
    assert refused.exit_code == 2 and "did not write" in refused.output
    assert (foreign / "draft.docx").read_bytes() == b"mine"


def test_per_study_workbooks_and_init_never_replace_a_filled_workbook(tmp_path):
    studies = tmp_path / "studies.csv"
    studies.write_text("study_id,citation\nS1,A trial\nS2,Another\n", encoding="utf-8")
    out = tmp_path / "per_study"
    args = ["workbook", str(FORM_PATH), "-o", str(out), "--studies", str(studies), "--per-study"]
    assert runner.invoke(app, args).exit_code == 0
    filled = hashlib.sha256((out / "S2.xlsx").read_bytes()).hexdigest()
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "S1.xlsx: already exists" in again.output
    assert hashlib.sha256((out / "S2.xlsx").read_bytes()).hexdigest() == filled
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0
    folder = tmp_path / "rev"
    folder.mkdir()
    (folder / "reviewer_a.xlsx").write_bytes(b"a reviewer's work")
    result = runner.invoke(app, ["init", str(folder)])
    assert result.exit_code == 2 and "reviewer_a.xlsx: already exists" in result.output
    assert (folder / "reviewer_a.xlsx").read_bytes() == b"a reviewer's work"
    assert not (folder / "review.toml").exists()


def test_outputs_get_the_permissions_of_a_new_file(tmp_path):
    from review.files import write_text

    mask = os.umask(0o022)
    os.umask(mask)
    write_text(tmp_path / "out.txt", "x")
    assert (tmp_path / "out.txt").stat().st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's private 0600
