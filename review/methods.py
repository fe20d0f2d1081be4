"""The methods section of a run, written from what was done (PRISMA 2020 items 9-10 and 13a-13f as the checklist).

Every sentence is computed from the run's own objects: the comparison (agreement, disagreements), the consensus
(decisions), the meta-analysis-ready tables (derivations made and refused), the per-analysis datasets (studies
included and left out, with why) and the pooled results (k, model, test, continuity correction). A sentence that
would not be true of the run is not written: k = 1 is stated as not pooled, a correction as applied only where
a study needed one, a derivation only when one was made.
"""

from __future__ import annotations

import platform
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from . import __version__
from .meta import RANDOM_EFFECTS

if TYPE_CHECKING:  # annotations only: methods sits at the end of the pipeline
    from .compare import Comparison
    from .project import Analysis, Review
    from .reconcile import Consensus
    from .tables import AnalysisTables

MEASURES = {
    "RR": "risk ratio",
    "OR": "odds ratio",
    "RD": "risk difference",
    "HR": "hazard ratio (log hazard ratio and its standard error)",
    "PLO": "proportion, analysed on the logit scale and back-transformed",
    "PR": "proportion (untransformed)",
    "PAS": "proportion, analysed as its arcsine square root and back-transformed",
    "PFT": (
        "proportion, analysed with the Freeman-Tukey double arcsine transformation and back-transformed with "
        "the harmonic mean of the sample sizes"
    ),
    "PETO": "Peto odds ratio",
    "MD": "mean difference",
    "SMD": "standardised mean difference (Hedges' g, bias-corrected)",
    "GEN": "effect as reported (generic inverse variance)",
}
MODELS = {
    "EE": "a common-effect (inverse-variance) model",
    "MH": "the Mantel-Haenszel method (common effect)",
    "PETO": "Peto's method (common effect)",
    "DL": "a random-effects model with the DerSimonian-Laird estimator of tau\u00b2",
    "REML": "a random-effects model with the restricted maximum-likelihood (REML) estimator of tau\u00b2",
    "PM": "a random-effects model with the Paule-Mandel estimator of tau\u00b2",
    "HE": "a random-effects model with the Hedges estimator of tau\u00b2",
    "HS": "a random-effects model with the Hunter-Schmidt estimator of tau\u00b2",
    "SJ": "a random-effects model with the Sidik-Jonkman estimator of tau\u00b2",
    "ML": "a random-effects model with the maximum-likelihood estimator of tau\u00b2",
    "EB": "a random-effects model with the empirical Bayes estimator of tau\u00b2",
}
TESTS = {
    "z": "Wald-type z tests and confidence intervals",
    "knha": "the Hartung-Knapp-Sidik-Jonkman method for tests and confidence intervals",
    "t": "t tests and confidence intervals (k - 1 degrees of freedom)",
    "adhoc": "the Hartung-Knapp-Sidik-Jonkman method with its ad hoc correction (a standard error never smaller than the unadjusted one)",
}
COUNT_MEASURES = ("RR", "OR", "RD", "PLO", "PR", "PAS", "PFT")
LISTED_STUDIES = 40  # study ids named in a sentence; the rest are counted, with where to find them


