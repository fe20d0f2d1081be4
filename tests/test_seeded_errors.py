"""The deterministic part of benchmarks/seeded_errors.py: one error of each kind seeded into the example's
reviewer A workbook; compare against the clean copy must find each with the type the kind calls for, and the
clean workbook must raise no validation error. (The benchmark reports the shares over many seeds.)"""

from __future__ import annotations

import random
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import seeded_errors  # noqa: E402

from review.compare import compare  # noqa: E402
from review.forms import load_form  # noqa: E402
from review.validate import validate  # noqa: E402
from review.workbook import read_workbook  # noqa: E402


@pytest.fixture(scope="module")
def clean():
    form = load_form(ROOT / "extraction_forms" / "oncology_trial.yaml")
    return read_workbook(ROOT / "data" / "gist_imatinib" / "reviewer_a.xlsx", form)


@pytest.mark.parametrize("kind", list(seeded_errors.KINDS))
def test_compare_finds_each_seeded_error_with_its_type(clean, kind):
    rng = random.Random(f"{kind}-7")
    seeded = seeded_errors.clone(clean, "seeded.xlsx")
    error = seeded_errors.KINDS[kind](seeded, rng)
    caught, typed = seeded_errors.caught_by_compare(error, compare([clean, seeded]))
    assert caught and typed, (kind, error)


def test_validation_locates_an_inverted_hazard_ratio(clean):
    seeded = seeded_errors.clone(clean, "seeded.xlsx")
    error = seeded_errors.hr_inverted(seeded, random.Random(1))
    clean_issues = {(i.code, i.sheet, i.cell, i.message) for i in validate(clean)}
    assert seeded_errors.caught_by_validation(error, clean_issues, validate(seeded))[0]


def test_the_clean_workbook_raises_no_error_and_agrees_with_itself(clean):
    assert validate(clean).errors == []
    assert len(compare([clean, seeded_errors.clone(clean, "copy.xlsx")])) == 0
