"""Outcome kinds end to end on a second form (tests/forms/other_trial.yaml) whose tables and fields the toolkit
never names: continuous outcomes, adverse events, hazard ratios by three routes, arm groups by rule, subgroups,
sensitivity analyses; every pooled number pinned against metafor.

Reference values: R 4.2 / metafor 3.8-1, tests/r/make_reference_outcomes.R (the R call that gives each value is
written beside it). Tolerance 1e-9 (both sides double precision).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

from review.errors import ReviewError
from review.forms import load_form
from review.project import load_review, run
from review.workbook import make_workbook

FORM = Path(__file__).resolve().parent / "forms" / "other_trial.yaml"
TOML = """\
title = "Other form"
form = "FORM"
reviewers = ["a.xlsx", "b.xlsx"]

[[analysis]]
name = "Response"
outcome = "response"
measure = "RR"
experimental = { daily_dose = ">= 800" }
control = { daily_dose = 400 }
subgroup = "region"
subgroup_model = "separate"
sensitivity = { leave_one_out = true, exclude = { quality = "poor" } }

[[analysis]]
name = "Response, common tau2"
outcome = "response"
measure = "RR"
experimental = { daily_dose = ">= 800" }
control = { daily_dose = 400 }
subgroup = "region"

[[analysis]]
name = "QoL MD"
outcome = "QoL"
measure = "MD"
experimental = { daily_dose = ">= 800" }
control = { daily_dose = 400 }

[[analysis]]
name = "QoL SMD"
outcome = "QoL"
measure = "SMD"
experimental = { daily_dose = ">= 800" }
control = { daily_dose = 400 }

[[analysis]]
name = "Toxicity RR"
table = "toxicity"
measure = "RR"
method = "MH"
experimental = { daily_dose = ">= 800" }
control = { daily_dose = 400 }

[[analysis]]
name = "Toxicity Peto"
table = "toxicity"
measure = "OR"
method = "PETO"
experimental = { daily_dose = ">= 800" }
control = { daily_dose = 400 }

[[analysis]]
name = "Toxicity RD"
table = "toxicity"
measure = "RD"
method = "MH"
experimental = { daily_dose = ">= 800" }
control = { daily_dose = 400 }

[[analysis]]
name = "Toxicity, high dose"
table = "toxicity"
measure = "PLO"
arm = { daily_dose = 800 }

[[analysis]]
name = "Toxicity IV"
table = "toxicity"
measure = "RR"
method = "DL"
experimental = { daily_dose = ">= 800" }
control = { daily_dose = 400 }

[[analysis]]
name = "Ambiguous arms"
outcome = "response"
measure = "RR"
experimental = { daily_dose = ">= 400" }
control = { daily_dose = 400 }