def methods_text(
    review: Review,
    comparison: Comparison,
    consensus: Consensus,
    tables: AnalysisTables,
    pooled: pd.DataFrame,
    datasets: Mapping[str, pd.DataFrame],
    safety: pd.DataFrame | None = None,
) -> str:
    """The methods section as Markdown: data collection, data items derived, synthesis per analysis, software.
    `safety` holds the adverse-event analyses pooled per term and grade (review.project's safety results)."""
    collection = [
        extraction_sentence(review, comparison, consensus),
        agreement_sentence(comparison.overall()),
        adjudication_sentence(comparison, consensus),
        risk_of_bias_sentence(review, consensus),
    ]
    preparation = derivation_sentences(tables, review.counts)
    rows = {r["analysis"]: r for _, r in pooled.iterrows()} if len(pooled) else {}
    if safety is None:
        safety = pd.DataFrame(columns=["analysis"])  # no safety analyses
    safety_names = set(safety["analysis"]) if len(safety) else set()
    # one model and test for every pooled analysis: said once, below the list, rather than in each item
    models = {
        (a.method, a.test)
        for a in review.analyses
        if a.name in safety_names or (a.name in rows and _k(rows[a.name]) >= 2)
    }
    shared = next(iter(models)) if len(models) == 1 and len(review.analyses) > 1 else None
    total = _study_count(review, consensus)
    synthesis = [
        safety_sentence(a, safety[safety["analysis"] == a.name], model=shared is None)
        if a.name in safety_names
        else analysis_sentence(a, rows.get(a.name), datasets.get(a.slug), model=shared is None, total=total)
        for a in review.analyses
    ] or ["No analysis was specified in review.toml, so nothing was pooled."]
    general = [
        model_sentence(*shared) if shared else "",
        heterogeneity_sentence(review.analyses, rows),
        software_sentence(),
    ]
    text = "\n\n".join(
        [
            "## Data collection",
            " ".join(s for s in collection if s),
            "## Data preparation",
            " ".join(preparation),
            "## Synthesis",
            "\n".join(f"- {s}" for s in synthesis),
            " ".join(s for s in general if s),
        ]
    )
    return text + "\n"


# --- data collection (PRISMA items 9-10) --------------------------------------------------------------------


def extraction_sentence(review: Review, comparison: Comparison, consensus: Consensus) -> str:
    studies = _study_count(review, consensus)
    n = len(comparison.reviewers)
    who = "by one reviewer" if n == 1 else f"independently by {n} reviewers"
    return (
        f"Data were extracted from {_n(studies, 'study', 'studies')} {who}, using the extraction form "
        f"{review.form.name} version {review.form.version} in workbooks generated from that form, and checked "
        "for ranges, vocabularies, references between tables and internal consistency before comparison."
    )


def agreement_sentence(overall: pd.DataFrame) -> str:
    """Agreement per reviewer pair; empty with a single reviewer (nothing was compared)."""
    if overall.empty:
        return ""
    parts = []
    for _, r in overall.iterrows():
        text = f"{r['pair']}, {int(r['agreed']):,} of {int(r['units']):,} values ({r['agreement']:.1f}%)"
        if pd.notna(r["kappa"]):
            text += f", Cohen's kappa {r['kappa']:.2f}"
            if pd.notna(r.get("kappa_low")) and pd.notna(r.get("kappa_high")):
                text += f" (95% CI {r['kappa_low']:.2f} to {r['kappa_high']:.2f})"
            text += " on categorical fields"
        parts.append(text)
    return f"Reviewers agreed on: {'; '.join(parts)}."


def adjudication_sentence(comparison: Comparison, consensus: Consensus) -> str:
    if len(comparison.reviewers) < 2:
        return ""
    disagreements = comparison.disagreements
    if not disagreements:
        return "The reviewers agreed on every value, so nothing needed adjudication."
    types = ", ".join(f"{k:,} {t}" for t, k in comparison.type_counts().items())
    decided = [
        consensus.decisions.items[(u.table, u.key, u.field)]
        for u in disagreements
        if (u.table, u.key, u.field) in consensus.decisions.items
    ]
    adjudicators = sorted({d.adjudicator for d in decided if d.adjudicator})
    choices = Counter(d.choice for d in decided if d.choice)
    took = [f"{choices[x]:,} took reviewer {x}'s value" for x in sorted(choices) if x != "other"]
    if choices.get("other"):
        took.append(f"{choices['other']:,} a value the adjudicator entered from the report")
    by = f" by {_and(adjudicators)}" if adjudicators else ""
    return (
        f"{_n(len(disagreements), 'disagreement', 'disagreements').capitalize()} ({types}) "
        f"{'was' if len(disagreements) == 1 else 'were'} resolved{by}, each decision recorded with its reason"
        + (f": {_and(took)}" if took else "")
        + "."
    )


