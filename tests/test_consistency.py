"""Consistency rules (review/consistency.py): each with a failing case asserting code, sheet!cell and severity,
and a passing case from the same invented trial (tests/conftest.py complete_study: arms 'low' and 'high')."""

from __future__ import annotations

import pytest
from conftest import changed, write

from review.consistency import states_zero
from review.validate import validate
from review.workbook import read_workbook

SURVIVAL = {
    "study_id": "T1",
    "outcome": "progression-free survival",
    "timepoint": "median",
    "median_ci_low": "NR",
    "median_ci_high": "NR",
    "time_unit": "months",
    "rate": "NA",
    "source": "main",
    "location": "p. 4",
}


OR_LOW = {"arm_id": "low", "outcome": "objective response", "timepoint": "primary"}
OS_CI = {"median_ci_low": 50.0, "median_ci_high": 66.0}


def _issues(form, tmp_path, data):
    report = validate(read_workbook(write(form, tmp_path / "w.xlsx", data=data), form))
    return {(i.code, f"{i.sheet}!{i.cell}", i.severity) for i in report}


def rates(*points):
    """Landmark overall survival rates of arm low, beside its median of 55 months."""
    row = SURVIVAL | {"arm_id": "low", "outcome": "overall survival", "median": "NA", "time_unit": "NA"}
    row |= {"median_ci_low": "NA", "median_ci_high": "NA"}
    return {("survival", i): row | {"timepoint": t, "rate": r} for i, (t, r) in enumerate(points, start=1)}


FAILING = [
    (
        "rates-over-time: a later rate above an earlier one",
        rates(("1 year", 80), ("2 years", 85)),
        {("rates-over-time", "Survival per arm!I4", "warning")},
    ),
    (
        "rates-over-time: above 50% after the median (5 years against 55 months)",
        rates(("5 years", 60)),
        {("rates-over-time", "Survival per arm!I3", "warning")},
    ),
    (
        "sibling-value-missing on the arms sheet: a dose on one arm, NR on the other",
        {("arms", 1): {"dose": "NR"}},
        {("sibling-value-missing", "Arms!E3", "warning")},
    ),
    (
        "not-extracted: a count and its percentage both left empty",
        {("dichotomous", 0): {"events": None, "percent": None}},
        {
            ("not-extracted", "Dichotomous outcomes!E2", "warning"),
            ("not-extracted", "Dichotomous outcomes!G2", "warning"),
        },
    ),
    (
        "zero-not-stated: a zero whose comment does not quote the report",
        {("safety", 0): {"patients": 0, "percent": 0}},
        {
            ("zero-not-stated", "Safety summary!D2", "warning"),
            ("zero-not-stated", "Safety summary!F2", "warning"),
        },
    ),
    (
        "sibling-value-missing: a number on one arm, NR on its sibling",
        {
            ("dichotomous", 1): {
                "study_id": "T1",
                "arm_id": "low",
                "outcome": "progression-free",
                "timepoint": "1 year",
                "events": "NR",
                "total": 100,
                "percent": "NR",
                "location": "p. 3",
            }
        },
        {
            ("sibling-value-missing", "Dichotomous outcomes!E3", "warning"),
            ("sibling-value-missing", "Dichotomous outcomes!G3", "warning"),
        },
    ),
    (
        "sibling-row-missing: each arm has an outcome the other lacks",
        {("survival", 1): SURVIVAL | {"arm_id": "high", "median": 30.0}},
        {
            ("sibling-row-missing", "Survival per arm!C2", "warning"),
            ("sibling-row-missing", "Survival per arm!C3", "warning"),
        },
    ),
    (
        "unit-differs-between-arms: months on one arm, weeks on the other",
        {
            ("survival", 1): SURVIVAL
            | {
                "arm_id": "high",
                "outcome": "overall survival",
                "median": 58.0,
                **OS_CI,
                "time_unit": "weeks",
            }
        },
        {
            ("unit-differs-between-arms", "Survival per arm!H2", "warning"),
            ("unit-differs-between-arms", "Survival per arm!H3", "warning"),
        },
    ),
    (
        "denominator-differs: one category over another arm's number",
        {("response", 2): {"denominator": 100, "percent": 30}},
        {("denominator-differs", "Best response!G4", "warning")},
    ),
    (
        "denominator-differs: across tables, for the same arm and timepoint",
        {("dichotomous", 0): OR_LOW | {"events": 49, "total": 99, "percent": 49.5}},
        {("denominator-differs", "Dichotomous outcomes!F2", "warning")},
    ),
    (
        "denominator-differs: NR where the arm's other rows give the denominator",
        {("response", 2): {"denominator": "NR"}},
        {("denominator-differs", "Best response!G4", "warning")},
    ),
    (
        "percent-mismatch: a zero count with a positive percentage, even without a total",
        {("safety", 0): {"patients": 0, "percent": 1, "at_risk": "NR", "comment": "'none'"}},
        {("percent-mismatch", "Safety summary!D2", "error")},
    ),
    (
        "exceeds-arm-total: a total larger than the arm's randomised and treated",
        {("dichotomous", 0): {"total": 101, "percent": 59.4}},
        {("exceeds-arm-total", "Dichotomous outcomes!F2", "warning")},
    ),
    (
        "categories-exceed-denominator: with evaluable NR, the rows' own denominator bounds them",
        {("arms", 0): {"evaluable_response": "NR"}, ("response", 2): {"count": 40, "percent": 40.8}},
        {("categories-exceed-denominator", "Best response!E2", "error")},
    ),
    (
        "categories-exceed-denominator: percentages over 100 beyond rounding",
        {
            ("arms", 0): {"evaluable_response": "NR"},
            ("response", 1): {"count": None, "percent": 55},
            ("response", 2): {"count": None, "percent": 30.6},
        },
        {("categories-exceed-denominator", "Best response!E2", "error")},
    ),
    (
        "comparison-label-reversed: the label names the control arm first",
        {("hazard_ratios", 0): {"comparison": "low vs high"}},
        {("comparison-label-reversed", "Hazard ratios!D2", "error")},
    ),
    (
        "ratio-against-medians: HR favours high but high's median is shorter",
        {
            ("survival", 1): SURVIVAL | {"arm_id": "low", "median": 10.0},
            ("survival", 2): SURVIVAL | {"arm_id": "high", "median": 8.0},
            ("survival", 3): SURVIVAL
            | {"arm_id": "high", "outcome": "overall survival", "median": 58.0, **OS_CI},
        },
        {("ratio-against-medians", "Hazard ratios!F2", "warning")},
    ),
]

