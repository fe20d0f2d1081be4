"""Shared fixtures: the default form and a complete, valid study to write into workbooks."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from review.forms import Form, load_form
from review.workbook import make_workbook

ROOT = Path(__file__).resolve().parent.parent
FORM_PATH = ROOT / "extraction_forms" / "oncology_trial.yaml"


@pytest.fixture(scope="session")
def form() -> Form:
    return load_form(FORM_PATH)


def complete_study() -> dict[str, pd.DataFrame]:
    """One invented trial touching every table and field type (not real data: tests only)."""
    return {
        "studies": pd.DataFrame(
            [
                {
                    "study_id": "T1",
                    "citation": "Doe J, Roe R. A trial. J Test 2020;1(2):3-4.",
                    "first_author": "Doe",
                    "year": 2020,
                    "doi": "10.1000/xyz123",
                    "pmid": "12345678",
                    "registration": "NCT01234567",
                    "design": "randomised controlled",
                    "phase": "III",
                    "randomisation_ratio": "1:1",
                    "blinding": "open-label",
                    "multicentre": True,
                    "centres": 12,
                    "countries": "Finland; USA",
                    "enrolment_start": "2001-02",
                    "enrolment_end": "2002-03-15",
                    "randomised_total": 200,
                    "follow_up": 24.5,
                    "follow_up_unit": "months",
                    "follow_up_statistic": "median",
                    "response_criteria": "RECIST 1.1",
                    "funding": "NR",
                    "notes": "NA",
                    "source": "main report",
                    "location": "p. 1",
                    "comment": "",
                }
            ]
        ),
        "arms": pd.DataFrame(
            [
                {
                    "study_id": "T1",
                    "arm_id": "low",
                    "label": "Low dose",
                    "intervention": "drug",
                    "dose": 400,
                    "dose_unit": "mg",
                    "schedule": "once daily",
                    "randomised": 100,
                    "treated": 99,
                    "evaluable_response": 98,
                    "evaluable_safety": 99,
                    "pooled": False,
                    "source": "main",
                    "location": "T1",
                },
                {
                    "study_id": "T1",
                    "arm_id": "high",
                    "label": "High dose",
                    "intervention": "drug",
                    "dose": 400,
                    "dose_unit": "mg",
                    "schedule": "twice daily",
                    "randomised": 100,
                    "treated": 100,
                    "evaluable_response": 100,
                    "evaluable_safety": 100,
                    "pooled": False,
                    "source": "main",
                    "location": "T1",
                },
            ]
        ),
        "response": pd.DataFrame(
            [
                {
                    "study_id": "T1",
                    "arm_id": "low",
                    "timepoint": "primary",
                    "category": c,
                    "count": n,
                    "percent": p,
                    "denominator": 98,
                    "source": "main",
                    "location": "Table 2",
                    **({"comment": "'no complete responses'"} if n == 0 else {}),
                }
                for c, n, p in [
                    ("complete response", 0, 0),
                    ("partial response", 49, 50),
                    ("stable disease", 30, 30.6),
                    ("progressive disease", 15, 15.3),
                    ("not evaluable", 4, 4.1),
                ]
            ]
        ),
        "dichotomous": pd.DataFrame(
            [
                {
                    "study_id": "T1",
                    "arm_id": "high",
                    "outcome": "progression-free",
                    "timepoint": "1 year",
                    "events": 60,
                    "total": 100,
                    "percent": 60,
                    "source": "main",
                    "location": "p. 3",
                }
            ]
        ),
        "continuous": pd.DataFrame(
            [
                {
                    "study_id": "T1",
                    "arm_id": "low",
                    "outcome": "quality of life",
                    "timepoint": "12 weeks",
                    "unit": "points",
                    "mean": 61.25,
                    "dispersion": 9.5,
                    "dispersion_type": "SD",
                    "n": 90,
                    "source": "main",
                    "location": "Fig 2",
                }
            ]
        ),
        "hazard_ratios": pd.DataFrame(
            [
                {
                    "study_id": "T1",
                    "outcome": "progression-free survival",
                    "comparison": "high vs low",
                    "experimental_arm": "high",
                    "control_arm": "low",
                    "hr": 0.82,
                    "ci_low": 0.71,
                    "ci_high": 0.94,
                    "ci_level": 95,
                    "p_value": 0.026,
                    "source": "main",
                    "location": "p. 4",
                }
            ]
        ),
        "survival": pd.DataFrame(
            [
                {
                    "study_id": "T1",
                    "arm_id": "low",
                    "outcome": "overall survival",
                    "timepoint": "median",
                    "median": 55.0,
                    "median_ci_low": 49.0,
                    "median_ci_high": 61.0,
                    "time_unit": "months",
                    "rate": "NA",
                    "source": "main",
                    "location": "p. 4",
                }
            ]
        ),
        "adverse_events": pd.DataFrame(
            [
                {
                    "study_id": "T1",
                    "arm_id": "low",
                    "term": "oedema",
                    "ctcae_term": "Edema limbs",
                    "grade": g,
                    "patients": n,
                    "at_risk": 99,
                    "percent": p,
                    "source": "main",
                    "location": "Table 3",
                }
                for g, n, p in [("any", 70, 70.7), ("3-4", 5, 5.1)]
            ]
        ),
        "safety": pd.DataFrame(
            [
                {
                    "study_id": "T1",
                    "arm_id": "high",
                    "item": "treatment-related deaths",
                    "patients": 1,
                    "at_risk": 100,
                    "percent": 1,
                    "source": "main",
                    "location": "p. 5",
                }
            ]
        ),
        "risk_of_bias": pd.DataFrame(
            [
                {
                    "study_id": "T1",
                    "domain": "overall",
                    "judgement": "some concerns",
                    "support": "open-label design",
                    "source": "main",
                    "location": "Methods",
                }
            ]
        ),
    }


def write(form: Form, path: Path, data: dict[str, pd.DataFrame] | None = None, **kw) -> Path:
    return make_workbook(form, path, data=complete_study() if data is None else data, **kw)


def changed(edits: dict[tuple[str, int], dict]) -> dict[str, pd.DataFrame]:
    """The complete study with some cells changed: {(table, row from 0): {field: value}}; a row one past the
    end is added."""
    data = complete_study()
    for (table, row), values in edits.items():
        frame = data[table].astype(object)
        if row == len(frame):
            frame = pd.concat([frame, pd.DataFrame([{}], index=[row])]).astype(object)
        for k, v in values.items():
            if k not in frame.columns:
                frame[k] = None
            frame.loc[row, k] = v
        data[table] = frame
    return data


def edited(table: str, row: int, **values) -> dict[str, pd.DataFrame]:
    """The complete study with some values of one row changed (row counts from 0)."""
    return changed({(table, row): values})