# --- data preparation (PRISMA 13b) ------------------------------------------------------------------------------


def derivation_sentences(tables: AnalysisTables, policy: str) -> list[str]:
    """What was derived and what could not be, counted from the meta-analysis-ready tables."""
    arm = tables.arm_outcomes
    derivation = arm["derivation"].fillna("").astype(str)
    note = arm["note"].fillna("").astype(str)
    out = []
    from_percent = derivation.str.startswith("percent x total")
    nearest = derivation.str.contains("nearest")
    no_fit = note.str.contains("no whole number of patients")
    several = note.str.contains("patients; type the count")
    if from_percent.any():
        rule = (
            "as the nearest whole count, the range of counts that fit the printed rounding being recorded"
            if nearest.any()
            else "where exactly one whole count fits the printed rounding"
        )
        out.append(
            f"{_n(int(from_percent.sum()), 'count', 'counts')} reported only as a percentage "
            f"{'was' if from_percent.sum() == 1 else 'were'} derived from the percentage and its denominator, "
            f"{rule}."
        )
    refused = []
    if no_fit.any():
        refused.append(f"{_n(int(no_fit.sum()), 'percentage', 'percentages')} that no whole count gives")
    if several.any():
        refused.append(
            f"{_n(int(several.sum()), 'percentage', 'percentages')} that several whole counts fit "
            f"(count policy {policy!r})"
        )
    if refused:
        out.append(f"Not converted, and left out of any analysis that needed them: {_and(refused)}.")
    sums = derivation.str.contains(r"\+")
    if sums.any():
        out.append(
            f"{_n(int(sums.sum()), 'response total was', 'response totals were')} derived as sums of reported "
            "categories (objective response as complete plus partial response; disease control adding stable "
            "disease)"
            + (
                f"; {_n(int(note.str.contains('not derived, needs').sum()), 'was', 'were')} not, a category "
                "being unreported"
                if note.str.contains("not derived, needs").any()
                else ""
            )
            + "."
        )
    hr = tables.hazard_ratios
    if len(hr):
        made = hr["derivation"].fillna("").astype(str).str.startswith("yi").sum()
        not_made = hr["note"].fillna("").astype(str).str.contains("SE not derived").sum()
        if made:
            out.append(
                f"Log hazard ratios and their standard errors were derived from the reported hazard ratio and "
                f"confidence interval for {_n(int(made), 'comparison', 'comparisons')}"
                + (f"; {int(not_made):,} without a reported interval could not be used" if not_made else "")
                + "."
            )
        elif not_made:
            out.append(f"No hazard ratio had a reported confidence interval ({int(not_made):,} without one).")
    out += _continuous_derivations(tables.continuous["derivation"].fillna("").astype(str))
    return out or ["No value was derived: every number analysed was extracted as reported."]


# How each continuous derivation (outcomes._build_continuous, derive.py) is told, by how its text starts.
_SD = ("standard deviation was", "standard deviations were")
_CONTINUOUS_DERIVED = (
    ("SD = SE", _SD, "derived as SE x sqrt(n)"),
    ("SD = sqrt(n)", _SD, "derived from the confidence interval of the mean (Cochrane Handbook 6.5.2.2)"),
    ("t = qt(", _SD, "derived from the p-value of the difference in means (Cochrane Handbook 6.5.2.3)"),
    (
        "mean and SD estimated",
        ("mean and standard deviation was", "means and standard deviations were"),
        "estimated from the median",
    ),
    ("SD estimated", _SD, "estimated from the spread beside a reported mean"),
)


