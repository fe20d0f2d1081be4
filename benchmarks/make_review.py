"""A synthetic review of N studies, deterministic for a seed, in the shape of a large oncology review.

    python benchmarks/make_review.py OUT_DIR [--studies 1000] [--seed 1] [--force]

Writes OUT_DIR/reviewer_a.xlsx and reviewer_b.xlsx (made with the toolkit's own writer, `make_workbook`),
OUT_DIR/adjudication.xlsx (the toolkit's discrepancy workbook, every disagreement decided) and OUT_DIR/review.toml
with 20 analyses: best response (6), a single-arm proportion, two hazard ratios, a dichotomous outcome, two safety
items and eight adverse events. Shape per study, as in issue 12: 2-4 arms, 5 response categories per arm, 15-75
adverse-event terms per study (every arm reports them), each at grades 'any' and '3-4' (30-150 rows per arm), a hazard ratio for PFS and
OS per experimental arm, 5 safety items per arm, 6 risk-of-bias domains. About 322 rows per study in all.

Reviewer B differs from reviewer A in about 3% of rows, in ways that stay valid (so `review run` goes on):
an adverse-event count one higher on an 'any' row (percentage recomputed), a different CTCAE term, two response
categories' counts exchanged, a hazard ratio one hundredth apart inside its CI, a different dose. The numbers are
random, not clinical: they exist to be timed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from review.forms import default_form_path, load_form
from review.workbook import make_workbook

CATEGORIES = [
    "complete response",
    "partial response",
    "stable disease",
    "progressive disease",
    "not evaluable",
]
COMMON_TERMS = ["Nausea", "Diarrhoea", "Fatigue", "Oedema", "Rash", "Anaemia", "Neutropenia", "Vomiting"]
OTHER_TERMS = [f"Adverse event {i:03d}" for i in range(1, 193)]
SAFETY_ITEMS = [
    "serious adverse events",
    "discontinued for toxicity",
    "treatment-related deaths",
    "dose reductions",
    "treatment interruptions",
]
ROB_DOMAINS = [
    "randomisation process",
    "deviations from intended interventions",
    "missing outcome data",
    "measurement of the outcome",
    "selection of the reported result",
    "overall",
]
DIFFER = 0.03  # share of rows reviewer B enters differently


def _pct(count: int, total: int) -> float | str:
    """The percentage as a report prints it; below 1% the report says '<1%', which is no number: NR."""
    value = round(100 * count / total, 1)
    return value if value >= 1 or count == 0 else "NR"


def reviewer_a(studies: int, seed: int) -> dict[str, pd.DataFrame]:
    """Reviewer A's tables: the synthetic truth."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list[dict]] = {
        t: []
        for t in (
            "studies",
            "arms",
            "response",
            "dichotomous",
            "hazard_ratios",
            "adverse_events",
            "safety",
            "risk_of_bias",
        )
    }
    where = {"source": "primary report", "location": "Table 2"}
    for s in range(1, studies + 1):
        sid = f"S{s:04d}"
        n_arms = int(rng.integers(2, 5))
        sizes = rng.integers(40, 301, n_arms)
        arm_ids = [f"arm{i + 1}" for i in range(n_arms)]
        rows["studies"].append(
            {
                "study_id": sid,
                "citation": f"Author {s} et al. A randomised trial number {s}. J Synth Oncol {2000 + s % 25}.",
                "first_author": f"Author {s}",
                "year": 2000 + s % 25,
                "design": "randomised controlled",
                "phase": "III",
                "blinding": "open-label",
                "multicentre": True,
                "centres": int(rng.integers(5, 200)),
                "randomised_total": int(sizes.sum()),
                "follow_up": "NR",
                "response_criteria": "RECIST 1.1",
                **where,
                "location": "abstract",
            }
        )
        for d in ROB_DOMAINS:
            rows["risk_of_bias"].append(
                {
                    "study_id": sid,
                    "domain": d,
                    "judgement": ["low", "some concerns", "high"][int(rng.integers(0, 3))],
                    "support": "as reported in the methods",
                    **where,
                }
            )
        # One adverse-event table per study, as trial reports print it: every arm reports the same terms.
        n_terms = int(rng.integers(15, 76))
        terms = COMMON_TERMS + list(rng.choice(OTHER_TERMS, n_terms - len(COMMON_TERMS), replace=False))
        for arm, n in zip(arm_ids, sizes, strict=True):
            n = int(n)
            rows["arms"].append(
                {
                    "study_id": sid,
                    "arm_id": arm,
                    "label": f"{arm} of {sid}",
                    "intervention": "drug X" if arm != "arm1" else "standard care",
                    "dose": float(rng.choice([100, 200, 400, 600, 800])),
                    "dose_unit": "mg",
                    "schedule": "once daily",
                    "randomised": n,
                    "treated": n,
                    "evaluable_response": n,
                    "evaluable_safety": n,
                    "pooled": False,
                    **where,
                }
            )
            counts = rng.multinomial(n, rng.dirichlet([1, 4, 5, 4, 1]))
            for category, c in zip(CATEGORIES, counts, strict=True):
                rows["response"].append(
                    {
                        "study_id": sid,
                        "arm_id": arm,
                        "timepoint": "primary report",
                        "category": category,
                        "count": int(c),
                        "percent": _pct(int(c), n),
                        "denominator": n,
                        **where,
                    }
                )
            events = int(rng.binomial(n, 0.3))
            rows["dichotomous"].append(
                {
                    "study_id": sid,
                    "arm_id": arm,
                    "outcome": "grade 3 or higher toxicity",
                    "timepoint": "primary report",
                    "events": events,
                    "total": n,
                    "percent": _pct(events, n),
                    **where,
                }
            )
            for item in SAFETY_ITEMS:
                c = int(rng.binomial(n, 0.08))
                rows["safety"].append(
                    {
                        "study_id": sid,
                        "arm_id": arm,
                        "item": item,
                        "patients": c,
                        "at_risk": n,
                        "percent": _pct(c, n),
                        **where,
                    }
                )
            for term in terms:
                anyg = int(rng.binomial(n, rng.uniform(0.02, 0.6)))
                severe = int(rng.binomial(anyg, 0.2))
                for grade, c in (("any", anyg), ("3-4", severe)):
                    rows["adverse_events"].append(
                        {
                            "study_id": sid,
                            "arm_id": arm,
                            "term": term,
                            "ctcae_term": term,
                            "grade": grade,
                            "patients": c,
                            "at_risk": n,
                            "percent": _pct(c, n),
                            **where,
                            "location": "Table 3",
                        }
                    )
        for outcome in ("progression-free survival", "overall survival"):
            for arm in arm_ids[1:]:
                log_hr, se = rng.normal(-0.15, 0.2), rng.uniform(0.08, 0.3)
                hr = round(float(np.exp(log_hr)), 2)
                rows["hazard_ratios"].append(
                    {
                        "study_id": sid,
                        "outcome": outcome,
                        "comparison": f"{arm} vs arm1",
                        "experimental_arm": arm,
                        "control_arm": "arm1",
                        "hr": hr,
                        "ci_low": round(float(np.exp(np.log(hr) - 1.96 * se)), 2),
                        "ci_high": round(float(np.exp(np.log(hr) + 1.96 * se)), 2),
                        "ci_level": 95.0,
                        "p_value": "NR",
                        **where,
                    }
                )
    frames = {name: pd.DataFrame(r) for name, r in rows.items()}
    for frame in frames.values():  # a reviewer notes where the report states a zero
        for count in ("count", "events", "patients"):
            if count in frame:
                frame.loc[frame[count].eq(0), "location"] += ", where it prints 0"
    return frames


