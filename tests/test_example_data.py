"""The shipped example: B2222 extracted from ../shared/sources/gist_imatinib.md validates, and its numbers are
the sourced ones (each pinned here with the source id the sources file gives)."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

from review.validate import validate
from review.workbook import read_workbook

WORKBOOK = ROOT / "data" / "gist_imatinib" / "reviewer_a.xlsx"


@pytest.fixture(scope="module")
def b2222(form):
    return read_workbook(WORKBOOK, form)


def test_validates_without_errors(b2222):
    report = validate(b2222)
    assert report.errors == [] and report.fatal == []
    # the one warning is a real inconsistency of the S2 review: 69% of 73 is no whole number of patients
    assert [(i.code, i.sheet, i.value) for i in report.warnings] == [
        ("percent-no-whole-count", "Dichotomous outcomes", "69")]


def test_sourced_values(b2222):
    study = b2222["studies"].iloc[0]
    assert (study["study_id"], study["doi"], study["pmid"], study["year"]) == (
        "B2222", "10.1056/NEJMoa020461", "12181401", 2002)  # S12
    assert study["randomised_total"] == 147  # S3
    arms = b2222["arms"].set_index("arm_id")
    assert arms.loc["400mg", "randomised"] == 73 and arms.loc["600mg", "randomised"] == 74  # S3
    response = b2222["response"]
    primary = response[response["timepoint"] == "primary report"].set_index(["arm_id", "category"])
    assert primary.loc[("400mg", "partial response"), "percent"] == 49.3  # S1
    assert primary.loc[("600mg", "partial response"), "percent"] == 58.1  # S1
    assert primary.loc[("600mg", "progressive disease"), "percent"] == 10.8  # S1
    # what no source states stays NR, never 0
    cr = b2222.tables["response"]
    cr_rows = cr.data.index[(cr.data["category"] == "complete response")]
    assert len(cr_rows) and all(cr.missing.at[r, "count"] == "NR" for r in cr_rows)


def test_every_number_cites_a_source_id(b2222):
    for name, table in b2222.tables.items():
        numeric = [f.name for f in table.table.fields.values() if f.numeric]
        for row in table.data.index:
            if table.data.loc[row, numeric].notna().any():
                source = table.data.at[row, "source"]
                assert isinstance(source, str) and re.search(r"\bS\d+\b", source), (name, row)
