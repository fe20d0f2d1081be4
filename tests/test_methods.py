"""The methods text: every sentence is checked on the example review, and against a run in which it would be false
(a single reviewer, no disagreement, no derivation, k = 1 or 0, a zero cell, Mantel-Haenszel, knha...)."""

from __future__ import annotations

import dataclasses
import platform
from types import SimpleNamespace

import pandas as pd
import pytest
from conftest import ROOT

from review import __version__
from review.analyses import pool_analyses
from review.compare import compare
from review.methods import (
    adjudication_sentence,
    agreement_sentence,
    analysis_sentence,
    derivation_sentences,
    extraction_sentence,
    heterogeneity_sentence,
    methods_text,
    safety_sentence,
    software_sentence,
)
from review.project import load_review
from review.reconcile import read_decisions, reconcile
from review.tables import AnalysisTables, analysis_tables
from review.workbook import read_extraction

EXAMPLE = ROOT / "data" / "gist_imatinib"


@pytest.fixture(scope="module")
def run_objects():
    """The example review's stages, as `review run` does them."""
    review = load_review(EXAMPLE)
    extractions = [read_extraction(p, review.form) for p in review.reviewers]
    comparison = compare(extractions)
    consensus = reconcile(extractions, read_decisions(review.adjudication))
    tables = analysis_tables(consensus.tables, review.form, settings=review.settings)
    results = pool_analyses(review, tables)
    pooled, datasets = results.pooled, results.datasets
    return SimpleNamespace(
        review=review,
        comparison=comparison,
        consensus=consensus,
        tables=tables,
        pooled=pooled,
        datasets=datasets,
        safety=results.safety,
        text=methods_text(review, comparison, consensus, tables, pooled, datasets, safety=results.safety),
    )


def analysis(o, name):
    a = next(a for a in o.review.analyses if a.name == name)
    row = o.pooled.set_index("analysis").loc[name].copy()
    row["analysis"] = name
    return a, row, o.datasets[a.slug]


def test_the_text_has_the_prisma_sections_and_every_analysis(run_objects):
    text = run_objects.text
    assert [line for line in text.splitlines() if line.startswith("## ")] == [
        "## Data collection",
        "## Data preparation",
        "## Synthesis",
    ]
    for a in run_objects.review.analyses:
        assert f"**{a.name}**" in text
    assert "(REML tau^2)" not in text  # the old blanket claim


def test_extraction_names_studies_reviewers_and_form_version(run_objects):
    o = run_objects
    sentence = extraction_sentence(o.review, o.comparison, o.consensus)
    assert sentence.startswith("Data were extracted from 8 studies independently by 2 reviewers")
    assert "form oncology_trial version 1.2.0" in sentence and sentence in o.text
    # false for a single reviewer, or another form version
    one = SimpleNamespace(reviewers=o.comparison.reviewers[:1])
    assert "by one reviewer," in extraction_sentence(o.review, one, o.consensus)
    other = dataclasses.replace(o.review, form=dataclasses.replace(o.review.form, version="2.0.0"))
    assert "version 2.0.0" in extraction_sentence(other, o.comparison, o.consensus)


def test_agreement_states_percent_and_kappa_with_its_interval(run_objects):
    o = run_objects
    sentence = agreement_sentence(o.comparison.overall())
    assert sentence == (
        "Reviewers agreed on: A-B, 865 of 930 values (93.0%), Cohen's kappa 0.97 (95% CI 0.94 to 1.00) on "
        "categorical fields."
    )
    assert sentence in o.text
    assert agreement_sentence(o.comparison.overall().iloc[0:0]) == ""  # nothing compared: no claim
    no_kappa = o.comparison.overall().assign(kappa=float("nan"))
    assert "kappa" not in agreement_sentence(no_kappa)


