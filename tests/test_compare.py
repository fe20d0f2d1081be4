"""Comparing independent extractions: alignment on keys, each discrepancy type, rounding tolerance, agreement
figures and Cohen's kappa against hand-computed values."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from conftest import changed, complete_study, write

from review.compare import ROW, cohen_kappa, compare
from review.errors import ReviewError
from review.workbook import read_workbook


def extraction(form, path, data=None, reviewer=""):
    return read_workbook(write(form, path, data, reviewer=reviewer), form)


@pytest.fixture(scope="module")
def a(form, tmp_path_factory):
    return extraction(form, tmp_path_factory.mktemp("a") / "a.xlsx", reviewer="Ann")


def pair(form, tmp_path, a, edits):
    b = extraction(form, tmp_path / "b.xlsx", changed(edits), reviewer="Ben")
    return compare([a, b])


def only(comparison):
    frame = comparison.to_frame()
    assert len(frame) == 1, frame
    return frame.iloc[0]


def test_identical_extractions_agree_everywhere(form, tmp_path, a):
    result = pair(form, tmp_path, a, {})
    assert len(result) == 0 and result.to_frame().empty
    overall = result.overall().iloc[0]
    assert overall["pair"] == "A-B" and (overall["reviewer_1"], overall["reviewer_2"]) == ("Ann", "Ben")
    assert overall["agreed"] == overall["units"] > 0 and overall["agreement"] == 100.0
    assert overall["numeric_exact"] == 100.0


def test_numeric_discrepancy_names_both_cells(form, tmp_path, a):
    row = only(pair(form, tmp_path, a, {("arms", 0): {"randomised": 101}}))
    assert (row["id"], row["table"], row["row"], row["field"], row["type"]) == (
        "D1",
        "arms",
        "T1 | low",
        "randomised",
        "numeric",
    )
    assert (row["A_value"], row["B_value"]) == ("100", "101")
    assert row["A_where"] == f"{a.source}:Arms!H2" and row["B_where"] == f"{tmp_path / 'b.xlsx'}:Arms!H2"
    assert (row["A_location"], row["B_source"]) == ("T1", "main")
    assert "difference 1" in row["detail"]


@pytest.mark.parametrize(
    "edits",
    [
        {("response", 2): {"percent": 30.62}},  # 30.6 printed is 30.62 rounded
        {("response", 2): {"percent": 31}},  # 31% is 30.6% rounded to a whole number
        {("studies", 0): {"follow_up": 24.54}},
        {("studies", 0): {"enrolment_start": "2001-02-15"}},  # the same month, given to the day
        {("arms", 0): {"label": "low  DOSE"}},  # text differing in case and spacing only
        {("response", 1): {"count": None}},  # the count 49 that 50% of 98 stands for
        {("response", 1): {"percent": None}},  # and the percentage that 49 of 98 is
    ],
)
def test_equal_after_rounding_or_derivation_is_no_discrepancy(form, tmp_path, a, edits):
    result = pair(form, tmp_path, a, edits)
    assert len(result) == 0, result
    (table, row), values = next(iter(edits.items()))
    key = result.aligned[table][row][0]
    status = {u.status for u in result.units if (u.table, u.key) == (table, key) and u.field in values}
    assert status <= {"equivalent", "derived"} and status


@pytest.mark.parametrize(
    "edits, value",
    [
        ({("response", 2): {"percent": 30.7}}, "30.7"),  # beyond the rounding of either
        ({("response", 2): {"percent": 30.66}}, "30.66"),
        ({("response", 1): {"count": None, "percent": 51}}, ""),  # 51% of 98 is 50, not 49
    ],
)
def test_beyond_rounding_is_a_discrepancy(form, tmp_path, a, edits, value):
    result = pair(form, tmp_path, a, edits)
    assert len(result) >= 1
    assert value == "" or result.to_frame()["B_value"].tolist() == [value]


def test_arms_swapped_across_rows(form, tmp_path, a):
    result = pair(form, tmp_path, a, {("arms", 0): {"treated": 100}, ("arms", 1): {"treated": 99}})
    frame = result.to_frame()
    assert frame[["row", "field", "type", "A_value", "B_value"]].values.tolist() == [
        ["T1 | low", "treated", "arms-swapped", "99", "100"],
        ["T1 | high", "treated", "arms-swapped", "100", "99"],
    ]


def test_arms_swapped_between_experimental_and_control(form, tmp_path, a):
    result = pair(
        form, tmp_path, a, {("hazard_ratios", 0): {"experimental_arm": "low", "control_arm": "high"}}
    )
    assert result.to_frame()[["field", "type"]].values.tolist() == [
        ["experimental_arm", "arms-swapped"],
        ["control_arm", "arms-swapped"],
    ]


def test_two_different_numbers_on_two_arms_are_not_a_swap(form, tmp_path, a):
    result = pair(form, tmp_path, a, {("arms", 0): {"treated": 98}, ("arms", 1): {"treated": 97}})
    assert result.to_frame()["type"].tolist() == ["numeric", "numeric"]


def test_zero_versus_not_reported(form, tmp_path):
    zero = extraction(form, tmp_path / "zero.xlsx", changed({("safety", 0): {"patients": 0, "percent": 0}}))
    nr = extraction(form, tmp_path / "nr.xlsx", changed({("safety", 0): {"patients": "NR", "percent": 0}}))
    row = only(compare([zero, nr]))
    assert (row["field"], row["type"], row["A_value"], row["B_value"]) == (
        "patients",
        "zero-vs-nr",
        "0",
        "NR",
    )
    assert row["A_where"].endswith("Safety summary!D2")


@pytest.mark.parametrize(
    "edits, field, b_value",
    [
        ({("arms", 0): {"treated": None}}, "treated", ""),  # empty: not extracted
        ({("arms", 0): {"treated": "NR"}}, "treated", "NR"),  # NR against a number
        ({("studies", 0): {"funding": "Novartis"}}, "funding", "Novartis"),  # a value against NR
    ],
)
def test_omission(form, tmp_path, a, edits, field, b_value):
    row = only(pair(form, tmp_path, a, edits))
    assert (row["field"], row["type"], row["B_value"]) == (field, "omission", b_value)


def test_row_present_in_one_extraction_only(form, tmp_path, a):
    data = complete_study()
    data["response"] = data["response"].iloc[:-1]  # B did not extract 'not evaluable'
    b = extraction(form, tmp_path / "b.xlsx", data)
    result = compare([a, b])
    row = only(result)
    assert (row["row"], row["field"], row["type"]) == ("T1 | low | primary | not evaluable", ROW, "omission")
    assert (row["A_value"], row["B_value"]) == ("present", "(no row)")
    assert row["A_where"].endswith("Best response!A6") and row["detail"] == "only A has this row; B has not"
    # its values count against agreement: B gave none of the row's three numbers
    count = result.agreement.query("table == 'response' and field == 'count'").iloc[0]
    assert (count["units"], count["agreed"]) == (5, 4)


def test_category_and_text(form, tmp_path, a):
    result = pair(
        form,
        tmp_path,
        a,
        {
            ("studies", 0): {
                "blinding": "double-blind",
                "citation": "Doe J. Other.",
                "notes": "something else",
            }
        },
    )
    frame = result.to_frame().set_index("field")
    assert frame.loc["blinding", "type"] == "category" and frame.loc["citation", "type"] == "text"
    assert "notes" not in frame.index  # an annotation: carried along, never compared


def test_not_reported_versus_not_applicable_is_a_category(form, tmp_path, a):
    result = pair(form, tmp_path, a, {("studies", 0): {"notes": "x", "funding": "NA"}})
    row = only(result)
    assert (row["field"], row["type"], row["A_value"], row["B_value"]) == ("funding", "category", "NR", "NA")


def test_cohen_kappa_hand_computed():
    # 50 pairs: 20 yes/yes, 5 yes/no, 10 no/yes, 15 no/no.
    # po = 35/50 = 0.7; marginals A (0.5, 0.5), B (0.6, 0.4); pe = 0.5*0.6 + 0.5*0.4 = 0.5; kappa = 0.4.
    # Fleiss, Cohen & Everitt (1969): sum_i p_ii [1 - (p_i. + p_.i)(1 - k)]^2 = 0.4*0.34^2 + 0.3*0.46^2 = 0.10972;
    # (1 - k)^2 sum_{i!=j} p_ij (p_.i + p_j.)^2 = 0.36 * (0.1*1.1^2 + 0.2*0.9^2) = 0.10188;
    # (k - pe(1 - k))^2 = 0.01; var = (0.10972 + 0.10188 - 0.01) / (50 * 0.5^2) = 0.016128.
    first = ["yes"] * 25 + ["no"] * 25
    second = ["yes"] * 20 + ["no"] * 5 + ["yes"] * 10 + ["no"] * 15
    kappa, low, high = cohen_kappa(first, second)
    se = math.sqrt(0.016128)
    assert kappa == pytest.approx(0.4, abs=1e-12)
    assert (low, high) == pytest.approx(
        (0.4 - 1.959963984540054 * se, 0.4 + 1.959963984540054 * se), abs=1e-12
    )
    assert (low, high) == pytest.approx((0.151092, 0.648908), abs=1e-6)  # statsmodels' cohens_kappa agrees


def test_cohen_kappa_edges():
    assert all(math.isnan(x) for x in cohen_kappa(["a", "a"], ["a", "a"]))  # one label throughout: undefined
    assert all(math.isnan(x) for x in cohen_kappa([], []))
    assert cohen_kappa(["a", "b", "a"], ["a", "b", "a"]) == (1.0, 1.0, 1.0)
    assert cohen_kappa(["a", "b"], ["b", "a"])[0] == pytest.approx(-1.0)


def test_agreement_figures_pinned(form, tmp_path):
    domains = [
        "randomisation process",
        "deviations from intended interventions",
        "missing outcome data",
        "measurement of the outcome",
        "selection of the reported result",
        "overall",
    ]

    def rob(judgements):
        data = complete_study()
        data["risk_of_bias"] = pd.DataFrame(
            {
                "study_id": "T1",
                "domain": domains,
                "judgement": judgements,
                "support": "quote",
                "source": "main",
                "location": "Methods",
            }
        )
        return data

    a = extraction(
        form, tmp_path / "a.xlsx", rob(["low", "low", "some concerns", "high", "low", "some concerns"])
    )
    b = extraction(
        form, tmp_path / "b.xlsx", rob(["low", "some concerns", "some concerns", "high", "low", "low"])
    )
    result = compare([a, b])
    judgement = result.agreement.query("table == 'risk_of_bias' and field == 'judgement'").iloc[0]
    # po = 4/6; marginals of both: high 1/6, low 3/6, some concerns 2/6; pe = 14/36; kappa = (24 - 14)/22 = 5/11
    assert (judgement["units"], judgement["agreed"], judgement["kappa_units"]) == (6, 4, 6)
    assert judgement["agreement"] == pytest.approx(400 / 6)
    assert judgement["kappa"] == pytest.approx(5 / 11)
    assert judgement["kappa_low"] < 5 / 11 < judgement["kappa_high"]
    table = result.agreement.query("table == 'risk_of_bias' and field == ''").iloc[0]
    assert (table["units"], table["agreed"]) == (12, 10)  # judgement and support, 6 rows each
    assert result.type_counts() == {"category": 2}


def test_numeric_exact_share_counts_rounding_as_agreement_but_not_exact(form, tmp_path, a):
    result = pair(form, tmp_path, a, {("response", 2): {"percent": 30.62}})
    percent = result.agreement.query("table == 'response' and field == 'percent'").iloc[0]
    assert (percent["units"], percent["agreed"], percent["numeric_units"]) == (5, 5, 5)
    assert percent["numeric_exact"] == pytest.approx(80.0)


def test_three_reviewers(form, tmp_path, a):
    b = extraction(form, tmp_path / "b.xlsx", changed({("arms", 0): {"randomised": 101}}))
    c = extraction(form, tmp_path / "c.xlsx", changed({("arms", 0): {"randomised": 101}}), reviewer="prefill")
    result = compare([a, b, c])
    row = only(result)
    assert (row["A_value"], row["B_value"], row["C_value"]) == ("100", "101", "101")
    overall = result.overall().set_index("pair")
    assert list(overall.index) == ["A-B", "A-C", "B-C"]
    assert overall.loc["B-C", "agreement"] == 100.0 and overall.loc["A-B", "agreement"] < 100.0
    assert (
        result.reviewers[1].name == "b" and result.reviewers[2].name == "prefill"
    )  # file stem without a name


def test_duplicate_key_cannot_be_aligned(form, tmp_path, a):
    data = complete_study()
    data["arms"] = pd.concat([data["arms"], data["arms"].iloc[[0]]], ignore_index=True)
    b = extraction(form, tmp_path / "b.xlsx", data)
    with pytest.raises(
        ReviewError, match=r"b\.xlsx: sheet Arms, rows 2 and 4 have the same key \(T1 \| low\)"
    ):
        compare([a, b])


def test_refuses_the_same_file_twice_and_a_single_extraction(form, tmp_path, a):
    with pytest.raises(ReviewError, match="same file"):
        compare([a, read_workbook(a.source, form)])
    with pytest.raises(ReviewError, match="at least two"):
        compare([a])


def test_repr_and_html(form, tmp_path, a):
    result = pair(form, tmp_path, a, {("arms", 0): {"randomised": 101}})
    text = repr(result)
    assert "A (Ann)" in text and "D1" in text and "A 100 / B 101" in text
    assert "1 numeric" in result.summary() and "<table" in result._repr_html_()


# --- blind spots (issue 16): swaps within rounding, scale, inverted ratios, rows filed under another key -------

PFS = {
    "study_id": "T1",
    "outcome": "progression-free survival",
    "timepoint": "median",
    "median_ci_low": "NR",
    "median_ci_high": "NR",
    "time_unit": "years",
    "rate": "NA",
    "location": "p. 4",
}


def medians(low, high):
    return {
        ("survival", 1): PFS | {"arm_id": "low", "median": low},
        ("survival", 2): PFS | {"arm_id": "high", "median": high},
    }


@pytest.mark.parametrize(("low", "high"), [(1.7, 2.0), (57.0, 57.3)])
def test_a_crossing_of_two_arms_is_a_swap_before_any_rounding(form, tmp_path, low, high):
    a = extraction(form, tmp_path / "a.xlsx", changed(medians(low, high)))
    b = extraction(form, tmp_path / "b.xlsx", changed(medians(high, low)))
    result = compare([a, b])
    frame = result.to_frame()
    assert frame[["row", "field", "type", "A_value", "B_value"]].values.tolist() == [
        [
            "T1 | low | progression-free survival | median",
            "median",
            "arms-swapped",
            str(low).rstrip("0").rstrip("."),
            str(high).rstrip("0").rstrip("."),
        ],
        [
            "T1 | high | progression-free survival | median",
            "median",
            "arms-swapped",
            str(high).rstrip("0").rstrip("."),
            str(low).rstrip("0").rstrip("."),
        ],
    ]
    assert frame["id"].tolist() == ["D1", "D1"] and len(result) == 1  # one discrepancy


@pytest.mark.parametrize(
    ("a_value", "b_value", "same"),
    [
        (2.0, 1.7, False),  # a median in years typed without decimals is not +-0.5
        (57.0, 57.3, True),  # 57 months is 57.3 rounded
        (0.82, 0.8, True),  # a ratio to two decimals and to one
        (0.8, 0.86, False),
    ],
)
def test_tolerance_follows_the_typed_precision_and_the_fields_scale(form, tmp_path, a_value, b_value, same):
    a = extraction(
        form, tmp_path / "a.xlsx", changed({("survival", 1): PFS | {"arm_id": "low", "median": a_value}})
    )
    b = extraction(
        form, tmp_path / "b.xlsx", changed({("survival", 1): PFS | {"arm_id": "low", "median": b_value}})
    )
    result = compare([a, b])
    assert len(result) == (0 if same else 1)
    assert same or result.to_frame()["type"].tolist() == ["numeric"]


def test_a_reciprocal_ratio_with_its_ci_inverted_is_one_discrepancy(form, tmp_path, a):
    # 1/0.82 = 1.2195, 1/0.94 = 1.0638, 1/0.71 = 1.4085: the report's low-versus-high figures
    result = pair(form, tmp_path, a, {("hazard_ratios", 0): {"hr": 1.22, "ci_low": 1.06, "ci_high": 1.41}})
    frame = result.to_frame()
    assert frame[["field", "type", "id"]].values.tolist() == [
        ["hr", "inverted", "D1"],
        ["ci_low", "inverted", "D1"],
        ["ci_high", "inverted", "D1"],
    ]
    assert len(result) == 1 and result.type_counts() == {"inverted": 1}
    assert "reciprocal" in frame["detail"].iloc[0]


def test_a_reciprocal_ratio_with_the_arms_crossed_is_one_swap(form, tmp_path, a):
    edits = {
        ("hazard_ratios", 0): {
            "experimental_arm": "low",
            "control_arm": "high",
            "hr": 1.22,
            "ci_low": 1.06,
            "ci_high": 1.41,
        }
    }
    result = pair(form, tmp_path, a, edits)
    assert set(result.to_frame()["type"]) == {"arms-swapped"} and len(result) == 1


def test_a_different_ratio_is_not_inverted(form, tmp_path, a):
    result = pair(form, tmp_path, a, {("hazard_ratios", 0): {"hr": 1.3, "ci_low": 1.06, "ci_high": 1.41}})
    assert set(result.to_frame()["type"]) == {"numeric"}


def test_rows_differing_in_one_key_field_are_one_key_discrepancy(form, tmp_path, a):
    result = pair(form, tmp_path, a, {("adverse_events", 1): {"grade": "3 or higher"}})
    row = only(result)
    assert (row["table"], row["row"], row["field"], row["type"]) == (
        "adverse_events",
        "T1 | low | oedema | 3-4",
        "grade",
        "key",
    )
    assert (row["A_value"], row["B_value"]) == ("3-4", "3 or higher")
    assert row["B_where"].endswith("Adverse events!E3")


def test_a_category_repeating_another_rows_key_is_paired_not_refused(form, tmp_path, a):
    result = pair(form, tmp_path, a, {("response", 2): {"category": "progressive disease"}})
    row = only(result)
    assert (row["row"], row["field"], row["type"], row["A_value"], row["B_value"]) == (
        "T1 | low | primary | stable disease",
        "category",
        "key",
        "stable disease",
        "progressive disease",
    )
    assert row["B_where"].endswith("Best response!D4")


def test_a_row_filed_under_another_study_is_moved(form, tmp_path, a):
    result = pair(form, tmp_path, a, {("safety", 0): {"study_id": "T2"}})
    row = only(result)
    assert (row["field"], row["type"], row["A_value"], row["B_value"]) == ("study_id", "moved", "T1", "T2")


def test_rows_that_differ_in_key_and_values_stay_two_omissions(form, tmp_path, a):
    result = pair(
        form,
        tmp_path,
        a,
        {("safety", 0): {"item": "dose reductions", "patients": 30, "at_risk": 90, "percent": 33.3}},
    )
    assert result.to_frame()[["field", "type"]].values.tolist() == [
        ["(row)", "omission"],
        ["(row)", "omission"],
    ]