def reviewer_b(a: dict[str, pd.DataFrame], seed: int) -> dict[str, pd.DataFrame]:
    """Reviewer A's tables with about 3% of rows entered differently (and still valid)."""
    rng = np.random.default_rng(seed + 1)
    b = {name: frame.copy() for name, frame in a.items()}

    def pick(frame: pd.DataFrame, mask: pd.Series | None = None) -> pd.Index:
        chosen = rng.random(len(frame)) < DIFFER
        if mask is not None:
            chosen &= mask.to_numpy()
        return frame.index[chosen]

    ae = b["adverse_events"]
    up = pick(ae, (ae["grade"] == "any") & (ae["patients"] < ae["at_risk"]))
    ae.loc[up, "patients"] += 1
    ae.loc[up, "percent"] = [
        _pct(c, n) for c, n in zip(ae.loc[up, "patients"], ae.loc[up, "at_risk"], strict=True)
    ]
    renamed = pick(ae, ae["grade"] == "3-4")
    ae.loc[renamed, "ctcae_term"] = ae.loc[renamed, "term"] + " (MedDRA)"

    response = b["response"]
    first = pick(response, response["category"] == "complete response")
    for i in first:  # exchange complete and partial response counts: a classic slip
        j = i + 1
        for col in ("count", "percent"):
            response.loc[i, col], response.loc[j, col] = response.loc[j, col], response.loc[i, col]

    hr = b["hazard_ratios"]
    moved = pick(hr, (hr["hr"] + 0.01 < hr["ci_high"]))
    hr.loc[moved, "hr"] = (hr.loc[moved, "hr"] + 0.01).round(2)

    arms = b["arms"]
    arms.loc[pick(arms), "dose"] = arms["dose"] * 2
    return b


