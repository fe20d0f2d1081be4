"""The CLI: exit codes, one-line errors without tracebacks, reports written."""

from __future__ import annotations

import pandas as pd
from conftest import FORM_PATH, edited, write
from typer.testing import CliRunner

from review.cli import app

runner = CliRunner()


def test_workbook_then_validate_clean_exit_0(tmp_path):
    out = tmp_path / "w.xlsx"
    result = runner.invoke(app, ["workbook", str(FORM_PATH), "-o", str(out), "--reviewer", "AB"])
    assert result.exit_code == 0, result.output
    assert out.exists()
    result = runner.invoke(app, ["validate", str(out)])
    assert result.exit_code == 0 and "0 errors, 0 warnings" in result.output


def test_validate_errors_exit_1_and_report(form, tmp_path):
    path = write(form, tmp_path / "w.xlsx", data=edited("response", 1, percent=55))
    report = tmp_path / "issues.csv"
    result = runner.invoke(
        app, ["validate", str(path), "--report", str(report), "--annotate", str(tmp_path / "m")]
    )
    assert result.exit_code == 1, result.output
    assert "percent-mismatch" in result.output and "Best response!F3" in result.output
    rows = pd.read_csv(report)
    assert rows[["code", "sheet", "cell"]].values.tolist() == [["percent-mismatch", "Best response", "F3"]]
    assert (tmp_path / "m" / "w.checked.xlsx").exists()
    xlsx = tmp_path / "issues.xlsx"
    assert runner.invoke(app, ["validate", str(path), "--report", str(xlsx)]).exit_code == 1
    assert pd.read_excel(xlsx, engine="calamine")["code"].tolist() == ["percent-mismatch"]


def test_unreadable_input_exit_2_without_traceback(form, tmp_path):
    bad = tmp_path / "notes.xlsx"
    bad.write_text("not a workbook", encoding="utf-8")
    good = write(form, tmp_path / "good.xlsx")
    result = runner.invoke(app, ["validate", str(bad), str(good)])
    assert result.exit_code == 2
    assert "unreadable-file" in result.output and "Traceback" not in result.output


def test_bad_form_exit_2_one_line(tmp_path):
    form = tmp_path / "f.yaml"
    form.write_text("form: x\nversion: 1\ntables: 3\n", encoding="utf-8")
    result = runner.invoke(app, ["workbook", str(form), "-o", str(tmp_path / "w.xlsx")])
    assert result.exit_code == 2
    assert f"{form}, line 3: tables: must list at least one table" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "w.xlsx").exists()


def test_workbook_per_study_and_prefill(tmp_path):
    studies = tmp_path / "included.csv"
    studies.write_text("study_id,citation\nB2222,Demetri 2002\nS0033,Blanke 2008\n", encoding="utf-8")
    result = runner.invoke(
        app,
        ["workbook", str(FORM_PATH), "-o", str(tmp_path / "each"), "--studies", str(studies), "--per-study"],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "each").iterdir()) == ["B2222.xlsx", "S0033.xlsx"]
    result = runner.invoke(app, ["workbook", str(FORM_PATH), "-o", str(tmp_path / "each"), "--per-study"])
    assert result.exit_code == 1 and "--per-study needs --studies" in result.output


def test_rules_lists_every_code():
    from review.issues import CODES

    result = runner.invoke(app, ["rules", "--markdown"])
    assert result.exit_code == 0
    for code in CODES:
        assert f"`{code}`" in result.output


def test_brackets_in_messages_print_as_typed(form, tmp_path):
    path = write(form, tmp_path / "w.xlsx", data=edited("arms", 0, dose_unit="[mg]"))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1 and "'[mg]' is not one of" in result.output
