"""Validation: each check has a passing case (the complete study is clean) and a failing case asserting the
exact issues raised: code, sheet!cell and severity."""

from __future__ import annotations

import pytest
from conftest import complete_study, edited, write

from review.issues import CODES, RULE_KINDS, catalogue_markdown
from review.validate import RULE_CHECKS, implied_count, validate, validate_files, validate_frames
from review.workbook import read_workbook

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent


def _issues(form, tmp_path, data):
    report = validate(read_workbook(write(form, tmp_path / "w.xlsx", data=data), form))
    return {(i.code, f"{i.sheet}!{i.cell}", i.severity) for i in report}


def test_complete_study_is_clean(form, tmp_path):
    assert _issues(form, tmp_path, complete_study()) == set()


CASES = [
    # table checks
    (
        "duplicate-key",
        "arms",
        2,
        {"study_id": "T1", "arm_id": "low", "label": "again", "intervention": "drug", "pooled": True},
        {("duplicate-key", "Arms!A2", "error"), ("duplicate-key", "Arms!A4", "error")},
    ),
    (
        "unknown-reference",
        "response",
        0,
        {"arm_id": "mid"},
        {("unknown-reference", "Best response!B2", "error")},
    ),
    (
        "unknown-reference (arm of a comparison)",
        "hazard_ratios",
        0,
        {"control_arm": "placebo"},
        {("unknown-reference", "Hazard ratios!E2", "error")},
    ),
    # field checks
    ("required-empty", "arms", 0, {"label": None}, {("required-empty", "Arms!C2", "error")}),
    (
        "missing-code-in-key",
        "risk_of_bias",
        0,
        {"domain": "NR"},
        {("missing-code-in-key", "Risk of bias!B2", "error")},
    ),
    ("not-in-vocabulary", "arms", 0, {"dose_unit": "tablets"}, {("not-in-vocabulary", "Arms!F2", "error")}),
    (
        "out-of-range",
        "dichotomous",
        0,
        {"events": "NR", "total": 0, "percent": "NR"},
        {("out-of-range", "Dichotomous outcomes!F2", "error")},
    ),
    ("doi-format", "studies", 0, {"doi": "https://doi.org/10.1/x"}, {("doi-format", "Studies!E2", "error")}),
    ("pmid-format", "studies", 0, {"pmid": "PMID123"}, {("pmid-format", "Studies!F2", "error")}),
    ("nct-format", "studies", 0, {"registration": "NCT123"}, {("nct-format", "Studies!G2", "error")}),
    ("year-implausible", "studies", 0, {"year": 1850}, {("year-implausible", "Studies!D2", "error")}),
    (
        "zero-without-location",
        "safety",
        0,
        {"patients": 0, "percent": None, "location": None},
        {("zero-without-location", "Safety summary!D2", "error")},
    ),
    (
        "percent-looks-like-fraction",
        "dichotomous",
        0,
        {"events": None, "total": "NR", "percent": 0.6},
        {("percent-looks-like-fraction", "Dichotomous outcomes!G2", "warning")},
    ),
    # named rules of the form
    ("sum-mismatch", "studies", 0, {"randomised_total": 201}, {("sum-mismatch", "Studies!Q2", "error")}),
    (
        "count-exceeds-total",
        "dichotomous",
        0,
        {"events": 120, "percent": None},
        {("count-exceeds-total", "Dichotomous outcomes!E2", "error")},
    ),
    (
        "count-exceeds-total as a warning",
        "arms",
        0,
        {"evaluable_response": 101},
        {
            ("count-exceeds-total", "Arms!J2", "warning"),
            ("categories-sum-mismatch", "Best response!E2", "warning"),
        },
    ),
    (
        "categories-sum-mismatch",
        "response",
        1,
        {"count": 45, "percent": None},
        {("categories-sum-mismatch", "Best response!E2", "warning")},
    ),
    ("percent-mismatch", "response", 1, {"percent": 55}, {("percent-mismatch", "Best response!F3", "error")}),
    (
        "percent-no-whole-count",
        "response",
        1,
        {"count": None, "percent": 50.3},
        {
            ("percent-no-whole-count", "Best response!F3", "warning"),
            # 0 + 50.3% + 30/98 + 15/98 + 4/98 is 100.3% of the evaluable patients
            ("categories-exceed-denominator", "Best response!E2", "error"),
        },
    ),
    (
        "percent-without-denominator",
        "response",
        1,
        {"count": None, "denominator": None},
        {
            ("percent-without-denominator", "Best response!F3", "error"),
            ("not-extracted", "Best response!G3", "warning"),
            ("denominator-differs", "Best response!G3", "warning"),  # the arm's other rows give 98
            ("categories-sum-mismatch", "Best response!E2", "warning"),
        },
    ),
    (
        "grade-exceeds-any",
        "adverse_events",
        1,
        {"patients": 80, "percent": None},
        {("grade-exceeds-any", "Adverse events!F3", "error")},
    ),
    (
        "ci-excludes-estimate",
        "hazard_ratios",
        0,
        {"ci_low": 0.9},
        {("ci-excludes-estimate", "Hazard ratios!F2", "error")},
    ),
    (
        "ci-excludes-estimate (reversed)",
        "hazard_ratios",
        0,
        {"ci_low": 0.95, "hr": 0.95},
        {("ci-excludes-estimate", "Hazard ratios!G2", "error")},
    ),
    (
        "not-positive",
        "hazard_ratios",
        0,
        {"hr": 0, "ci_low": "NR", "ci_high": "NR"},
        {("not-positive", "Hazard ratios!F2", "error")},
    ),
    (
        "dates-out-of-order",
        "studies",
        0,
        {"enrolment_end": "2000-12"},
        {("dates-out-of-order", "Studies!P2", "error")},
    ),
    (
        "same-arm-twice",
        "hazard_ratios",
        0,
        {"control_arm": "high"},
        {("same-arm-twice", "Hazard ratios!E2", "error")},
    ),
]