def _continuous_derivations(derivation: pd.Series) -> list[str]:
    """A sentence per kind of derived SD or mean; a derivation of any other kind is counted, never left out."""
    out, told = [], pd.Series(False, index=derivation.index)
    for start, (one, many), how in _CONTINUOUS_DERIVED:
        hit = derivation.str.startswith(start) & ~told
        told |= hit
        if not hit.any():
            continue
        sentence = f"{_n(int(hit.sum()), one, many)} {how}"
        if start.endswith(
            "estimated"
        ):  # '... estimated from the median and IQR: mean by ..., SD by ... (...'
            spreads = sorted({d.split(" from the ", 1)[1].split(":")[0] for d in derivation[hit]})
            named = {d.split(": ", 1)[1].split(" (")[0] for d in derivation[hit]}
            sentence += f" ({' or '.join(spreads)}; {'; '.join(sorted(named))}), assuming roughly symmetric distributions"
        out.append(sentence + ".")
    other = ~told & ~derivation.isin(["", "reported"])
    if other.any():
        out.append(
            f"{_n(int(other.sum()), 'other value was', 'other values were')} derived (tables/continuous.csv "
            "says how)."
        )
    return out


# --- synthesis (PRISMA 13a, 13c-13f) ----------------------------------------------------------------------------


def analysis_sentence(
    a: Analysis, row: pd.Series | None, data: pd.DataFrame | None, *, model: bool = True, total: int = 0
) -> str:
    """One analysis: what it compared, its measure, model and test (unless `model` is False: the methods say
    them once for all), correction, studies in and left out. `total`: the review's studies; an analysis of every
    one of them too many to name says 'all N studies'."""
    compared = _compared(a)
    left = _left_out(row)
    k = 0 if row is None or pd.isna(row.get("k")) else int(row["k"])
    included = _listed(_included(data, left), f"analyses/{a.slug}.csv lists them")
    left = _listed(left, "pooled.csv's studies_left_out lists them all")
    head = f"**{a.name}** ({compared}; {MEASURES[a.measure]}):"
    if k == 0:
        return f"{head} no study had usable data, so nothing was estimated." + _left_text(left)
    if k == 1:
        return (
            f"{head} one study ({_and(included)}), so nothing was pooled; its estimate is shown as reported."
            + _left_text(left)
        )
    studies = (
        f"all {k:,} studies of the review"
        if k == total and k > LISTED_STUDIES
        else f"{k:,} studies ({_and(included)})"
    )
    text = f"{head} {studies} pooled" + (f" with {_model(a.method, a.test)}" if model else "")
    return text + "." + _correction(a, row) + _left_text(left)


def model_sentence(method: str, test: str) -> str:
    """The model and test of every pooled analysis, when they share them."""
    return f"Each analysis above that pools two or more studies uses {_model(method, test)}."


def _model(method: str, test: str) -> str:
    """The model, and the test where there is a choice (Mantel-Haenszel and Peto have one)."""
    return MODELS[method] + ("" if method in ("MH", "PETO") else f", using {TESTS[test]}")


def heterogeneity_sentence(analyses: Sequence[Analysis], rows: Mapping[str, pd.Series]) -> str:
    pooled = [a for a in analyses if a.name in rows and _k(rows[a.name]) >= 2]
    if not pooled:
        return ""
    random = [a for a in pooled if a.method in RANDOM_EFFECTS]
    text = "Heterogeneity was quantified with Cochran's Q, I\u00b2" + (
        " and tau\u00b2, with a 95% prediction interval for random-effects models" if random else ""
    )
    profiled = [a for a in random if pd.notna(rows[a.name].get("tau2_ci_low"))]
    if profiled:  # metafor's confint: an interval from the generalised Q statistic, not from the likelihood
        text += (
            ", and confidence intervals for tau\u00b2 and I\u00b2 by the Q-profile method (Viechtbauer 2007), "
            "which need not contain the REML or other point estimate"
        )
    subgroups = [a for a in analyses if getattr(a, "subgroup", None)]
    sensitivity = [a for a in analyses if getattr(a, "leave_one_out", False) or getattr(a, "exclude", None)]
    if subgroups:
        text += (
            "; subgroups were compared ("
            + "; ".join(
                f"{a.name} by {a.subgroup}, "
                + (
                    "one tau\u00b2 across subgroups"
                    if a.subgroup_model == "common"
                    else "a tau\u00b2 per subgroup"
                )
                + ", with a test for subgroup differences"
                for a in subgroups
            )
            + ")"
        )
    else:
        text += "; no subgroup analysis or meta-regression was done"
    if sensitivity:
        text += (
            "; sensitivity analyses: "
            + "; ".join(
                f"{a.name}: "
                + " and ".join(
                    x
                    for x in (
                        "leaving out one study at a time" if a.leave_one_out else "",
                        f"leaving out studies where {_rule(a.exclude)}" if a.exclude else "",
                    )
                    if x
                )
                for a in sensitivity
            )
            + "."
        )
    else:
        text += " and no sensitivity analysis."
    return text + " Study results and pooled estimates are shown in forest plots and tabulated in pooled.csv."