def test_adjudication_counts_types_adjudicator_and_choices(run_objects):
    o = run_objects
    sentence = adjudication_sentence(o.comparison, o.consensus)
    assert sentence.startswith(
        "31 disagreements (14 omission, 10 numeric, 3 category, 4 text) were resolved by Adjudicator C"
    )
    assert sentence.endswith(
        ": 20 took reviewer A's value, 10 took reviewer B's value and 1 a value the adjudicator entered "
        "from the report."
    )
    assert sentence in o.text
    agreed = SimpleNamespace(reviewers=o.comparison.reviewers, disagreements=[])
    assert adjudication_sentence(agreed, o.consensus) == (
        "The reviewers agreed on every value, so nothing needed adjudication."
    )
    alone = SimpleNamespace(reviewers=o.comparison.reviewers[:1], disagreements=[])
    assert adjudication_sentence(alone, o.consensus) == ""


def test_derivations_made_and_refused(run_objects):
    o = run_objects
    sentences = derivation_sentences(o.tables, o.review.counts)
    assert sentences[0].startswith("59 counts reported only as a percentage were derived")
    assert "nearest whole count" in sentences[0]
    assert (
        sentences[1]
        == "Not converted, and left out of any analysis that needed them: 1 percentage that no whole count gives."
    )
    assert sentences[2].startswith("16 response totals were derived as sums of reported categories")
    assert sentences[3] == (
        "Log hazard ratios and their standard errors were derived from the reported hazard ratio and confidence "
        "interval for 1 comparison; 5 without a reported interval could not be used."
    )
    assert all(s in o.text for s in sentences)
    # the same review with the unique-count policy: fewer derived, the rest refused as ambiguous
    unique = analysis_tables(o.consensus.tables, o.review.form, counts="unique")
    strict = derivation_sentences(unique, "unique")
    assert "where exactly one whole count fits the printed rounding" in strict[0]
    assert "that several whole counts fit (count policy 'unique')" in strict[1]
    # every number as reported: nothing derived, nothing refused
    arm = o.tables.arm_outcomes
    reported = arm[arm["derivation"] == "reported"]
    plain = AnalysisTables(
        {
            "arm_outcomes": reported,
            "continuous": o.tables.continuous.iloc[0:0],
            "hazard_ratios": o.tables.hazard_ratios.iloc[0:0],
        }
    )
    assert derivation_sentences(plain, "nearest") == [
        "No value was derived: every number analysed was extracted as reported."
    ]


def test_single_study_is_stated_as_not_pooled(run_objects):
    o = run_objects
    a, row, data = analysis(o, "Progression-free survival, high vs standard dose")
    sentence = analysis_sentence(a, row, data)
    assert "one study (EORTC 62005), so nothing was pooled" in sentence
    assert "random-effects" not in sentence
    assert (
        "Left out: B2222 (SE not derived: CI NR" in sentence and "; S0033 (SE not derived: CI NR" in sentence
    )
    assert sentence in o.text
    two = row.copy()
    two["k"], two["studies_left_out"] = 2, "S0033 (SE not derived: CI NR)"
    pooled = analysis_sentence(a, two, data)
    assert "2 studies (B2222 and EORTC 62005) pooled with a random-effects model" in pooled
    assert "continuity" not in pooled  # hazard ratios: no cells to correct
    none = row.copy()
    none["k"] = 0
    assert "no study had usable data, so nothing was estimated" in analysis_sentence(a, none, data)