@pytest.mark.parametrize(("name", "table", "row", "values", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_check_fails_where_it_should(form, tmp_path, name, table, row, values, expected):
    assert _issues(form, tmp_path, edited(table, row, **values)) == expected


@pytest.mark.parametrize(
    ("name", "table", "row", "values"),
    [
        (
            "a pooled arm is left out of the arm total",
            "arms",
            2,
            {
                "study_id": "T1",
                "arm_id": "all",
                "label": "Both",
                "intervention": "drug",
                "randomised": 200,
                "dose": "NA",
                "treated": "NR",
                "evaluable_response": "NR",
                "evaluable_safety": "NR",
                "pooled": True,
                "location": "T1",
            },
        ),
        ("a percentage stands in for a missing count", "response", 1, {"count": None, "percent": 50}),
        ("percent within its rounding", "response", 2, {"percent": 31}),
        ("a denominator typed NR is not an error", "dichotomous", 0, {"events": None, "total": "NR"}),
        (
            "a zero whose comment quotes the report",
            "safety",
            0,
            {"patients": 0, "percent": 0, "comment": "'There were no treatment-related deaths.'"},
        ),
        (
            "dates at different precision",
            "studies",
            0,
            {"enrolment_start": "2002-03", "enrolment_end": "2002-03-15"},
        ),
        ("NR in a required field", "arms", 0, {"label": "NR"}),
    ],
)
def test_passing_cases(form, tmp_path, name, table, row, values):
    assert _issues(form, tmp_path, edited(table, row, **values)) == set()


def test_issue_records_carry_everything_needed_to_fix(form, tmp_path):
    path = write(form, tmp_path / "w.xlsx", data=edited("response", 1, percent=55))
    (issue,) = validate(read_workbook(path, form)).issues
    assert (issue.file, issue.sheet, issue.cell, issue.table, issue.study_id, issue.field, issue.value) == (
        str(path),
        "Best response",
        "F3",
        "response",
        "T1",
        "percent",
        "55",
    )
    assert "49/98 = 50.00%" in issue.message and "Fix:" in issue.message


def test_implied_count():
    assert implied_count(49.3, 73) == 36
    assert implied_count(16.4, 73) == 12
    assert implied_count(69, 73) is None  # no whole count of 73 is 69% (50 -> 68.5%, 51 -> 69.9%)
    assert implied_count(50, 98) == 49


def test_validate_files_turns_unreadable_files_into_fatal_issues(form, tmp_path):
    good = write(form, tmp_path / "good.xlsx")
    report = validate_files([tmp_path / "missing.xlsx", good], form)
    assert [(i.code, i.severity) for i in report] == [("unreadable-file", "fatal")]
    assert report.exit_code == 2


def test_users_can_validate_their_own_dataframes(form):
    from review.schema import empty_frame

    dtypes = empty_frame(form, "arms").dtypes.to_dict()
    frame = complete_study()["arms"].reindex(columns=list(dtypes)).astype(dtypes)
    report = validate_frames(form, {"arms": frame.assign(dose_unit=["mg", "pills"])})
    assert {(i.code, i.cell) for i in report} >= {("not-in-vocabulary", "F3")}


def test_generated_schema_is_a_reusable_pandera_schema(form):
    import pandera.pandas as pa

    from review.schema import empty_frame, table_schema

    schema = table_schema(form, "adverse_events", require=True)
    assert isinstance(schema, pa.DataFrameSchema) and schema.unique == ["study_id", "arm_id", "term", "grade"]
    assert schema.columns["grade"].title == "Grade"
    dtypes = empty_frame(form, "adverse_events").dtypes.to_dict()
    good = complete_study()["adverse_events"].reindex(columns=list(dtypes)).astype(dtypes).assign(comment="x")
    schema.validate(good)
    with pytest.raises(pa.errors.SchemaError):
        schema.validate(good.assign(grade=["any", "grade 3"]))


def test_every_rule_kind_is_implemented_and_documented():
    assert set(RULE_CHECKS) == set(RULE_KINDS)
    docs = (ROOT / "docs" / "validation-rules.md").read_text(encoding="utf-8")
    assert docs == catalogue_markdown(), "regenerate: review rules --markdown > docs/validation-rules.md"
    for code in CODES:
        assert code == code.lower() and " " not in code


@pytest.mark.parametrize(("table", "column"), [("studies", "study_id"), ("adverse_events", "grade")])
def test_a_frame_without_a_key_column_is_a_clear_error(form, table, column):
    import pandas as pd

    from review.errors import ReviewError
    from review.schema import empty_frame

    frame = empty_frame(form, table)
    frame = frame.reindex(range(2)).astype(frame.dtypes.to_dict())
    frame["study_id"] = pd.array(["S1", "S2"], dtype=frame["study_id"].dtype)
    with pytest.raises(ReviewError, match=f"table {table}: column {column} is missing"):
        validate_frames(form, {table: frame.drop(columns=[column])})


def test_continuous_spreads_intervals_and_levels_are_checked_at_their_cells(form, tmp_path):
    from conftest import changed

    base = {"study_id": "T1", "outcome": "quality of life", "timepoint": "12 weeks", "n": 40}
    data = changed(
        {
            ("continuous", 0): {"mean": "27,0"},  # a decimal comma: refused, so not also 'empty'
            ("continuous", 1): {
                **base,
                "arm_id": "high",
                "mean": 30,
                "dispersion": 9,
                "dispersion_type": "SD",
            },
            ("continuous", 2): {**base, "arm_id": "low", "outcome": "pain", "median": 20, "q1": 26, "q3": 15},
            ("continuous", 3): {
                **base,
                "arm_id": "high",
                "outcome": "pain",
                "median": 20,
                "minimum": 40,
                "maximum": 5,
            },
            ("continuous", 4): {**base, "arm_id": "low", "outcome": "fatigue", "mean": 10, "ci_low": 8},
            ("continuous", 5): {
                **base,
                "arm_id": "high",
                "outcome": "fatigue",
                "mean": 12,
                "ci_low": 10,
                "ci_high": 14,
                "ci_level": 0.95,
            },
            ("continuous", 6): {
                **base,
                "arm_id": "low",
                "outcome": "sleep",
                "mean": 5,
                "ci_low": "abc",
                "ci_high": 7,
            },
            ("hazard_ratios", 0): {"ci_high": None},  # an end every row owes: not-extracted, said once
        }
    )
    report = validate(read_workbook(write(form, tmp_path / "w.xlsx", data=data), form))
    found = {(i.code, i.cell) for i in report.issues if i.sheet == "Continuous outcomes"}
    # a limit typed but unreadable is that error, not also 'empty'
    assert {code for code, cell in found if cell == "J8"} == {"not-a-number"}
    hr = {(i.code, i.cell) for i in report.issues if i.sheet == "Hazard ratios"}
    assert ("not-extracted", "H2") in hr and ("interval-incomplete", "H2") not in hr
    assert ("ambiguous-number", "F2") in found
    assert not {c for c, cell in found if cell == "F2"} - {"ambiguous-number"}  # no 'empty' warning at F2
    assert ("spread-excludes-value", "O4") in found  # First quartile 26 above Third quartile 15
    spread = [i for i in report.issues if i.code == "spread-excludes-value" and i.cell == "Q5"]
    # once, not thrice (the median's and both quartiles' rules share the range)
    assert [i.message.split(". Fix")[0] for i in spread] == ["Minimum 40 is above Maximum 5"]
    assert ("interval-incomplete", "K6") in found  # CI lower given, upper empty
    assert {("out-of-range", "L7"), ("percent-looks-like-fraction", "L7")} <= found  # a 95% CI typed as 0.95
    assert not [
        i for i in report.issues if i.code == "sibling-value-missing" and i.sheet == "Continuous outcomes"
    ]


def test_counts_beside_arms_with_no_size_typed_yet(form, tmp_path):
    # a half-filled workbook: no arm has its randomised or treated number yet (exceeds-arm-total raised IndexError)
    from conftest import changed

    data = changed({("arms", i): {"randomised": None, "treated": None} for i in range(2)})
    data["studies"] = data["studies"].assign(randomised_total=None)
    report = validate(read_workbook(write(form, tmp_path / "w.xlsx", data=data), form))
    assert not [i for i in report.issues if i.code == "exceeds-arm-total"]
    assert any(i.code == "not-extracted" and i.sheet == "Arms" for i in report.issues)


def test_an_sd_that_its_own_ci_contradicts(form, tmp_path):
    from conftest import changed

    base = {"study_id": "T1", "timepoint": "12 weeks", "n": 25, "ci_low": 8, "ci_high": 12}
    data = changed(
        {  # the CI 8 to 12 with n 25 gives an SD of sqrt(25) * 4 / (2 * qt(0.975, 24)) = 4.85, its SE 0.969
            ("continuous", 0): {"mean": 10, "dispersion": 0.97, "dispersion_type": "SD", **base},
            ("continuous", 1): {
                **base,
                "arm_id": "high",
                "outcome": "quality of life",
                "mean": 10,
                "dispersion": 4.85,
                "dispersion_type": "SE",
            },
            ("continuous", 2): {
                **base,
                "arm_id": "low",
                "outcome": "pain",
                "mean": 10,
                "dispersion": 5,
                "dispersion_type": "SD",
            },  # agrees with its CI
        }
    )
    report = validate(read_workbook(write(form, tmp_path / "w.xlsx", data=data), form))
    found = {
        i.cell: i.message.split(". Fix")[0] for i in report.issues if i.code == "dispersion-contradicts-ci"
    }
    assert found == {
        "G2": "SD 0.97 disagrees with the CI 8 to 12 (Continuous outcomes!J2), which with n 25 gives an SD of 4.85, "
        "whose SE is 0.969: as if the SE were typed as the SD",
        "G3": "SE 4.85 (an SD of 24.2) disagrees with the CI 8 to 12 (Continuous outcomes!J3), which with n 25 gives "
        "an SD of 4.85: as if the SD were typed as the SE",
    }
    assert all(i.severity == "warning" for i in report.issues if i.code == "dispersion-contradicts-ci")


def test_the_xlsx_report_shows_each_message_whole(form, tmp_path):
    from openpyxl import load_workbook

    from review.issues import COLUMNS
    from review.validate import write_report

    data = edited("arms", 1, randomised="n=100", treated="100 or 99")
    report = validate(read_workbook(write(form, tmp_path / "w.xlsx", data=data), form))
    ws = load_workbook(write_report(report, tmp_path / "issues.xlsx"))["Issues"]
    message = COLUMNS.index("message") + 1
    assert ws.max_row == len(report.issues) + 1
    for row in range(2, ws.max_row + 1):  # the message wraps; the row's other cells start at its top
        assert ws.cell(row=row, column=message).alignment.wrap_text
        assert ws.cell(row=row, column=1).alignment.vertical == "top"
    long = max(range(2, ws.max_row + 1), key=lambda r: len(ws.cell(row=r, column=message).value))
    assert len(ws.cell(row=long, column=message).value) > 90 and ws.row_dimensions[long].height > 15