def software_sentence() -> str:
    return (
        f"Computations used review {__version__} (Python {platform.python_version()}), whose effect sizes and "
        "pooled estimates equal R's metafor 3.8 to 1e-6; r/analyses.R repeats every analysis with metafor."
    )


def safety_sentence(a: Analysis, rows: pd.DataFrame, *, model: bool = True) -> str:
    """An adverse-event analysis pooled per term and grade: how many pooled, the method (unless `model` is False:
    the methods say it once for all), the matching rule."""
    k = rows["k"].fillna(0) if "k" in rows else pd.Series(0, index=rows.index)
    pooled, single = int((k >= 2).sum()), int((k == 1).sum())
    text = (
        f"**{a.name}** (adverse events or safety items per term and grade; {MEASURES.get(a.measure, a.measure)}): "
        f"{_n(len(rows), 'term and grade', 'terms and grades')} analysed, {pooled:,} pooled from two or more "
        "studies" + (f" with {MODELS.get(a.method, a.method)}" if model else "")
    )
    if single:
        text += f", {single:,} reported by one study only and not pooled"
    if none := int((k == 0).sum()):
        text += f", {none:,} with no study giving usable counts (the safety table says why)"
    text += "; terms matched on the CTCAE term where given, otherwise on the reported term."
    if a.method in ("MH", "PETO"):
        text += (
            " Following the Cochrane Handbook (10.4.4), the counts were used without continuity correction, and "
            "studies without events in either arm left out of ratio measures."
        )
    return text


def risk_of_bias_sentence(review: Review, consensus: Consensus) -> str:
    """PRISMA item 11: the risk-of-bias judgements, extracted and reconciled like every other value, with the
    overall judgements counted; empty when the form has no risk-of-bias table."""
    from .outcomes import table_of_kind
    from .robplots import JUDGEMENTS, rob_matrix

    table = table_of_kind(review.form, "risk_of_bias")
    if table is None:
        return ""
    rob = consensus.tables.get(table)
    if rob is None or rob.empty:
        return "No risk-of-bias judgements were extracted."
    spec = review.form.table(table).outcome
    assert spec is not None  # table_of_kind found the table by its outcome block
    names = {spec.roles[r]: r for r in ("study", "domain", "judgement")}
    matrix = rob_matrix(rob[list(names)].rename(columns={**names, spec.roles["study"]: "study_id"}))
    text = (
        f"Risk of bias was judged with the RoB 2 tool (Sterne et al. 2019) for {_n(len(matrix), 'study', 'studies')}"
        f", domain by domain, on the same forms, and the judgements compared and reconciled like the other data"
    )
    if "overall" in matrix.columns:
        counts = matrix["overall"].value_counts()
        text += "; overall: " + ", ".join(f"{counts[j]:,} {j}" for j in JUDGEMENTS if counts.get(j, 0))
    return text + f" (consensus/{table}.csv)."


# --- helpers ----------------------------------------------------------------------------------------------------


def _rule(rule: Mapping) -> str:
    return ", ".join(
        f"{k} is {' or '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in rule.items()
    )


