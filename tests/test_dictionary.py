"""The REDCap data dictionary and the Markdown documentation generated from the form."""

from __future__ import annotations

import csv
import io

from typer.testing import CliRunner

from review.cli import app
from review.dictionary import REDCAP_COLUMNS, markdown, redcap_dictionary, render, repeating_instruments

runner = CliRunner()

# REDCap's 18 data dictionary columns, spelled as REDCap's template does (and Sage-Bionetworks/redcapdd's
# get_dd_cols() lists them).
EXPECTED = [
    "Variable / Field Name",
    "Form Name",
    "Section Header",
    "Field Type",
    "Field Label",
    "Choices, Calculations, OR Slider Labels",
    "Field Note",
    "Text Validation Type OR Show Slider Number",
    "Text Validation Min",
    "Text Validation Max",
    "Identifier?",
    "Branching Logic (Show field only if...)",
    "Required Field?",
    "Custom Alignment",
    "Question Number (surveys only)",
    "Matrix Group Name",
    "Matrix Ranking?",
    "Field Annotation",
]


def _rows(form):
    text = render(form, "redcap")
    reader = csv.DictReader(io.StringIO(text))
    return reader.fieldnames, {r["Variable / Field Name"]: r for r in reader}


def test_columns_are_redcaps_eighteen(form):
    header, _ = _rows(form)
    assert header == EXPECTED == list(REDCAP_COLUMNS)


def test_record_id_first_and_one_instrument_per_table(form):
    rows = redcap_dictionary(form)
    assert rows[0]["Variable / Field Name"] == "record_id" and rows[0]["Form Name"] == "studies"
    assert [r["Form Name"] for r in rows] == sorted(
        [r["Form Name"] for r in rows], key=lambda n: [*dict.fromkeys(x["Form Name"] for x in rows)].index(n)
    )  # each instrument's fields are contiguous
    assert {r["Form Name"] for r in rows} == set(form.tables)
    repeating = {r["form_name"]: r["custom_form_label"] for r in repeating_instruments(form)}
    assert set(repeating) == set(form.tables) - {"studies"}
    assert repeating["arms"] == "[arms_arm_id]"


def test_choices_validation_and_missing_codes(form):
    _, rows = _rows(form)
    design = rows["studies_design"]
    assert design["Field Type"] == "dropdown"
    assert design["Choices, Calculations, OR Slider Labels"] == (
        "1, randomised controlled | 2, non-randomised controlled | 3, single-arm"
    )
    assert rows["arms_pooled"]["Field Type"] == "yesno"
    randomised = rows["arms_randomised"]
    assert (randomised["Field Type"], randomised["Text Validation Type OR Show Slider Number"]) == (
        "text",
        "integer",
    )
    assert (randomised["Text Validation Min"], randomised["Text Validation Max"]) == ("0", "")
    percent = rows["response_percent"]
    assert (percent["Text Validation Type OR Show Slider Number"], percent["Text Validation Min"]) == (
        "number",
        "0",
    )
    assert percent["Text Validation Max"] == "100"
    assert rows["hazard_ratios_p_value"]["Text Validation Max"] == "1"
    assert rows["studies_citation"]["Required Field?"] == "y" and rows["studies_doi"]["Required Field?"] == ""
    assert "NR, Not reported | NA, Not applicable" in rows["arms_randomised"]["Field Annotation"]
    assert "Missing data codes" not in rows["arms_arm_id"]["Field Annotation"]  # key fields take no NR/NA
    assert (
        rows["studies_enrolment_start"]["Text Validation Type OR Show Slider Number"] == ""
    )  # YYYY-MM allowed
    assert all(len(name) <= 100 and name == name.lower() for name in rows)


def test_markdown_documents_every_field(form):
    text = markdown(form)
    assert text.startswith(f"# {form.title}")
    for t in form.tables.values():
        assert f"## {t.label} (`{t.name}`)" in text
        for name in t.fields:
            assert f"| `{name}` |" in text
    assert (
        "| `design` | Design | category | randomised controlled; non-randomised controlled; single-arm | yes |"
        in text
    )


def test_cli_writes_dictionary_and_refuses_to_overwrite(form, tmp_path):
    from conftest import FORM_PATH

    target = tmp_path / "data_dictionary.csv"
    done = runner.invoke(app, ["dictionary", str(FORM_PATH), "--format", "redcap", "-o", str(target)])
    assert done.exit_code == 0, done.output
    assert (
        (tmp_path / "repeating_instruments.csv")
        .read_text(encoding="utf-8")
        .startswith("form_name,custom_form_label")
    )
    again = runner.invoke(app, ["dictionary", str(FORM_PATH), "-o", str(target)])
    assert again.exit_code == 2 and "--force" in again.output
    assert runner.invoke(app, ["dictionary", str(FORM_PATH), "-o", str(target), "--force"]).exit_code == 0
    bad = runner.invoke(app, ["dictionary", str(FORM_PATH), "--format", "pdf"])
    assert bad.exit_code == 1 and "redcap or markdown" in bad.output