def test_pooled_analysis_names_measure_model_test_studies_and_left_out(run_objects):
    o = run_objects
    a, row, data = analysis(o, "Objective response, high vs standard dose")
    sentence = analysis_sentence(a, row, data)
    assert sentence.startswith(
        "**Objective response, high vs standard dose** (objective response at primary report; arms compared: "
        "400mg bid vs 400mg qd, 600mg vs 400mg; risk ratio): 2 studies (EORTC 62005 and S0033) pooled with a "
        "random-effects model with the restricted maximum-likelihood (REML) estimator of tau²"
    )
    assert "using Wald-type z tests" in sentence
    assert "No study had a zero cell, so no continuity correction was needed." in sentence
    assert "Left out: B2222 (arm 600mg: no row for objective response; arm 400mg: no row" in sentence
    assert sentence in o.text
    knha = analysis_sentence(dataclasses.replace(a, test="knha"), row, data)
    assert "Hartung-Knapp-Sidik-Jonkman" in knha and "Wald" not in knha
    corrected = row.copy()
    corrected["k_corrected"], corrected["k_double_zero"] = 2, 1
    text = analysis_sentence(a, corrected, data)
    assert "A continuity correction of 0.5 was added to every cell of 2 studies with a zero cell." in text
    # REML keeps a study with no events in either arm (corrected, it has weight): metafor's default drop00 = FALSE
    both = "1 study with no events in either arm (or events in every patient of both)"
    assert f"{both} was kept in the analysis, as metafor does by default." in text
    assert f"{both} was left out (drop00)." in analysis_sentence(
        dataclasses.replace(a, drop00=True), corrected, data
    )
    everywhere = analysis_sentence(dataclasses.replace(a, to="all"), corrected, data)
    assert "A continuity correction of 0.5 was added to every cell of all 2 studies." in everywhere
    mh = analysis_sentence(dataclasses.replace(a, method="MH"), corrected, data)
    assert f"{both} contributed no information to the estimate." in mh
    rd = analysis_sentence(dataclasses.replace(a, method="MH", measure="RD"), corrected, data)
    assert f"{both} was kept in the analysis" in rd  # its risk difference of 0 counts in the MH estimate
    assert "Mantel-Haenszel" in mh and "the pooled estimate uses the counts as reported" in mh
    assert "tau²" not in mh
    a2, row2, data2 = analysis(o, "Partial response, high vs standard dose")
    assert "Left out" not in analysis_sentence(a2, row2, data2)


def test_single_arm_analysis_names_the_transformation(run_objects):
    o = run_objects
    a, row, data = analysis(o, "Partial response, single-arm trials")
    sentence = analysis_sentence(a, row, data)
    assert "in single arms; proportion, analysed on the logit scale and back-transformed" in sentence
    pft = analysis_sentence(dataclasses.replace(a, measure="PFT"), row, data)
    assert "Freeman-Tukey double arcsine" in pft


def test_heterogeneity_and_software(run_objects):
    o = run_objects
    rows = {r["analysis"]: r for _, r in o.pooled.iterrows()}
    sentence = heterogeneity_sentence(o.review.analyses, rows)
    assert sentence.startswith(
        "Heterogeneity was quantified with Cochran's Q, I² and tau², with a 95% prediction"
    )
    assert "no subgroup analysis or meta-regression was done and no sensitivity analysis" in sentence
    assert "confidence intervals for tau² and I² by the Q-profile method (Viechtbauer 2007)" in sentence
    assert sentence in o.text
    unprofiled = {k: r.copy() for k, r in rows.items()}
    for r in unprofiled.values():
        r["tau2_ci_low"] = float("nan")  # pooled with tau2_ci=False: no interval to describe
    assert "Q-profile" not in heterogeneity_sentence(o.review.analyses, unprofiled)
    first = o.review.analyses[0]
    explored = [
        dataclasses.replace(first, subgroup="design", leave_one_out=True),
        dataclasses.replace(o.review.analyses[1], exclude={"blinding": "open-label"}),
    ]
    more = heterogeneity_sentence(explored, rows)
    assert f"subgroups were compared ({first.name} by design, one tau² across subgroups" in more
    assert f"{first.name}: leaving out one study at a time" in more
    assert "leaving out studies where blinding is open-label" in more and "no sensitivity" not in more
    common = [dataclasses.replace(a, method="EE") for a in o.review.analyses]
    assert "tau²" not in heterogeneity_sentence(common, rows)
    single = {k: r.copy() for k, r in rows.items()}
    for r in single.values():
        r["k"] = 1
    assert heterogeneity_sentence(o.review.analyses, single) == ""  # nothing pooled: nothing to quantify
    software = software_sentence()
    assert f"review {__version__} (Python {platform.python_version()})" in software and software in o.text


