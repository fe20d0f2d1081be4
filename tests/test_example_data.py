"""The shipped example: B2222 and the other imatinib trials, extracted independently by two reviewers from
../shared/sources/gist_imatinib.md, validate, and their numbers are the sourced ones (each pinned here with the
source id the sources file gives). Where the sources disagree, reviewer B took the other source."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

from review.validate import validate
from review.workbook import read_workbook

FOLDER = ROOT / "data" / "gist_imatinib"
WORKBOOK = FOLDER / "reviewer_a.xlsx"


@pytest.fixture(scope="module")
def example(form):
    return read_workbook(WORKBOOK, form)


@pytest.fixture(scope="module")
def reviewer_b(form):
    return read_workbook(FOLDER / "reviewer_b.xlsx", form)


def study(extraction, table, study_id):
    frame = extraction[table]
    return frame[frame["study_id"] == study_id]


def test_validates_without_errors(example, reviewer_b):
    report = validate(example)
    assert report.errors == [] and report.fatal == []
    # both warnings are real inconsistencies of the sources: 18% of 27 GIST patients (S26) and the S2 review's
    # 69% of 73 are no whole number of patients
    # and the consistency rules' warnings where the reports legitimately differ: the registry's 74 patients per
    # arm against the paper's 73 randomised to 400 mg (S4 vs S3), and EORTC 62001's subgroups reported for
    # different outcomes (S26)
    assert sorted((i.code, i.sheet, i.value) for i in report.warnings) == sorted(
        [
            ("percent-no-whole-count", "Best response", "18"),
            ("percent-no-whole-count", "Dichotomous outcomes", "69"),
            *[("exceeds-arm-total", "Dichotomous outcomes", "74")] * 7,
            ("exceeds-arm-total", "Safety summary", "74"),
            ("sibling-row-missing", "Survival per arm", "progression-free survival"),
            ("sibling-row-missing", "Survival per arm", "time to progression"),
        ]
    )
    report = validate(reviewer_b)
    assert report.errors == [] and report.fatal == []
    # B's: S1's 54% PR of 40 patients (van Oosterom), and the same 69% of 73
    assert sorted((i.code, i.sheet, i.value) for i in report.warnings) == [
        ("percent-no-whole-count", "Best response", "54"),
        ("percent-no-whole-count", "Dichotomous outcomes", "69"),
        ("sibling-row-missing", "Survival per arm", "progression-free survival"),
        ("sibling-row-missing", "Survival per arm", "time to progression"),
    ]


def test_sourced_values(example):
    b2222 = study(example, "studies", "B2222").iloc[0]
    assert (b2222["doi"], b2222["pmid"], b2222["year"]) == ("10.1056/NEJMoa020461", "12181401", 2002)  # S12
    assert b2222["randomised_total"] == 147  # S3
    arms = study(example, "arms", "B2222").set_index("arm_id")
    assert arms.loc["400mg", "randomised"] == 73 and arms.loc["600mg", "randomised"] == 74  # S3
    response = study(example, "response", "B2222")
    primary = response[response["timepoint"] == "primary report"].set_index(["arm_id", "category"])
    assert primary.loc[("400mg", "partial response"), "percent"] == 49.3  # S1
    assert primary.loc[("600mg", "partial response"), "percent"] == 58.1  # S1
    assert primary.loc[("600mg", "progressive disease"), "percent"] == 10.8  # S1
    # what no source states stays NR, never 0
    cr = example.tables["response"]
    cr_rows = cr.data.index[(cr.data["category"] == "complete response") & (cr.data["study_id"] == "B2222")]
    assert len(cr_rows) and all(cr.missing.at[r, "count"] == "NR" for r in cr_rows)


def test_other_trials_sourced_values(example):
    totals = example["studies"].set_index("study_id")["randomised_total"]
    assert (totals["EORTC 62005"], totals["S0033"], totals["EORTC 62001"], totals["STI571B1202"]) == (
        946,
        746,
        51,
        74,
    )  # S14, S20, S26, S29
    hr = study(example, "hazard_ratios", "EORTC 62005").iloc[0]
    assert (hr["hr"], hr["ci_low"], hr["ci_high"], hr["p_value"]) == (0.82, 0.69, 0.98, 0.026)  # S14
    gist = study(example, "response", "EORTC 62001").set_index("category")["percent"]
    assert gist["stable disease"] == 18 and gist["partial response"] == 67  # S26
    nishida = study(example, "response", "STI571B1202").set_index(["arm_id", "category"])
    assert nishida.loc[("all", "partial response"), "count"] == 51  # S29
    assert (
        nishida.loc[("all", "complete response"), "count"] == 0
    )  # S29: 'No patient had a complete response'
    schlemmer = example.tables["studies"]
    row = schlemmer.data.index[schlemmer.data["study_id"] == "Schlemmer 2011"][0]
    assert schlemmer.missing.at[row, "randomised_total"] == "NR"  # 95 treated; enrolment not stated


def test_reviewer_b_took_the_other_source(example, reviewer_b):
    a_totals = example["studies"].set_index("study_id")["randomised_total"]
    b_totals = reviewer_b["studies"].set_index("study_id")["randomised_total"]
    assert (a_totals["B2222"], b_totals["B2222"]) == (147, 148)  # S3 vs S5
    assert (a_totals["S0033"], b_totals["S0033"]) == (746, 748)  # S20 vs S21
    arms = study(reviewer_b, "arms", "B2222").set_index("arm_id")
    assert arms.loc["400mg", "randomised"] == 74  # S4 'STARTED | 74 | 74 |'


@pytest.mark.parametrize("which", ["example", "reviewer_b"])
def test_every_number_cites_a_source_id(which, request):
    extraction = request.getfixturevalue(which)
    for name, table in extraction.tables.items():
        numeric = [f.name for f in table.table.fields.values() if f.numeric]
        for row in table.data.index:
            if table.data.loc[row, numeric].notna().any():
                source = table.data.at[row, "source"]
                assert isinstance(source, str) and re.search(r"\bS\d+\b", source), (name, row)
