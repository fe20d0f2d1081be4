"""Derivations for meta-analysis: each one computed, recorded, and refused when it cannot be done faithfully."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy import stats

from review.tables import analysis_tables, comparison_table, count_from, log_hr


def test_count_from_a_reported_percentage():
    c = count_from(None, 49.3, 73)  # B2222 400 mg PR, S1: 49.3% x 73 = 35.99
    assert (c.value, c.derivation, c.inputs) == (
        36,
        "percent x total / 100, rounded",
        "percent=49.3, total=73",
    )
    assert count_from(12, 16.4, 73).derivation == "reported"


@pytest.mark.parametrize(
    ("percent", "total", "words"),
    [
        (69, 73, "no whole number of patients out of 73 gives 69%"),  # S2: 50/73 = 68.5%, 51/73 = 69.9%
        (54, 147, "fits 79 or 80 patients"),  # S10: 54% of 147 is ambiguous at whole-percent rounding
        (5, "NR", "without its denominator (NR)"),
    ],
)
def test_count_refused_when_not_faithful(percent, total, words):
    c = count_from(None, percent, total)
    assert c.value is None and words in c.note


def test_nearest_count_policy_records_the_ambiguity():
    c = count_from(None, 42, 349, "partial response", policy="nearest")  # S0033 bid arm, S1: 42% of 349
    assert c.value == 147 and c.derivation == "percent x total / 100, nearest whole count"
    assert c.note == "partial response: 42% of 349 = 146.58; 145 to 148 fit the printed rounding"
    assert count_from(None, 69, 73, policy="nearest").value is None  # no whole count at all: still refused


def _response(rows, evaluable=None):
    frame = pd.DataFrame(
        [
            {
                "study_id": "T",
                "arm_id": "a",
                "timepoint": "primary",
                "category": cat,
                "count": n,
                "percent": p,
                "denominator": d,
            }
            for cat, n, p, d in rows
        ]
    )
    arms = pd.DataFrame([{"study_id": "T", "arm_id": "a", "evaluable_response": evaluable}])
    out = analysis_tables({"response": frame, "arms": arms}).arm_outcomes
    return out.set_index("outcome")


def test_objective_response_and_disease_control_are_derived_from_categories():
    out = _response(
        [
            ("complete response", 2, None, 50),
            ("partial response", None, 40, 50),
            ("stable disease", 15, None, 50),
            ("progressive disease", 13, None, 50),
        ]
    )
    assert out.loc["partial response", "events"] == 20  # 40% of 50
    orr = out.loc["objective response"]
    assert (orr["events"], orr["total"], orr["derivation"], orr["inputs"]) == (
        22,
        50,
        "complete response + partial response",
        "complete response=2, partial response=20",
    )
    assert orr["percent"] == pytest.approx(44.0)
    assert out.loc["disease control", "events"] == 37


def test_objective_response_refused_when_a_category_is_not_reported():
    out = _response(
        [("complete response", "NR", None, None), ("partial response", 36, None, 73)], evaluable=73
    )
    orr = out.loc["objective response"]
    assert pd.isna(orr["events"]) and orr["total"] == 73
    assert orr["note"] == "not derived, needs complete response + partial response: complete response: NR"
    dc = out.loc["disease control"]
    assert "stable disease: no row" in dc["note"]


def test_response_total_falls_back_to_the_arm_and_refuses_mixed_denominators():
    out = _response([("complete response", 1, None, None), ("partial response", 3, None, None)], evaluable=10)
    assert out.loc["objective response", "total"] == 10
    out = _response([("complete response", 1, None, 10), ("partial response", 3, None, 12)])
    assert pd.isna(out.loc["objective response", "total"])
    assert "different denominators (10, 12)" in out.loc["objective response", "note"]


def test_log_hr_and_se_from_a_ci():
    # R 4.2: log(0.82); (log(0.94) - log(0.71)) / (2 * qnorm(0.975))
    d = log_hr(0.82, 0.71, 0.94, 95)
    assert d["yi"] == pytest.approx(-0.198450938724, abs=1e-12)
    assert d["sei"] == pytest.approx(0.071586750431, abs=1e-12)
    assert d["note"] == ""
    # R 4.2: (log(1.6) - log(0.9)) / (2 * qnorm(0.95)), a 90% CI; without the HR, the CI's log midpoint
    d = log_hr("NR", 0.9, 1.6, 90)
    assert d["sei"] == pytest.approx(0.174898281366, abs=1e-12)
    assert d["yi"] == pytest.approx(0.182321556794, abs=1e-12) and "midpoint" in d["derivation"]


def test_log_hr_refusals_and_assumptions():
    assert "CI NR" in log_hr(0.8, "NR", 0.9, 95)["note"] and log_hr(0.8, "NR", 0.9, 95)["sei"] is None
    assert "not a valid ratio interval" in log_hr(0.8, 0.9, 0.7, 95)["note"]
    assert "95% assumed" in log_hr(0.82, 0.71, 0.94, None)["note"]
    assert "asymmetric" in log_hr(0.5, 0.71, 0.94, 95)["note"]


def test_sd_from_se_and_refusal():
    frame = pd.DataFrame(
        [
            {
                "study_id": "T",
                "arm_id": "a",
                "outcome": "QoL",
                "timepoint": "w12",
                "mean": 60.0,
                "dispersion": 2.0,
                "dispersion_type": "SE",
                "n": 100,
            },
            {
                "study_id": "T",
                "arm_id": "b",
                "outcome": "QoL",
                "timepoint": "w12",
                "mean": 58.0,
                "dispersion": "NR",
                "dispersion_type": "SD",
                "n": 100,
            },
        ]
    )
    out = analysis_tables({"continuous": frame}).continuous
    assert out.loc[0, "sd"] == pytest.approx(20.0) and out.loc[0, "derivation"] == "SD = SE x sqrt(n)"
    assert pd.isna(out.loc[1, "sd"]) and out.loc[1, "note"] == "SD: NR"


def test_comparison_table_keeps_studies_it_cannot_fill():
    arm_outcomes = analysis_tables(
        {
            "dichotomous": pd.DataFrame(
                [
                    {
                        "study_id": "A",
                        "arm_id": "hi",
                        "outcome": "response",
                        "timepoint": "t",
                        "events": 10,
                        "total": 50,
                    },
                    {
                        "study_id": "A",
                        "arm_id": "lo",
                        "outcome": "response",
                        "timepoint": "t",
                        "events": 8,
                        "total": 50,
                    },
                    {
                        "study_id": "B",
                        "arm_id": "hi",
                        "outcome": "response",
                        "timepoint": "t",
                        "events": None,
                        "total": 40,
                        "percent": 69,
                    },
                ]
            )
        }
    ).arm_outcomes
    table = comparison_table(arm_outcomes, {"A": ("hi", "lo"), "B": ("hi", "lo")}, "response", "t")
    assert table.loc[0, ["events_e", "n_e", "events_c", "n_c"]].tolist() == [10, 50, 8, 50]
    assert pd.isna(table.loc[1, "events_e"]) and "arm lo: no row for response at t" in table.loc[1, "note"]


def test_sd_from_a_p_value_needs_it_on_both_arms():
    """The p-value of the difference goes on both arms' rows: given on one, both rows say so; on both, both get
    SD = |MD| / qt(1 - p/2, n1 + n2 - 2) / sqrt(1/n1 + 1/n2)."""
    rows = [
        {
            "study_id": "T",
            "arm_id": "a",
            "outcome": "QoL",
            "timepoint": "w12",
            "mean": 60.0,
            "n": 50,
            "p_value": 0.03,
        },
        {"study_id": "T", "arm_id": "b", "outcome": "QoL", "timepoint": "w12", "mean": 55.0, "n": 50},
    ]
    one = analysis_tables({"continuous": pd.DataFrame(rows)}).continuous
    assert one["sd"].isna().all()
    assert one["note"].tolist() == ["SD from a p-value needs it on both arms' rows (one arm gives it)"] * 2
    rows[1]["p_value"] = 0.03
    both = analysis_tables({"continuous": pd.DataFrame(rows)}).continuous
    expected = 5 / stats.t.ppf(1 - 0.03 / 2, 98) / (1 / 50 + 1 / 50) ** 0.5
    assert both["sd"].tolist() == pytest.approx([expected, expected], rel=1e-12)
    # an 'all patients' row pooling both arms is no third arm: the two arms still give the SD, it says why not
    rows.append(
        {"study_id": "T", "arm_id": "all", "outcome": "QoL", "timepoint": "w12", "mean": 57.5, "n": 100}
    )
    arms = pd.DataFrame([{"study_id": "T", "arm_id": a, "pooled": a == "all"} for a in ("a", "b", "all")])
    three = analysis_tables({"continuous": pd.DataFrame(rows), "arms": arms}).continuous
    assert three["sd"].tolist()[:2] == pytest.approx([expected, expected], rel=1e-12)
    assert pd.isna(three["sd"].iloc[2])
    # without the flag the 'all' row is a third arm, and the route needs exactly two
    unflagged = analysis_tables(
        {"continuous": pd.DataFrame(rows), "arms": arms.assign(pooled=False)}
    ).continuous
    assert "needs exactly two arms of the outcome (3 given)" in unflagged["note"].iloc[0]