[[analysis]]
name = "PFS"
outcome = "PFS"
measure = "HR"
experimental = { daily_dose = ">= 800" }
control = { daily_dose = 400 }
"""
TRIALS = ("T1", "T2", "T3", "T4")
PLO_NAUSEA = 0.207620857466  # transf.ilogit(rma(measure="PLO", xi=c(10,20,5), ni=c(50,80,40))$beta)


def _data() -> dict[str, pd.DataFrame]:
    """Invented numbers (tests only), the same as in tests/r/make_reference_outcomes.R."""
    trials = pd.DataFrame(
        {
            "trial": TRIALS,
            "citation": [f"Trial {t}" for t in TRIALS],
            "region": ["EU", "EU", "US", "US"],
            "quality": ["good", "good", "good", "poor"],
        }
    )
    groups = pd.DataFrame(
        [{"trial": t, "group": g, "daily_dose": d} for t in TRIALS for g, d in (("hi", 800), ("lo", 400))]
    )
    binary = pd.DataFrame(
        [
            {"trial": t, "group": g, "endpoint": "response", "n_events": e, "n_total": n}
            for t, g, e, n in (
                ("T1", "hi", 20, 50),
                ("T1", "lo", 12, 50),
                ("T2", "hi", 30, 80),
                ("T2", "lo", 25, 80),
                ("T3", "hi", 25, 40),
                ("T3", "lo", 8, 42),
                ("T4", "hi", 22, 60),
                ("T4", "lo", 18, 61),
            )
        ]
    )
    scores = pd.DataFrame(
        [
            {"trial": "T1", "group": "hi", "scale": "QoL", "average": 62.1, "sd": 10.5, "patients": 50},
            {"trial": "T1", "group": "lo", "scale": "QoL", "average": 58.3, "sd": 11.2, "patients": 50},
            {"trial": "T2", "group": "hi", "scale": "QoL", "average": 60.4, "se": 1.3, "patients": 80},
            {"trial": "T2", "group": "lo", "scale": "QoL", "average": 57.9, "se": 1.25, "patients": 80},
            {
                "trial": "T3",
                "group": "hi",
                "scale": "QoL",
                "average": 55.0,
                "lower": 51.2,
                "upper": 58.8,
                "patients": 40,
            },
            {
                "trial": "T3",
                "group": "lo",
                "scale": "QoL",
                "average": 52.5,
                "lower": 49.0,
                "upper": 56.0,
                "patients": 42,
            },
            {
                "trial": "T4",
                "group": "hi",
                "scale": "QoL",
                "average": "NR",
                "sd": "NR",
                "med": 61,
                "lower_quartile": 52,
                "upper_quartile": 70,
                "patients": 60,
            },
            {
                "trial": "T4",
                "group": "lo",
                "scale": "QoL",
                "average": "NR",
                "sd": "NR",
                "med": 57,
                "lower_quartile": 48,
                "upper_quartile": 66,
                "patients": 61,
            },
        ]
    )
    tox = [
        ("T1", "Nausea", "Nausea", "any", 10, 6, 50, 50),
        ("T2", "nausea and vomiting", "Nausea", "any", 20, 12, 80, 80),
        ("T3", "Nausea", "NR", "any", 5, 3, 40, 42),
        ("T1", "Nausea", "Nausea", "3-4", 2, 0, 50, 50),
        ("T2", "nausea and vomiting", "Nausea", "3-4", 1, 0, 80, 80),
        ("T3", "Nausea", "NR", "3-4", 0, 0, 40, 42),
        ("T1", "Rash", "", "any", 8, 4, 50, 50),
        ("T4", "rash", "", "any", 9, 5, 60, 61),
    ]
    toxicity = pd.DataFrame(
        [
            {"trial": t, "group": g, "reported": term, "ctcae": ct, "severity": sev, "cases": c, "exposed": n}
            for t, term, ct, sev, c_hi, c_lo, n_hi, n_lo in tox
            for g, c, n in (("hi", c_hi, n_hi), ("lo", c_lo, n_lo))
        ]
    )
    contrasts = pd.DataFrame(
        [
            {
                "trial": "T1",
                "endpoint": "PFS",
                "first_group": "hi",
                "second_group": "lo",
                "ratio": 0.80,
                "lower": 0.65,
                "upper": 0.98,
            },
            {
                "trial": "T2",
                "endpoint": "PFS",
                "first_group": "hi",
                "second_group": "lo",
                "ratio": "NR",
                "oe": -6.5,
                "v": 30.2,
            },
            {
                "trial": "T3",
                "endpoint": "PFS",
                "first_group": "hi",
                "second_group": "lo",
                "ratio": 0.85,
                "lower": "NR",
                "upper": "NR",
                "p": 0.21,
                "deaths": 120,
                "n_first": 40,
                "n_second": 42,
            },
            {
                "trial": "T4",
                "endpoint": "PFS",
                "first_group": "hi",
                "second_group": "lo",
                "ratio": 1.15,
                "lower": 0.90,
                "upper": 1.47,
                "reported_as": "control vs experimental",
            },
        ]
    )
    frames = {
        "trials": trials,
        "groups": groups,
        "binary": binary,
        "scores": scores,
        "toxicity": toxicity,
        "survival_contrasts": contrasts,
    }
    return {k: v.assign(source="report", location="Table 2") for k, v in frames.items()}


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("other")
    form = load_form(FORM)
    for name in ("a", "b"):
        make_workbook(form, folder / f"{name}.xlsx", reviewer=name.upper(), data=_data())
    (folder / "review.toml").write_text(TOML.replace("FORM", FORM.as_posix()), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def result(folder):
    return run(folder, folder / "output")


def _row(frame, analysis, **where):
    sel = frame[frame["analysis"] == analysis]
    for k, v in where.items():
        sel = sel[sel[k] == v]
    assert len(sel) == 1, (analysis, where, sel)
    return sel.iloc[0]


@pytest.mark.parametrize(
    ("analysis", "theta", "se", "tau2"),
    [
        # rma(measure="RR", ai=c(20,30,25,22), n1i=c(50,80,40,60), ci=c(12,25,8,18), n2i=c(50,80,42,61))
        ("Response", 0.475271663803, 0.213870804632, 0.105036180892),
        # rma(measure="MD", m1i, sd1i, n1i, m2i, sd2i, n2i) with the SDs derived in make_reference_outcomes.R
        ("QoL MD", 3.121413286404, 1.094652278179, 0.0),
        ("QoL SMD", 0.264168726850, 0.093374577150, 0.0),
        # rma(yi, sei=sei): ln HR from a CI, from O-E and V, from a log-rank p (Tierney 2007), and one inverted
        ("PFS", -0.198103008962, 0.068172784211, 0.0),
    ],
)
def test_pooled_equal_metafor(result, analysis, theta, se, tau2):
    row = _row(result.pooled, analysis)
    assert row["k"] == 4
    assert row["theta"] == pytest.approx(theta, abs=1e-9)
    assert row["se"] == pytest.approx(se, abs=1e-9)
    assert row["tau2"] == pytest.approx(tau2, abs=1e-9)


@pytest.mark.parametrize(
    ("analysis", "term", "grade", "theta", "se"),
    [
        # rma.mh(measure="RR", ai=c(10,20,5), n1i=c(50,80,40), ci=c(6,12,3), n2i=c(50,80,42))
        ("Toxicity RR", "Nausea", "any", 0.517794293082, 0.252508779571),
        # rma.peto(ai=c(10,20,5), n1i=c(50,80,40), ci=c(6,12,3), n2i=c(50,80,42))
        ("Toxicity Peto", "Nausea", "any", 0.608696395230, 0.292850384636),
        # rma.mh(measure="RD", ...)
        ("Toxicity RD", "Nausea", "any", 0.083024251070, 0.039584328146),
        # grade 3-4: T3 has no events in either arm; rma.peto / rma.mh(measure="RD") with ai=c(2,1,0), ci=c(0,0,0)
        ("Toxicity Peto", "Nausea", "3-4", 2.013559322034, 1.158608165583),
        ("Toxicity RD", "Nausea", "3-4", 0.017546362340, 0.010070954461),
        # rma.mh(measure="RR", ai=c(8,9), n1i=c(50,60), ci=c(4,5), n2i=c(50,61)); rma.peto(...); rma.mh("RD")
        ("Toxicity RR", "Rash", "any", 0.644956467680, 0.389711875688),
        ("Toxicity Peto", "Rash", "any", 0.701166427349, 0.415683222129),
        ("Toxicity RD", "Rash", "any", 0.073448017951, 0.043116519770),
    ],
)
def test_safety_table_equals_metafor(result, analysis, term, grade, theta, se):
    row = _row(result.safety, analysis, term=term, grade=grade)
    estimate = theta if analysis.endswith("RD") else math.exp(theta)
    assert row["estimate"] == pytest.approx(estimate, abs=1e-9)
    z = 1.959963984540054
    low, high = theta - z * se, theta + z * se
    if not analysis.endswith("RD"):
        low, high = math.exp(low), math.exp(high)
    assert row["ci_low"] == pytest.approx(low, abs=1e-9) and row["ci_high"] == pytest.approx(high, abs=1e-9)


def test_safety_table_contents(result):
    safety = result.safety
    assert set(safety.columns) >= {
        "term",
        "grade",
        "k",
        "events_e",
        "n_e",
        "events_c",
        "n_c",
        "estimate",
        "i2",
    }
    nausea = _row(safety, "Toxicity RR", term="Nausea", grade="any")
    # events/N per group, summed over the studies pooled
    assert (nausea["events_e"], nausea["n_e"], nausea["events_c"], nausea["n_c"]) == (35, 170, 21, 172)
    assert nausea["k"] == 3
    # matched on the CTCAE term where given, else on the reported term; the reported spellings are shown
    assert nausea["matched_on"] == "CTCAE term, reported term"
    assert nausea["reported_terms"] == "Nausea; nausea and vomiting"
    rash = _row(safety, "Toxicity RR", term="Rash", grade="any")
    assert rash["matched_on"] == "reported term" and rash["reported_terms"] == "Rash; rash"
    # no events in any control arm: the MH RR is undefined (rma.mh gives NA), and says so
    severe = _row(safety, "Toxicity RR", term="Nausea", grade="3-4")
    assert pd.isna(severe["estimate"]) and "undefined" in severe["note"]
    assert _row(safety, "Toxicity RD", term="Nausea", grade="3-4")["k_double_zero"] == 1
    written = pd.read_csv(result.review.output / "safety.csv")
    assert len(written) == len(safety) == 3 * 5
    # single-arm: pooled proportions per term. R: rma(measure="PLO", xi=c(10,20,5), ni=c(50,80,40))
    prop = _row(safety, "Toxicity, high dose", term="Nausea", grade="any")
    assert (prop["events"], prop["n"], prop["k"]) == (35, 170, 3)
    assert prop["estimate"] == pytest.approx(PLO_NAUSEA, abs=1e-9)
    # inverse variance with zero cells: corrected as metafor, and the Cochrane advice said
    iv = _row(safety, "Toxicity IV", term="Nausea", grade="3-4")
    assert "Cochrane" in iv["note"] and "MH or PETO" in iv["note"]
    assert "Cochrane" not in str(_row(safety, "Toxicity RR", term="Nausea", grade="3-4")["note"])


def test_ambiguous_arm_rule_is_told_not_guessed(result):
    row = _row(result.pooled, "Ambiguous arms")
    assert row["k"] == 0
    assert (
        "T1 (2 arms match experimental (hi, lo); list the study under arms = {...})"
        in row["studies_left_out"]
    )


def test_subgroups_and_sensitivity_equal_metafor(result):
    subs = result.subgroups
    sep = subs[subs["analysis"] == "Response"].set_index("subgroup")
    # rma(yi, vi, subset=region=="EU") and =="US", each REML; Q between: rma(theta, sei=se, method="EE")$QE
    assert sep.loc["EU", "theta"] == pytest.approx(0.294399414937, abs=1e-9)
    assert sep.loc["US", "theta"] == pytest.approx(0.677872227639, abs=1e-9)
    assert sep.loc["US", "se"] == pytest.approx(0.484876371108, abs=1e-9)
    assert sep.loc["US", "tau2"] == pytest.approx(0.379374007239, abs=1e-9)
    assert sep.loc["EU", "q_between"] == pytest.approx(0.550861104032, abs=1e-9)
    assert (sep["model"] == "separate tau2").all()
    # common <- rma(yi, vi, mods = ~ factor(region), method="REML"); predict(common, newmods=c(0, 1)); QM, QMp
    com = subs[subs["analysis"] == "Response, common tau2"].set_index("subgroup")
    assert com["model"].str.startswith("common").all()
    assert com.loc["EU", "theta"] == pytest.approx(0.330846197650, abs=1e-9)
    assert com.loc["US", "theta"] == pytest.approx(0.657006678154, abs=1e-9)
    assert com.loc["US", "se"] == pytest.approx(0.356335027596, abs=1e-9)
    assert com.loc["US", "tau2"] == pytest.approx(0.164149720785, abs=1e-9)
    qm = [c for c in com.columns if c in ("qm", "q_between")][0]
    assert com.loc["EU", qm] == pytest.approx(0.437080848253, abs=1e-9)
    sens = result.sensitivity
    loo = sens[sens["sensitivity"] == "leave one out"].set_index("omitted")
    # leave1out(rma(measure="RR", ...))$estimate
    assert loo.loc["T1", "theta"] == pytest.approx(0.486725463819, abs=1e-9)
    assert loo.loc["T4", "theta"] == pytest.approx(0.583780979071, abs=1e-9)
    excl = _row(sens, "Response", sensitivity="excluding quality = poor")
    # rma(measure="RR", ...) on T1-T3
    assert excl["k"] == 3 and excl["se"] == pytest.approx(0.291287563025, abs=1e-9)
    assert excl["tau2"] == pytest.approx(0.171821437462, abs=1e-9)


def test_derivations_recorded(result):
    tables = result.review.output / "tables"
    cont = pd.read_csv(tables / "continuous.csv").set_index(["study_id", "arm_id"])
    t3 = cont.loc[("T3", "hi")]
    assert t3["sd"] == pytest.approx(11.881850053909, abs=1e-9)  # sqrt(40) * 7.6 / (2 * qt(0.975, 39))
    assert "t(39 df)" in t3["derivation"] and t3["inputs"] == "CI=51.2 to 58.8, level=95%, n=40"
    t4 = cont.loc[("T4", "hi")]
    assert t4["mean"] == pytest.approx(61.0) and t4["sd"] == pytest.approx(13.672485627495, abs=1e-9)
    # median and IQR only: Luo's mean, Wan's SD (Shi's SD needs the range too)
    assert "mean by Luo et al. 2018, SD by Wan et al. 2014" in t4["derivation"]
    assert cont.loc[("T2", "hi"), "derivation"] == "SD = SE x sqrt(n)"
    hr = pd.read_csv(tables / "hazard_ratios.csv").set_index("study_id")
    assert hr.loc["T3", "yi"] == pytest.approx(-0.228936794868, abs=1e-9)
    assert hr.loc["T3", "sei"] == pytest.approx(0.182628515307, abs=1e-9)
    assert (
        "Tierney 2007" in hr.loc["T3", "derivation"]
        and "signed by the sign of ln HR 0.85" in hr.loc["T3", "derivation"]
    )
    assert hr.loc["T2", "derivation"].startswith("ln HR = (O - E) / V")
    assert hr.loc["T4", "yi"] == pytest.approx(-math.log(1.15)) and "inverted" in hr.loc["T4", "derivation"]
    arm = pd.read_csv(tables / "arm_outcomes.csv")
    assert set(arm["domain"]) == {"binary", "toxicity"}


def test_outputs(result):
    out = result.review.output
    for name in (
        "review.xlsx",
        "pooled.csv",
        "safety.csv",
        "subgroups.csv",
        "sensitivity.csv",
        "plots/toxicity_rr.png",
        "plots/qol_md.png",
        "r/qol_md_metafor.csv",
    ):
        assert (out / name).exists(), name
    assert pd.read_csv(out / "r" / "qol_md_metafor.csv").columns.tolist() == [
        "study",
        "m1i",
        "sd1i",
        "n1i",
        "m2i",
        "sd2i",
        "n2i",
    ]
    script = (out / "r" / "analyses.R").read_text(encoding="utf-8")
    assert 'res <- rma.mh(measure="RR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=d, slab=study)' in script
    assert "for (d in split(dat, list(dat$term, dat$grade, dat$timepoint), drop = TRUE))" in script
    tox = pd.read_csv(out / "r" / "toxicity_rr_metafor.csv")
    assert tox.columns.tolist()[:4] == ["term", "grade", "timepoint", "study"] and len(tox) == 8
    assert not (out / "r" / "ambiguous_arms_metafor.csv").exists()
    import openpyxl

    wb = openpyxl.load_workbook(out / "review.xlsx", read_only=True)
    assert {"Safety", "Subgroups", "Sensitivity"} <= set(wb.sheetnames)
    ws = wb["Safety"]
    header = [c.value for c in next(ws.iter_rows(max_row=1))]
    assert header[:3] == ["analysis", "term", "grade"]
    text = (out / "methods.md").read_text(encoding="utf-8")
    assert "(adverse events or safety items per term and grade; risk ratio)" in text


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (('measure = "MD"', 'measure = "MDX"'), "measure 'MDX' is not one of"),
        (('subgroup = "region"', 'subgroup = "continent"'), "subgroup 'continent' is not a field"),
        (
            ('subgroup_model = "separate"', 'subgroup_modle = "separate"'),
            "unknown key 'subgroup_modle'; valid keys are name",
        ),
        (
            ("leave_one_out = true", "leave_one_ot = true"),
            "sensitivity: unknown key 'leave_one_ot'; valid keys are leave_one_out, exclude",
        ),
        (
            ("control = { daily_dose = 400 }\nsubgroup", "control = { dosage = 400 }\nsubgroup"),
            "control: 'dosage' is not a field",
        ),
        (
            ('table = "toxicity"\nmeasure = "RR"', 'table = "binary"\nmeasure = "MD"'),
            "table 'binary' cannot give measure MD",
        ),
        (('method = "PETO"', 'method = "PETO"\nlevel = 120'), "level must be a confidence level"),
        (('method = "PETO"', 'method = "PETO"\nadd = -1'), "add must be a number >= 0"),
        (('method = "PETO"', 'method = "PETO"\ndrop00 = "yes"'), "drop00 must be true or false"),
        (('method = "PETO"', 'method = "PETO"\nto = "some"'), "to must be one of only0, all, if0all, none"),
        (('name = "QoL SMD"\noutcome = "QoL"\n', 'name = "QoL SMD"\n'), "needs outcome = ..."),
        (
            ('measure = "RR"\nmethod = "MH"', 'measure = "PLO"\nmethod = "MH"'),
            "method MH pools two-arm counts",
        ),
    ],
)
def test_review_toml_errors_name_file_analysis_and_key(folder, edit, words):
    bad = folder.parent / (folder.name + "_bad")
    bad.mkdir(exist_ok=True)
    for f in ("a.xlsx", "b.xlsx"):
        (bad / f).write_bytes((folder / f).read_bytes())
    text = TOML.replace("FORM", FORM.as_posix())
    assert edit[0] in text, edit
    (bad / "review.toml").write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    with pytest.raises(ReviewError) as exc:
        load_review(bad)
    assert words in str(exc.value) and "review.toml: analysis" in str(exc.value)


def test_form_outcome_block_errors_name_the_line(tmp_path):
    from review.errors import FormError
    from review.forms import parse_form

    text = FORM.read_text(encoding="utf-8")
    with pytest.raises(
        FormError, match=r"line 27: table 'binary': outcome kind arm_counts needs role 'events'"
    ):
        parse_form(text.replace("events: n_events, ", "events: n_event, "), "f.yaml")
    with pytest.raises(
        FormError, match=r"line \d+: table 'trials': outcome: kind 'study' is not one of studies, arms"
    ):
        parse_form(text.replace("kind: studies", "kind: study"), "f.yaml")
    with pytest.raises(FormError, match="unknown key 'colour'; its roles are study, arm, term"):
        parse_form(text.replace("grade: severity,", "grade: severity, colour: red,"), "f.yaml")


def test_a_form_without_the_kind_an_analysis_needs_is_a_located_error(folder):
    bad = folder.parent / (folder.name + "_nokind")
    bad.mkdir(exist_ok=True)
    form = FORM.read_text(encoding="utf-8").replace(
        "    outcome:\n      kind: continuous\n",
        "    outcome:\n      kind: arm_counts\n      events: patients\n      total: patients\n",
    )
    form = "\n".join(
        line
        for line in form.splitlines()
        if not line.strip().startswith(
            (
                "mean: average",
                "sd: sd",
                "se: se",
                "ci_low: lower",
                "ci_high: upper",
                "median: med",
                "q1: ",
                "q3: ",
                "n: patients",
            )
        )
    )
    (bad / "form.yaml").write_text(form, encoding="utf-8")
    for f in ("a.xlsx", "b.xlsx"):
        (bad / f).write_bytes((folder / f).read_bytes())
    (bad / "review.toml").write_text(TOML.replace("FORM", "form.yaml"), encoding="utf-8")
    with pytest.raises(
        ReviewError, match=r"analysis 3 \(QoL MD\): measure MD needs a table of kind continuous"
    ):
        load_review(bad)


def test_every_kind_and_role_is_documented():
    from conftest import ROOT

    from review.outcomes import KINDS

    doc = (ROOT / "extraction_forms" / "README.md").read_text(encoding="utf-8")
    for kind in KINDS.values():
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{kind.name}` |")), "")
        assert row, kind.name
        for role in kind.roles:
            assert f"`{role.name}`" in row, (kind.name, role.name)
        for option in kind.options:
            assert f"`{option}`" in row, (kind.name, option)


def test_rules_match_values_lists_and_comparisons():
    from review.analyses import arm_pairs
    from review.project import Analysis, matches

    arms = pd.DataFrame(
        {
            "study_id": ["A", "A", "A", "B", "B", "C"],
            "arm_id": ["hi", "lo", "all", "800", "400", "only"],
            "dose": [800, 400, None, 800, 400, 600],
            "schedule": ["Once daily", "once daily", None, "twice daily", "once daily", "once daily"],
            "pooled": [False, False, True, False, False, False],
        }
    )
    assert matches(arms, {"dose": ">= 600"}).tolist() == [True, False, False, True, False, True]
    assert matches(arms, {"schedule": "ONCE DAILY", "dose": [400, 600]}).tolist() == [
        False,
        True,
        False,
        False,
        True,
        True,
    ]
    assert matches(arms, {"pooled": True}).tolist() == [False, False, True, False, False, False]
    two = Analysis(
        "x",
        "r",
        "RR",
        "REML",
        "z",
        {"B": ("400", "800")},
        groups={"experimental": {"dose": ">= 800"}, "control": {"dose": "<= 400"}},
    )
    pairs = arm_pairs(two, arms).set_index("study_id")
    # A's pooled 'all' row is not an arm of any group unless a rule asks for it; B listed by hand wins;
    # C has no control arm, so it is not part of the comparison
    assert pairs.loc["A", ["experimental_arm", "control_arm"]].tolist() == ["hi", "lo"]
    assert pairs.loc["B", ["experimental_arm", "control_arm"]].tolist() == ["400", "800"]
    assert "C" not in pairs.index
    one = Analysis("p", "r", "PLO", "REML", "z", {}, groups={"arm": {"schedule": "once daily"}})
    pairs = arm_pairs(one, arms).set_index("study_id")
    assert pairs.loc["A", "pair_note"] == "2 arms match arm (hi, lo); list the study under arms = {...}"
    assert pairs.loc["B", "experimental_arm"] == "400" and pairs.loc["C", "experimental_arm"] == "only"


def test_every_measure_has_an_r_back_transformation():
    from review.effects import MEASURES
    from review.rscript import _R_TRANSF

    assert set(MEASURES) <= set(_R_TRANSF)


def test_a_review_of_continuous_outcomes_only_runs_and_its_revman_rows_say_how(folder, tmp_path):
    # no count outcome analysed: the RevMan export looked up derivations among the count outcomes only (IndexError)
    only = TOML.split("[[analysis]]")[0] + "[[analysis]]" + TOML.split("[[analysis]]")[3]
    assert 'name = "QoL MD"' in only and only.count("[[analysis]]") == 1
    for name in ("a.xlsx", "b.xlsx"):
        (tmp_path / name).write_bytes((folder / name).read_bytes())
    (tmp_path / "review.toml").write_text(only.replace("FORM", FORM.as_posix()), encoding="utf-8")
    done = run(tmp_path, tmp_path / "output")
    assert _row(done.pooled, "QoL MD")["theta"] == pytest.approx(3.121413286404, abs=1e-9)
    results = pd.read_csv(tmp_path / "output" / "revman" / "study-results.csv").set_index(["Study", "Arm"])
    # T3's SD comes from a CI of the mean: its RevMan footnote says so, with the inputs
    assert (
        "Derived: SD = sqrt(n) x (upper - lower) / (2 x 2.0227), t(39 df)"
        in results.loc[("T3", "hi"), "Footnotes"]
    )