def _study_count(review: Review, consensus: Consensus) -> int:
    from .outcomes import table_of_kind

    table = table_of_kind(review.form, "studies")
    if table is None or table not in consensus.tables:
        return 0
    spec = review.form.table(table).outcome
    assert spec is not None  # table_of_kind found the table by its outcome block
    study = spec.roles["study"]
    return int(consensus.tables[table][study].nunique())


def _k(row: pd.Series) -> int:
    return 0 if pd.isna(row.get("k")) else int(row["k"])


def _compared(a: Analysis) -> str:
    arms = list(a.arms.values())
    when = f" at {a.timepoint}" if a.timepoint else ""
    grade = f", grade {a.grade}" if a.grade else ""
    if a.one_arm:
        return f"{a.outcome}{grade}{when} in single arms"
    pairs = sorted({f"{e} vs {c}" for e, c in arms})
    if a.groups.get("experimental") and a.groups.get("control"):  # arm groups by rule (listed arms override)
        rule = f"arms where {_rule(a.groups['experimental'])} vs arms where {_rule(a.groups['control'])}"
        pairs = [rule, *(f"{p} as listed" for p in pairs[:LISTED_STUDIES])] if pairs else [rule]
    return f"{a.outcome}{grade}{when}; arms compared: {', '.join(pairs)}"


def _left_out(row: pd.Series | None) -> list[str]:
    if row is None:
        return []
    text = row.get("studies_left_out")
    if not isinstance(text, str) or not text:
        return []
    return _split_top(text)


def _split_top(text: str) -> list[str]:
    """'A (x; y); B (z)' -> ['A (x; y)', 'B (z)']: split on '; ' outside parentheses."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and text.startswith("; ", i):
            parts.append(text[start:i])
            start = i + 2
    parts.append(text[start:])
    return [p for p in parts if p]


def _included(data: pd.DataFrame | None, left: list[str]) -> list[str]:
    if data is None or "study_id" not in data:
        return []
    out = {s.split(" (")[0] for s in left}
    return [s for s in dict.fromkeys(data["study_id"].astype(str)) if s not in out]


def _listed(studies: list[str], where: str) -> list[str]:
    """Studies named in a sentence: all of them up to LISTED_STUDIES, else the first ones and where the rest are
    (a methods section of a large review reads as prose, not as thousands of study ids)."""
    if len(studies) <= LISTED_STUDIES:
        return studies
    return [*studies[:LISTED_STUDIES], f"{len(studies) - LISTED_STUDIES:,} more ({where})"]


def _left_text(left: list[str]) -> str:
    if not left:
        return ""
    return f" Left out: {'; '.join(left)}."


def _correction(a: Analysis, row: pd.Series) -> str:
    if a.measure not in COUNT_MEASURES:
        return ""
    corrected = int(row.get("k_corrected", 0) or 0)
    double_zero = int(row.get("k_double_zero", 0) or 0)
    text = ""
    if corrected:
        add = row.get("add", 0.5)
        which = (
            f"all {_n(corrected, 'study', 'studies')}"
            if a.to == "all"
            else f"all {_n(corrected, 'study', 'studies')}, as at least one had a zero cell"
            if a.to == "if0all"
            else f"{_n(corrected, 'study', 'studies')} with a zero cell"
        )
        text += f" A continuity correction of {add:g} was added to every cell of {which}" + (
            " for the study estimates shown; the pooled estimate uses the counts as reported."
            if a.method in ("MH", "PETO")
            else "."
        )
    else:
        text += " No study had a zero cell, so no continuity correction was needed."
    if double_zero:
        text += f" {_n(double_zero, 'study', 'studies')} with no events in either arm (or events in every patient of both)"
        verb = "was" if double_zero == 1 else "were"
        if a.drop00:
            text += f" {verb} left out (drop00)."
        elif a.method in ("MH", "PETO") and a.measure != "RD":  # a risk difference of 0 still counts
            text += " contributed no information to the estimate."
        else:
            text += f" {verb} kept in the analysis, as metafor does by default."
    return text


def _n(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def _and(items: Sequence[str]) -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
