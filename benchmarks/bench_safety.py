"""Pool every adverse-event term x grade of a synthetic 1,000-study review: one vectorised pass against a
per-group loop of the same engine, in the same run.

    python benchmarks/bench_safety.py [--studies 1000] [--terms 63] [--seed 1] [--repeat 3]

The data: `studies` two-arm trials (high vs standard dose, 40-400 patients an arm) reporting every one of
`terms` adverse-event terms in two grade bands ("any", "3-4"), in the shipped form's adverse_events table:
2 x studies x terms x 2 rows (252,000 by default). Event rates are low (0.1-20%), so zero cells and studies
without events in either arm are common, as in real safety data. A third of the terms are reported under a
CTCAE term, the rest under the reported term only (matched ignoring case).

What is timed, on the same data:
- build: `analysis_tables` (the adverse_events kind: counts, term matching, notes), vectorised over all rows;
- dataset: `analysis_data` for one analysis with arm groups chosen by rule (dose >= 600 vs dose 400), the two
  arms of every study and term x grade side by side in one merge;
- pool: `pool(data, "RR", method, by=["outcome", "grade"])`, every term x grade in one call, for MH (the
  Cochrane Handbook's choice for rare events) and REML;
- the obvious alternative: a Python loop over the term x grade groups calling the same `pool` on each group's
  rows (the groupby split is timed with it, as a per-analysis loop would do).
The two paths' estimates are checked equal (max |difference| printed).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd
from timing import best_of

from review.analyses import analysis_data
from review.forms import default_form_path, load_form
from review.meta import pool
from review.project import Analysis
from review.tables import analysis_tables


def review_tables(studies: int, terms: int, seed: int) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = np.array([f"S{i:04d}" for i in range(studies)])
    arms = pd.DataFrame(
        {
            "study_id": np.repeat(ids, 2),
            "arm_id": np.tile(["high", "standard"], studies),
            "dose": np.tile([800.0, 400.0], studies),
        }
    )
    at_risk = rng.integers(40, 400, size=2 * studies)
    names = np.array([f"Term {t}" for t in range(terms)])
    rate = rng.uniform(0.001, 0.2, size=terms)
    grades = np.array(["any", "3-4"])
    n_rows = 2 * studies * terms * len(grades)
    arm_index = np.repeat(np.arange(2 * studies), terms * len(grades))
    term_index = np.tile(np.repeat(np.arange(terms), len(grades)), 2 * studies)
    grade_index = np.tile(np.arange(len(grades)), 2 * studies * terms)
    p = rate[term_index] * np.where(grade_index == 1, 0.25, 1.0) * np.where(arm_index % 2 == 0, 1.3, 1.0)
    patients = rng.binomial(at_risk[arm_index], np.minimum(p, 1.0))
    ctcae = np.where(term_index % 3 == 0, names[term_index], "")
    reported = np.where(term_index % 2 == 0, np.char.lower(names[term_index]), names[term_index])
    adverse_events = pd.DataFrame(
        {
            "study_id": arms["study_id"].to_numpy()[arm_index],
            "arm_id": arms["arm_id"].to_numpy()[arm_index],
            "term": reported,
            "ctcae_term": ctcae,
            "grade": grades[grade_index],
            "patients": patients,
            "at_risk": at_risk[arm_index],
        }
    )
    assert len(adverse_events) == n_rows
    return {"arms": arms, "adverse_events": adverse_events}


def loop(data: pd.DataFrame, method: str) -> pd.DataFrame:
    rows = []
    for (term, grade), group in data.groupby(["outcome", "grade"], sort=False):
        r = pool(group, "RR", method, single_study="keep").iloc[0].to_dict()
        rows.append({"outcome": term, "grade": grade, **r})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=1000)
    parser.add_argument("--terms", type=int, default=63, help="terms per study (x 2 grades x 2 arms rows)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)

    tables = review_tables(args.studies, args.terms, args.seed)
    form = load_form(default_form_path())
    print(
        f"{len(tables['adverse_events']):,} adverse-event rows, {args.studies:,} studies, {args.terms} terms x 2 grades"
    )
    t_build, built = best_of(args.repeat, lambda: analysis_tables(tables, form))
    matched = built.arm_outcomes.drop_duplicates("outcome")
    print(
        f"build (analysis_tables):           {t_build:8.3f} s  ({matched['outcome'].nunique()} terms after matching)"
    )
    analysis = Analysis(
        "Adverse events",
        None,
        "RR",
        "MH",
        "z",
        {},
        domain="adverse_events",
        groups={"experimental": {"dose": ">= 600"}, "control": {"dose": 400}},
    )
    t_data, data = best_of(args.repeat, lambda: analysis_data(analysis, built))
    data = data.dropna(subset=["events_e", "n_e", "events_c", "n_c"])
    print(f"dataset (analysis_data, by rule):  {t_data:8.3f} s  ({len(data):,} study x term x grade rows)")
    columns = ["outcome", "grade", "events_e", "n_e", "events_c", "n_c"]
    data = data[columns]
    for method in ("MH", "REML"):
        t_vec, vec = best_of(
            args.repeat, lambda m=method: pool(data, "RR", m, by=["outcome", "grade"], single_study="keep")
        )
        t_loop, looped = best_of(1, lambda m=method: loop(data, m))
        merged = vec.merge(looped, on=["outcome", "grade"], suffixes=("", "_loop"))
        diff = np.nanmax(np.abs(merged["theta"] - merged["theta_loop"]))
        print(
            f"pool {method:4} {len(vec):4} analyses: one pass {t_vec:7.3f} s, per-group loop {t_loop:7.3f} s, "
            f"ratio {t_loop / t_vec:5.1f}x, max |theta difference| {diff:.1e}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