def test_a_review_without_analyses_says_so(run_objects):
    o = run_objects
    bare = dataclasses.replace(o.review, analyses=())
    text = methods_text(bare, o.comparison, o.consensus, o.tables, pd.DataFrame(), {})
    assert "No analysis was specified in review.toml, so nothing was pooled." in text
    assert "Heterogeneity" not in text


def test_safety_analyses_are_described_per_term_with_how_many_pooled(run_objects):
    o = run_objects
    name = "Adverse events, single-arm trials"
    rows = o.safety[o.safety["analysis"] == name]
    a = next(a for a in o.review.analyses if a.name == name)
    sentence = safety_sentence(a, rows)
    pooled, single = int((rows["k"] >= 2).sum()), int((rows["k"] == 1).sum())
    assert pooled >= 1 and single >= 1
    assert f"{len(rows)} terms and grades analysed, {pooled} pooled from two or more studies" in sentence
    assert f"{single} reported by one study only and not pooled" in sentence
    assert sentence in o.text and "Cochrane Handbook" not in sentence  # REML: no MH/Peto note
    mh = safety_sentence(dataclasses.replace(a, method="MH"), rows.assign(k=2))
    assert "not pooled" not in mh and "without continuity correction" in mh


def test_every_measure_method_and_test_of_the_engine_has_words():
    from review import methods
    from review.effects import MEASURES
    from review.meta import METHODS, TESTS

    assert set(MEASURES) <= set(methods.MEASURES)
    assert set(METHODS) <= set(methods.MODELS)
    assert set(TESTS) <= set(methods.TESTS)


def test_a_large_review_reads_as_prose(run_objects, monkeypatch):
    """Thousands of studies: counts with thousands separators, the first study ids and where the rest are listed,
    and arm groups chosen by rule described by their rule."""
    from review import methods

    o = run_objects
    a, row, data = analysis(o, "Objective response, high vs standard dose")
    many = pd.DataFrame({"study_id": [f"S{i:04d}" for i in range(3000)]})
    row = row.copy()
    row["k"] = 3000
    row["studies_left_out"] = "; ".join(f"T{i} (arm x: no row)" for i in range(45))
    ruled = dataclasses.replace(
        a, arms={}, groups={"experimental": {"arm_id": "arm2"}, "control": {"intervention": "standard care"}}
    )
    text = analysis_sentence(ruled, row, many)
    assert "arms compared: arms where arm_id is arm2 vs arms where intervention is standard care;" in text
    assert "3,000 studies (S0000, S0001," in text
    assert f"S{methods.LISTED_STUDIES - 1:04d} and 2,960 more (analyses/{a.slug}.csv lists them))" in text
    assert "S0040" not in text
    assert "T39 (arm x: no row); 5 more (pooled.csv's studies_left_out lists them all)." in text
    assert "T40" not in text
    # a listed pair beside the rule is named as listed
    both = analysis_sentence(dataclasses.replace(ruled, arms={"S1": ("hi", "lo")}), row, many)
    assert "vs arms where intervention is standard care, hi vs lo as listed;" in both
    assert methods._n(12345, "value", "values") == "12,345 values"


def test_a_model_shared_by_every_analysis_is_said_once(run_objects):
    o = run_objects
    same = dataclasses.replace(
        o.review, analyses=[dataclasses.replace(a, method="REML") for a in o.review.analyses]
    )
    text = methods_text(same, o.comparison, o.consensus, o.tables, o.pooled, o.datasets, safety=o.safety)
    model = "a random-effects model with the restricted maximum-likelihood (REML) estimator of tau²"
    assert text.count(model) == 1  # not in each item: once, below them
    assert f"Each analysis above that pools two or more studies uses {model}, using Wald-type z tests" in text
    a, row, data = analysis(o, "Objective response, high vs standard dose")
    assert "2 studies (EORTC 62005 and S0033) pooled. No study had a zero cell" in text
    assert analysis_sentence(a, row, data, model=False) in text
    assert "15 terms and grades analysed, 4 pooled from two or more studies, 11 reported by one study" in text
    # the example's own analyses (Mantel-Haenszel for adverse events) name their model each
    assert (
        "No risk-of-bias judgements were extracted." in o.text
    )  # the example has none (test_project has some)
    assert "Each analysis above" not in o.text