PASSING = [
    (
        "rates falling over time, each on its side of the median",
        rates(("1 year", 90), ("24 months", 80), ("5 years", 40)),
    ),
    ("a count left empty where its percentage is given", {("dichotomous", 0): {"events": None}}),
    ("NR and NA are statements, not gaps", {("dichotomous", 0): {"events": "NR", "percent": "NA"}}),
    (
        "sibling arms with a number on both",
        {
            ("dichotomous", 1): {
                "study_id": "T1",
                "arm_id": "low",
                "outcome": "progression-free",
                "timepoint": "1 year",
                "events": 55,
                "total": 100,
                "percent": 55,
                "location": "p. 3",
            }
        },
    ),
    (
        "sibling arms with NR on both",
        {
            ("dichotomous", 0): {"events": "NR", "percent": "NR"},
            ("dichotomous", 1): {
                "study_id": "T1",
                "arm_id": "low",
                "outcome": "progression-free",
                "timepoint": "1 year",
                "events": "NR",
                "total": 100,
                "percent": "NR",
                "location": "p. 3",
            },
        },
    ),
    (
        "a pooled arm may report what its arms do not",
        {
            ("arms", 2): {
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
            },
            ("dichotomous", 1): {
                "study_id": "T1",
                "arm_id": "all",
                "outcome": "remained on drug",
                "timepoint": "1 year",
                "events": 120,
                "total": 200,
                "percent": 60,
                "location": "p. 3",
            },
        },
    ),
    (
        "HR and medians agree; the label names the experimental arm first",
        {
            ("survival", 1): SURVIVAL | {"arm_id": "low", "median": 8.0},
            ("survival", 2): SURVIVAL | {"arm_id": "high", "median": 10.0},
            ("survival", 3): SURVIVAL
            | {"arm_id": "high", "outcome": "overall survival", "median": 58.0, **OS_CI},
        },
    ),
    (
        "medians in different units are not compared with the HR (the unit rule says so)",
        {("hazard_ratios", 0): {"comparison": "high versus low"}},
    ),
    (
        "categories within their own denominator when evaluable is NR",
        {("arms", 0): {"evaluable_response": "NR"}},
    ),
    ("a total within the arm's treated number", {("dichotomous", 0): {"total": 100}}),
    (
        "one denominator across tables",
        {("dichotomous", 0): OR_LOW | {"events": 49, "total": 98, "percent": 50}},
    ),
]


@pytest.mark.parametrize(("name", "edits", "expected"), FAILING, ids=[c[0].split(":")[0] for c in FAILING])
def test_rule_fires_where_it_should(form, tmp_path, name, edits, expected):
    assert _issues(form, tmp_path, changed(edits)) == expected


@pytest.mark.parametrize(("name", "edits"), PASSING, ids=[c[0] for c in PASSING])
def test_rule_stays_silent_on_consistent_data(form, tmp_path, name, edits):
    assert _issues(form, tmp_path, changed(edits)) == set()


def test_messages_name_every_cell_involved(form, tmp_path):
    data = changed(
        {
            ("survival", 1): SURVIVAL | {"arm_id": "low", "median": 10.0},
            ("survival", 2): SURVIVAL | {"arm_id": "high", "median": 8.0},
            ("survival", 3): SURVIVAL
            | {"arm_id": "high", "outcome": "overall survival", "median": 58.0, **OS_CI},
        }
    )
    (issue,) = validate(read_workbook(write(form, tmp_path / "w.xlsx", data=data), form)).issues
    assert "Survival per arm!E3" in issue.message and "Survival per arm!E4" in issue.message


def test_sum_mismatch_names_the_parts(form, tmp_path):
    data = changed({("studies", 0): {"randomised_total": 201}})
    (issue,) = validate(read_workbook(write(form, tmp_path / "w.xlsx", data=data), form)).issues
    assert issue.cell == "Q2" and "Arms!H2" in issue.message and "Arms!H3" in issue.message


def test_states_zero():
    assert states_zero("S26 'no patient was taken off study'")
    assert states_zero(None, "'Abnormal laboratory value | 0 | 4 |'")
    assert not states_zero("Table 2", "median 10.5 months")
    assert not states_zero("p. 10", "0.5 mg/kg")


def test_clean_example_has_no_error():
    from conftest import ROOT

    from review.forms import load_form

    form = load_form(ROOT / "extraction_forms" / "oncology_trial.yaml")
    for name in ("reviewer_a.xlsx", "reviewer_b.xlsx"):
        report = validate(read_workbook(ROOT / "data" / "gist_imatinib" / name, form))
        assert report.errors == [], report
        # the only new warnings: a registry's 74 against the paper's 73 randomised, and subgroups reported apart
        assert set(report.codes()) <= {"percent-no-whole-count", "exceeds-arm-total", "sibling-row-missing"}