ANALYSES: list[dict] = [
    *(
        {"name": f"{o.capitalize()}, experimental vs control", "outcome": o, "timepoint": "primary report"}
        for o in (
            "objective response",
            "complete response",
            "partial response",
            "stable disease",
            "progressive disease",
            "disease control",
        )
    ),
    {
        "name": "Grade 3 or higher toxicity",
        "outcome": "grade 3 or higher toxicity",
        "timepoint": "primary report",
    },
    *({"name": f"{item.capitalize()}", "outcome": item} for item in SAFETY_ITEMS[:2]),
    *(
        {"name": f"{term}, grade {grade}", "outcome": term, "grade": grade}
        for term, grade in [(t, "any") for t in COMMON_TERMS[:4]] + [(t, "3-4") for t in COMMON_TERMS[4:]]
    ),
]


def review_toml(studies: int) -> str:
    # Arm groups by rule, as a large review would write them; overall survival lists its arms per study, so
    # that the listed form is timed too.
    ids = [f"S{s:04d}" for s in range(1, studies + 1)]
    two = 'experimental = { arm_id = "arm2" }\ncontrol = { intervention = "standard care" }'
    one = 'arm = { intervention = "standard care" }'
    listed = "arms = { " + ", ".join(f'{s} = ["arm2", "arm1"]' for s in ids) + " }"
    lines = [
        f'title = "Synthetic review of {studies} studies (benchmarks/make_review.py)"',
        'question = "How fast does the toolkit run a large review?"',
        'reviewers = ["reviewer_a.xlsx", "reviewer_b.xlsx"]',
        'adjudication = "adjudication.xlsx"',
        "",
    ]

    def analysis(fields: dict, arms: str) -> None:
        lines.append("[[analysis]]")
        lines.extend(f"{k} = {json.dumps(v)}" for k, v in fields.items())
        lines.extend([arms, ""])

    for a in ANALYSES:
        analysis({**a, "measure": "RR", "method": "REML"}, two)
    analysis(
        {
            "name": "Objective response, control arms",
            "outcome": "objective response",
            "timepoint": "primary report",
            "measure": "PLO",
            "method": "REML",
        },
        one,
    )
    for outcome, arms in (("progression-free survival", two), ("overall survival", listed)):
        analysis({"name": outcome.capitalize(), "outcome": outcome, "measure": "HR", "method": "REML"}, arms)
    return "\n".join(lines)


def adjudicate(path: Path, decided: Path) -> None:
    """Decide every disagreement of the discrepancy workbook `path` (reviewer A's value), save as `decided`."""
    from openpyxl import load_workbook

    from review.reconcile import SHEET

    wb = load_workbook(path)
    ws = wb[SHEET]
    header = {c.value: c.column for c in ws[1]}
    for r in range(2, ws.max_row + 1):
        if ws.cell(r, header["Key"]).value:
            ws.cell(r, header["Decision"], "A")
            ws.cell(r, header["Adjudicator"], "benchmark")
            ws.cell(r, header["Date"], "2026-01-01")
            ws.cell(r, header["Reason"], "primary report")
    wb.save(decided)


def make_review(folder: str | Path, studies: int, seed: int = 1, force: bool = False) -> dict[str, int]:
    """Write the synthetic review into `folder` (made if needed); refuses to replace files unless `force`.
    Returns the number of rows per table of reviewer A's workbook."""
    from review.compare import compare
    from review.reconcile import write_discrepancies
    from review.workbook import read_workbook

    folder = Path(folder)
    names = ("reviewer_a.xlsx", "reviewer_b.xlsx", "adjudication.xlsx", "review.toml")
    existing = [n for n in names if (folder / n).exists()]
    if existing and not force:
        raise SystemExit(f"{folder}: {', '.join(existing)} exist; pass --force to replace them.")
    folder.mkdir(parents=True, exist_ok=True)
    form = load_form(default_form_path())
    a = reviewer_a(studies, seed)
    b = reviewer_b(a, seed)
    paths = [
        make_workbook(form, folder / "reviewer_a.xlsx", reviewer="A. Synthetic", data=a),
        make_workbook(form, folder / "reviewer_b.xlsx", reviewer="B. Synthetic", data=b),
    ]
    comparison = compare([read_workbook(p, form) for p in paths])
    blank = folder / "discrepancies.tmp.xlsx"
    write_discrepancies(comparison, blank)
    adjudicate(blank, folder / "adjudication.xlsx")
    blank.unlink()
    (folder / "review.toml").write_text(review_toml(studies), encoding="utf-8")
    return {name: len(frame) for name, frame in a.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--force", action="store_true", help="replace the files of an earlier run")
    args = parser.parse_args(argv)
    rows = make_review(args.folder, args.studies, args.seed, args.force)
    print(
        f"{args.folder}: {args.studies} studies, {sum(rows.values()):,} rows per reviewer "
        f"({rows['adverse_events']:,} adverse events)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