def test_an_analysis_of_every_study_of_a_large_review_says_all(run_objects):
    o = run_objects
    a, row, data = analysis(o, "Objective response, high vs standard dose")
    many = row.copy()
    many["k"] = 41
    assert "all 41 studies of the review pooled with a random-effects" in analysis_sentence(
        a, many, data, total=41
    )
    assert "41 studies (EORTC 62005 and S0033)" in analysis_sentence(a, many, data, total=42)
    few = row.copy()  # a review small enough to name every study names them
    assert "2 studies (EORTC 62005 and S0033)" in analysis_sentence(a, few, data, total=2)


def test_every_derived_mean_and_sd_is_told():
    from review.derive import mean_sd_from_median, sd_from_ci, sd_from_p, sd_from_se
    from review.methods import _continuous_derivations

    derivation = pd.Series(
        [
            "reported",
            sd_from_se(2, 100).derivation,
            sd_from_ci(8, 12, 25).derivation,
            sd_from_ci(8, 12, 100).derivation,
            sd_from_p(10, 12, 30, 30, 0.03).derivation,
            mean_sd_from_median(20, 14, 29, None, None, 40).derivation,
            mean_sd_from_median(20, 14, 29, 5, 60, 40).derivation,
            # a reported mean beside the spread, under each method: only the SD's method is named
            mean_sd_from_median(20, None, None, 5, 60, 40, "wan2014", mean_given=True).derivation,
            mean_sd_from_median(20, 14, 29, 5, 60, 40, "shi2020", mean_given=True).derivation,
            "a derivation of a kind added later",
            "",
        ]
    )
    assert _continuous_derivations(derivation) == [
        "1 standard deviation was derived as SE x sqrt(n).",
        "2 standard deviations were derived from the confidence interval of the mean (Cochrane Handbook 6.5.2.2).",
        "1 standard deviation was derived from the p-value of the difference in means (Cochrane Handbook 6.5.2.3).",
        "2 means and standard deviations were estimated from the median (median and IQR or median, IQR and range; "
        "mean by Luo et al. 2018, SD by Shi et al. 2020; mean by Luo et al. 2018, SD by Wan et al. 2014), assuming "
        "roughly symmetric distributions.",
        "2 standard deviations were estimated from the spread beside a reported mean (median and range or median, "
        "IQR and range; SD by Shi et al. 2020; SD by Wan et al. 2014), assuming roughly symmetric distributions.",
        "1 other value was derived (tables/continuous.csv says how).",
    ]


def test_studies_drop00_drops_are_listed_as_left_out():
    from review.analyses import _left_out

    data = pd.DataFrame(
        {
            "study_id": ["A", "B", "C", "D"],
            "events_e": [0, 3, 10, None],
            "n_e": [20, 30, 10, 40],
            "events_c": [0, 0, 12, 5],
            "n_c": [20, 31, 12, 40],
            "note": ["", "", "", "arm x: events: NR"],
        }
    )
    counts = ["events_e", "n_e", "events_c", "n_c"]
    assert _left_out(data, counts)["text"].tolist() == ["D (arm x: events: NR)"]
    assert _left_out(data, counts, drop00=True)["text"].tolist() == [
        "A (no events in either arm, left out as drop00 = true asks)",
        "C (events in every patient of both arms, left out as drop00 = true asks)",
        "D (arm x: events: NR)",
    ]
