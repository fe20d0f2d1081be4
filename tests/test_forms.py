"""Form loading: the default form, and malformed forms refused with file, line and the problem."""

from __future__ import annotations

import pytest

from review.errors import FormError
from review.forms import MISSING_CODES, PROVENANCE_FIELDS, load_form, parse_form

MINIMAL = """\
form: tiny
version: 1
tables:
  studies:
    key: study_id
    fields:
      study_id: text
      year: {type: integer, format: year}
"""


def test_default_form_has_the_tables_and_fields_the_issue_asks_for(form):
    assert form.name == "oncology_trial" and form.version == "1.2.0"
    assert list(form.tables) == [
        "studies",
        "arms",
        "response",
        "dichotomous",
        "continuous",
        "hazard_ratios",
        "survival",
        "adverse_events",
        "safety",
        "risk_of_bias",
    ]
    studies = form.table("studies").fields
    for name in (
        "study_id",
        "citation",
        "first_author",
        "year",
        "doi",
        "pmid",
        "registration",
        "design",
        "phase",
        "randomisation_ratio",
        "blinding",
        "multicentre",
        "centres",
        "countries",
        "enrolment_start",
        "enrolment_end",
        "follow_up",
        "follow_up_unit",
        "follow_up_statistic",
        "response_criteria",
        "funding",
        "notes",
    ):
        assert name in studies
    assert studies["design"].values == ("randomised controlled", "non-randomised controlled", "single-arm")
    assert studies["response_criteria"].values == ("RECIST 1.0", "RECIST 1.1", "SWOG", "WHO", "Choi", "other")
    assert form.table("adverse_events").fields["grade"].values == (
        "any",
        "1-2",
        "3-4",
        "3 or higher",
        "5",
        "not stated",
    )
    assert set(form.table("risk_of_bias").fields["judgement"].values) == {"low", "some concerns", "high"}
    # provenance on every data row
    for t in form.tables.values():
        assert set(PROVENANCE_FIELDS) <= set(t.fields), t.name
    # objective response is derived, never typed
    assert "objective response" not in form.table("response").fields["category"].values


def test_key_fields_are_required_and_percent_defaults_to_0_100(form):
    arms = form.table("arms")
    assert arms.key == ("study_id", "arm_id")
    assert all(arms.fields[k].required for k in arms.key)
    pct = form.table("response").fields["percent"]
    assert (pct.min, pct.max) == (0, 100)


def test_minimal_form_with_shorthand_fields():
    f = parse_form(MINIMAL)
    assert f.version == "1"
    assert f.table("studies").fields["study_id"].type == "text"
    assert "comment" in f.table("studies").fields


@pytest.mark.parametrize(
    ("change", "line", "words"),
    [
        (("      year: {type: integer, format: year}", "      year: {type: integr}"), 8, "type 'integr'"),
        (("    key: study_id", "    key: study"), 5, "key field 'study'"),
        (("      study_id: text", "      study_id: text\n      study_id: text"), 8, "duplicate key"),
        (("version: 1", "version: 1\nwidgets: 3"), 3, "unknown key 'widgets'"),
        (
            ("      year: {type: integer, format: year}", "      year: {type: integer, format: isbn}"),
            8,
            "format",
        ),
        (("      year: {type: integer, format: year}", "      year: {type: category}"), 8, "needs values"),
        (
            ("      year: {type: integer, format: year}", "      year: {type: integer, min: 5, max: 1}"),
            8,
            "greater than max",
        ),
        (
            (
                "      year: {type: integer, format: year}",
                "      year: {type: text, references: arms.arm_id}",
            ),
            8,
            "references arms.arm_id",
        ),
        (("  studies:\n", "  studies:\n    label: 'A/B'\n"), 5, "31 characters"),
        (("      study_id: text", "      study_id: [text"), 8, "not valid YAML"),
        (
            ("      year: {type: integer, format: year}", "      year: {type: integer, if_reported: maybe}"),
            8,
            "if_reported: must be true or false",
        ),
        (
            (
                "      year: {type: integer, format: year}",
                "      year: {type: integer, required: true, if_reported: true}",
            ),
            8,
            "both required and if_reported",
        ),
        (
            (
                "      year: {type: integer, format: year}",
                "      year: {type: integer, unless_given: [median]}",
            ),
            8,
            "unless_given: 'median' is not another field",
        ),
    ],
)
def test_malformed_form_names_file_line_and_problem(tmp_path, change, line, words):
    path = tmp_path / "bad.yaml"
    path.write_text(MINIMAL.replace(*change), encoding="utf-8")
    with pytest.raises(FormError) as exc:
        load_form(path)
    message = str(exc.value)
    assert message.startswith(f"{path}, line {line}:"), message
    assert words in message


def test_rule_errors_point_at_the_rule(tmp_path):
    text = MINIMAL + "rules:\n  - rule: count-exceeds-total\n    table: studies\n    count: year\n"
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(FormError, match=r"line 10: rule 'count-exceeds-total' needs 'total:'"):
        load_form(path)
    path.write_text(text.replace("count-exceeds-total", "sum-of-things"), encoding="utf-8")
    with pytest.raises(FormError, match=r"line 10: unknown rule 'sum-of-things'"):
        load_form(path)
    path.write_text(text + "    total: nothing\n", encoding="utf-8")
    with pytest.raises(
        FormError, match=r"line 13: rule 'count-exceeds-total': total: 'nothing' is not a field"
    ):
        load_form(path)


def test_missing_codes_cannot_be_vocabulary_values(tmp_path):
    path = tmp_path / "v.yaml"
    path.write_text(MINIMAL + "vocabularies:\n  yesno: [yes, NR]\n", encoding="utf-8")
    with pytest.raises(FormError, match="line 10: vocabulary 'yesno' may not contain 'NR'"):
        load_form(path)
    assert set(MISSING_CODES) == {"NR", "NA"}


def test_missing_and_empty_form_files(tmp_path):
    with pytest.raises(FormError, match="form not found"):
        load_form(tmp_path / "none.yaml")
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    with pytest.raises(FormError, match="empty"):
        load_form(tmp_path / "empty.yaml")
