"""What a newcomer meets first: --version, help text without type placeholders, the studies CSV headers, the
tour's inputs shipped in examples/."""

from __future__ import annotations

import csv
import re

import pytest
import typer.main
from conftest import ROOT
from typer.testing import CliRunner

from review import __version__
from review.cli import app
from review.errors import ReviewError
from review.studies import read_studies

runner = CliRunner()
COMMANDS = sorted(c.name or "" for c in typer.main.get_command(app).commands.values())


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"review {__version__}"


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_reads_cleanly(command):
    result = runner.invoke(app, [*([command] if command else []), "--help"], terminal_width=120)
    assert result.exit_code == 0
    assert not re.search(r"<(bool|str|path|int|float|list\[[^\]]*\])>", result.output, flags=re.IGNORECASE)
    assert "{" not in result.output.splitlines()[1]  # the usage line names arguments in capitals, not {form}


def test_studies_csv_takes_labels_or_field_names(form, tmp_path):
    studies = form.table("studies")
    path = tmp_path / "included.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["Study ID", "citation", "FIRST AUTHOR"], ["T1", "Doe. A trial.", "Doe"]])
    frame = read_studies(path, studies)
    assert list(frame.columns) == ["study_id", "citation", "first_author"]
    assert frame.iloc[0]["citation"] == "Doe. A trial."
    shipped = read_studies(ROOT / "examples" / "included.csv", studies)
    assert "B2222" in set(shipped["study_id"]) and shipped["design"].notna().all()


def test_studies_csv_refuses_unknown_headers(form, tmp_path):
    path = tmp_path / "included.csv"
    path.write_text("Study ID,Journal\nT1,NEJM\n", encoding="utf-8")
    with pytest.raises(
        ReviewError, match="column 'Journal' is not a field of the Studies sheet.*study_id \\(Study ID\\)"
    ):
        read_studies(path, form.table("studies"))
    result = runner.invoke(
        app,
        [
            "workbook",
            str(ROOT / "extraction_forms" / "oncology_trial.yaml"),
            "-o",
            str(tmp_path / "w.xlsx"),
            "--studies",
            str(path),
        ],
    )
    assert result.exit_code == 1 and "Valid: study_id (Study ID), citation (Citation)" in result.output
    assert not (tmp_path / "w.xlsx").exists()


def test_readme_tour_inputs_ship_and_outputs_are_ignored():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in re.findall(r"(examples/[\w.]+)", readme):
        assert (ROOT / name).is_file(), name
    ignored = (ROOT / ".gitignore").read_text(encoding="utf-8").split()
    for output in ("/reviewer_a.xlsx", "/per_study/", "/imported/", "/data_dictionary.csv", "/consensus/"):
        assert output in ignored
