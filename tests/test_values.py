"""What reviewers type: accepted with a warning when unambiguous, refused with an error when not."""

from __future__ import annotations

import datetime as dt

import pytest

from review.forms import Field
from review.values import parse_value

INT = Field("randomised", "integer", "Randomised")
NUM = Field("dose", "number", "Dose")
PCT = Field("percent", "percent", "Percent", min=0, max=100)
DATE = Field("enrolment_start", "date", "Enrolment start")
BOOL = Field("multicentre", "boolean", "Multicentre")
CAT = Field("grade", "category", "Grade", values=("any", "3-4", "3 or higher"))
TEXT = Field("citation", "text", "Citation")
ID = Field("arm_id", "text", "Arm ID")


@pytest.mark.parametrize(
    ("raw", "field", "value", "codes"),
    [
        (73.0, INT, 73, ()),
        ("73", INT, 73, ("number-as-text",)),
        ("n=73", INT, 73, ("count-prefix",)),
        ("N = 73", INT, 73, ("count-prefix",)),
        ("1,234", INT, 1234, ("thousands-separator",)),
        ("  73 ", INT, 73, ("extra-spaces", "number-as-text")),
        ("49.3%", PCT, 49.3, ("percent-sign",)),
        (49.3, PCT, 49.3, ()),
        ("\u22122.5", NUM, -2.5, ("number-as-text",)),
        ("1e3", NUM, 1000.0, ("number-as-text",)),
        ("2000-06", DATE, "2000-06", ()),
        ("2000", DATE, "2000", ()),
        (2000.0, DATE, "2000", ()),
        (dt.datetime(2002, 3, 15), DATE, "2002-03-15", ()),
        (36678.0, DATE, "2000-06-01", ("date-serial",)),
        ("June 2000", DATE, "2000-06", ("date-as-text",)),
        ("15 June 2000", DATE, "2000-06-15", ("date-as-text",)),
        ("Jun 15, 2000", DATE, "2000-06-15", ("date-as-text",)),
        ("15/06/2000", DATE, "2000-06-15", ("date-as-text",)),
        ("2000/06/15", DATE, "2000-06-15", ("date-as-text",)),
        (True, BOOL, True, ()),
        ("yes", BOOL, True, ()),
        ("FALSE", BOOL, False, ()),
        ("3-4", CAT, "3-4", ()),
        ("3 Or Higher", CAT, "3 or higher", ("vocabulary-case",)),
        (2222.0, ID, "2222", ()),
        (" 400mg", ID, "400mg", ("extra-spaces",)),
        ("  Doe J.  A trial ", TEXT, "Doe J. A trial", ()),
    ],
)
def test_accepted(raw, field, value, codes):
    parsed = parse_value(raw, field)
    assert parsed.value == value
    assert type(parsed.value) is type(value)
    assert parsed.codes == codes
    assert parsed.missing == ""


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("NR", "NR"),
        ("NA", "NA"),
        ("nr", "NR"),
        ("N/R", "NR"),
        ("n.r.", "NR"),
        ("not reported", "NR"),
        ("n/a", "NA"),
        ("Not applicable", "NA"),
    ],
)
def test_missing_codes_and_their_variants(raw, code):
    parsed = parse_value(raw, INT)
    assert parsed.value is None and parsed.missing == code
    assert parsed.codes == (() if raw in ("NR", "NA") else ("missing-code-variant",))


def test_empty_is_neither_missing_code_nor_zero():
    for raw in (None, "", "   "):
        parsed = parse_value(raw, INT)
        assert parsed.is_empty and parsed.missing == "" and parsed.value is None
    zero = parse_value(0.0, INT)
    assert zero.value == 0 and not zero.is_empty


@pytest.mark.parametrize(
    ("raw", "field", "code"),
    [
        ("73 or 74", INT, "ambiguous-number"),
        ("<5", INT, "ambiguous-number"),
        ("~50", INT, "ambiguous-number"),
        ("12-15", INT, "ambiguous-number"),
        ("1,5", NUM, "ambiguous-number"),
        ("36 (49.3%)", INT, "ambiguous-number"),
        ("49.3%", INT, "ambiguous-number"),
        ("about 40", INT, "ambiguous-number"),
        ("many", INT, "not-a-number"),
        (True, INT, "not-a-number"),
        (73.5, INT, "not-a-whole-number"),
        ("03/04/2002", DATE, "ambiguous-date"),
        ("last spring", DATE, "not-a-date"),
        ("2002-13", DATE, "not-a-date"),
        ("maybe", BOOL, "not-a-boolean"),
    ],
)
def test_refused(raw, field, code):
    parsed = parse_value(raw, field)
    assert parsed.value is None
    assert code in parsed.codes


def test_csv_text_is_not_flagged_as_number_stored_as_text():
    assert parse_value("73", INT, from_text=True).codes == ()
    assert parse_value("73", INT, from_text=False).codes == ("number-as-text",)


def test_unknown_category_is_kept_for_the_schema_to_report():
    parsed = parse_value("grade 3", CAT)
    assert parsed.value == "grade 3" and parsed.codes == ()
