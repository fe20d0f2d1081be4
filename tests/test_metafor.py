"""The estimators, tests, intervals, meta-regression and subgroups of issue 15, pinned against metafor 3.8.

The expected values are in tests/metafor_reference.py, each beside the R call that printed it; regenerate them
with `Rscript tests/r/metafor_reference.R > tests/metafor_reference.py` then `ruff format` it (needs R with metafor; these tests do
not). Data: dat.bcg (escalc RR) and six random sets made in that script (k = 5 to 20, tau^2 from 0 to 0.6).
Tolerance: 1e-6 relative, 1e-10 absolute (values metafor prints as 0 or at the floor of a p-value).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from datasets import BCG
from metafor_reference import (
    CLOPPER_PEARSON,
    CUMUL,
    INFLUENCE,
    METAREG,
    POOL,
    RANDOM,
    RANKTEST,
    SUBGROUPS,
    TRIMFILL,
)

from review.meta import (
    METHODS,
    TESTS,
    clopper_pearson,
    cumulative,
    influence,
    metareg,
    pool,
    ranktest,
    study_weights,
    subgroups,
    trimfill,
)

BCG_MODS = BCG.assign(
    ablat=[44, 55, 42, 52, 13, 44, 19, 13, 27, 42, 18, 33, 33],
    year=[1948, 1949, 1960, 1977, 1973, 1953, 1973, 1980, 1968, 1961, 1974, 1969, 1976],
)
DATA = (
    {"bcg": (BCG_MODS, "RR")}
    | {f"random{i}": (pd.DataFrame(d), "GEN") for i, d in enumerate(RANDOM, 1)}
    # k2 <- data.frame(yi=c(0.2,0.6), vi=c(0.04,0.09)); homog <- data.frame(yi=c(0.10,0.12,0.11,0.09),
    #                                                                       vi=c(0.02,0.03,0.025,0.04))
    | {"k2": (pd.DataFrame({"yi": [0.2, 0.6], "vi": [0.04, 0.09]}), "GEN")}
    | {"homog": (pd.DataFrame({"yi": [0.10, 0.12, 0.11, 0.09], "vi": [0.02, 0.03, 0.025, 0.04]}), "GEN")}
)


def close(actual, expected, rtol=1e-6, atol=1e-10) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float),
        np.asarray(expected, dtype=float),
        rtol=rtol,
        atol=atol,
        equal_nan=True,
    )


def _scale(measure, x):
    return np.log(x) if measure == "RR" else x


def test_the_engine_offers_metafors_methods_and_tests():
    assert set(METHODS) >= {"EE", "DL", "HE", "HS", "SJ", "ML", "REML", "EB", "PM", "MH", "PETO"}
    assert set(TESTS) == {"z", "t", "knha", "adhoc"}


@pytest.mark.parametrize("key", list(POOL), ids=lambda k: "-".join(k))
def test_pool_equals_rma(key):
    dataset, method, test = key
    ref = POOL[key]
    data, measure = DATA[dataset]
    row = pool(data, measure, method, test).iloc[0]
    close([row.theta, row.se, row.stat, row.pval], [ref["beta"], ref["se"], ref["zval"], ref["pval"]])
    close(_scale(measure, [row.ci_low, row.ci_high]), [ref["ci_lb"], ref["ci_ub"]])
    close(
        [row.tau2, row.i2, row.h2, row.q, row.q_pval],
        [ref["tau2"], ref["I2"], ref["H2"], ref["QE"], ref["QEp"]],
    )
    close(_scale(measure, [row.pi_low, row.pi_high]), [ref["pi_lb"], ref["pi_ub"]])
    if method == "EE":
        assert np.isnan([row.tau2_ci_low, row.tau2_ci_high, row.i2_ci_low, row.i2_ci_high]).all()
    else:
        close([row.tau2_ci_low, row.tau2_ci_high], ref["tau2_ci"])
        close([row.i2_ci_low, row.i2_ci_high], ref["I2_ci"])


@pytest.mark.parametrize("key", list(METAREG), ids=lambda k: "-".join(k))
def test_metareg_equals_rma_with_mods(key):
    dataset, formula, method, test = key
    ref = METAREG[key]
    data, measure = DATA[dataset]
    if dataset != "bcg":
        data = data.assign(grp=data["grp"].astype(str))
    coefficients, model = metareg(data, measure, [m.strip() for m in formula.split("+")], method, test)
    close(coefficients["estimate"], ref["beta"])
    close(coefficients["se"], ref["se"])
    close(coefficients["zval"], ref["zval"])
    close(coefficients["pval"], ref["pval"])
    close(coefficients["ci.lb"], ref["ci_lb"])
    close(coefficients["ci.ub"], ref["ci_ub"])
    row = model.iloc[0]
    close(
        [row.tau2, row.I2, row.H2, row.QE, row.QEp],
        [ref["tau2"], ref["I2"], ref["H2"], ref["QE"], ref["QEp"]],
    )
    close([row.QM, row.QMp, row.R2], [ref["QM"], ref["QMp"], ref["R2"]])
    if method != "EE":
        close([row["tau2.lb"], row["tau2.ub"]], ref["tau2_ci"])
        close([row["I2.lb"], row["I2.ub"]], ref["I2_ci"])


def test_metareg_names_terms_as_model_matrix():
    coefficients, model = metareg(BCG_MODS, "RR", ["ablat", "alloc"])
    assert coefficients["term"].tolist() == ["intrcpt", "ablat", "allocrandom", "allocsystematic"]
    assert model.loc[0, ["k", "p", "m", "QMdf"]].tolist() == [13, 4, 3, 3]


@pytest.mark.parametrize("key", list(SUBGROUPS), ids=lambda k: "-".join(k))
def test_subgroups_with_a_common_tau2_equal_rma_with_a_factor(key):
    _, method, test = key
    ref = SUBGROUPS[key]
    result = subgroups(BCG, "alloc", "RR", method, test).set_index("alloc").loc[ref["levels"]]
    assert (result["model"] == "common tau2 (rma mods = ~ factor(alloc))").all()
    close(result["theta"], ref["beta"])
    close(result["se"], ref["se"])
    close(np.log(result["ci_low"]), ref["ci_lb"])
    close(np.log(result["ci_high"]), ref["ci_ub"])
    close(result["tau2"], [ref["tau2"]] * 3)
    close(result["q_between"], [ref["QM"]] * 3)
    close(result["q_between_pval"], [ref["QMp"]] * 3)
    close(result["q"], [ref["QE"]] * 3)


# --- small-study effects and sensitivity ---------------------------------------------------------------------

TIED = pd.DataFrame({"yi": [0.1, 0.3, 0.3, 0.5, -0.2, 0.4, 0.9], "vi": [0.1, 0.2, 0.2, 0.05, 0.1, 0.3, 0.4]})


@pytest.mark.parametrize("key", list(RANKTEST))
def test_ranktest_equals_metafor(key):
    data, measure = (TIED, "GEN") if key == "tied" else DATA[key]
    row = ranktest(data, measure).iloc[0]
    close([row.tau, row.pval], [RANKTEST[key]["tau"], RANKTEST[key]["pval"]])
    assert row.exact == (key != "tied")


@pytest.mark.parametrize("key", list(TRIMFILL), ids=lambda k: "-".join(k))
def test_trimfill_equals_metafor(key):
    dataset, method, estimator = key
    ref = TRIMFILL[key]
    data, measure = DATA[dataset]
    result, filled = trimfill(data, measure, method, estimator=estimator)
    row = result.iloc[0]
    assert row["k0"] == ref["k0"] and row["side"] == ref["side"]
    close(
        [row["se.k0"], row.theta, row.se, row.tau2, row.q],
        [ref["se_k0"], ref["beta"], ref["se"], ref["tau2"], ref["QE"]],
    )
    close(filled["yi"], np.atleast_1d(ref["filled_yi"]))
    close(filled["vi"], np.atleast_1d(ref["filled_vi"]))


@pytest.mark.parametrize("key", list(CUMUL), ids=lambda k: "-".join(k))
def test_cumulative_equals_cumul(key):
    dataset, method, test = key
    ref = CUMUL[key]
    data, measure = DATA[dataset]
    measure = "OR" if method == "MH" else measure
    result = cumulative(data, measure, method, test, order="year" if dataset == "bcg" else None)
    close(result["theta"], ref["beta"])
    close(result["se"], ref["se"])
    close(result["pval"], ref["pval"])
    close(np.log(result["ci_low"]) if measure in ("RR", "OR") else result["ci_low"], ref["ci_lb"])
    close(np.log(result["ci_high"]) if measure in ("RR", "OR") else result["ci_high"], ref["ci_ub"])
    if method not in ("EE", "MH"):  # cumul() reports no tau2, I2 for a common-effect model
        close(result["tau2"], ref["tau2"])
        close(result["i2"], ref["I2"])
    close(result["q"], ref["QE"])


def test_cumulative_labels_the_study_added_in_order():
    result = cumulative(BCG_MODS, "RR", order="year")
    assert result["added"].tolist()[:3] == ["Aronson", "Ferguson & Simes", "Stein & Aronson"]
    assert result["k"].tolist() == list(range(1, 14))


@pytest.mark.parametrize("key", list(INFLUENCE), ids=lambda k: "-".join(k))
def test_influence_equals_metafor(key):
    dataset, method, test = key
    ref = INFLUENCE[key]
    data, measure = DATA[dataset]
    result = influence(data, measure, method, test)
    for ours, theirs in [
        ("rstudent", "rstudent"),
        ("dffits", "dffits"),
        ("cook.d", "cook_d"),
        ("cov.r", "cov_r"),
        ("tau2.del", "tau2_del"),
        ("QE.del", "QE_del"),
        ("hat", "hat"),
        ("weight", "weight"),
        ("dfbs", "dfbs"),
        ("baujat_x", "baujat_x"),
        ("baujat_y", "baujat_y"),
    ]:
        close(result[ours], ref[theirs])
    assert result["inf"].tolist() == ref["inf"]


def test_clopper_pearson_equals_binom_test():
    ref = CLOPPER_PEARSON
    low, high = clopper_pearson(np.array(ref["xi"]), np.array(ref["ni"]))
    close(low, ref["lower"])
    close(high, ref["upper"])
    close(
        clopper_pearson(np.array([0.0, 10.0]), np.array([20.0, 10.0])), np.array([ref["zero"], ref["all"]]).T
    )
    data = pd.DataFrame({"events": ref["xi"], "n": ref["ni"]})
    rows = study_weights(data, "PLO", "REML", study_ci="exact")
    close(rows["ci_low"], ref["lower"])
    close(rows["ci_high"], ref["upper"])


# --- every analysis at once equals one at a time -------------------------------------------------------------

MANY = (
    pd.concat(
        [pd.DataFrame(d).assign(analysis=f"set{i}") for i, d in enumerate(RANDOM, 1)], ignore_index=True
    )
    .assign(study=lambda d: [f"s{i}" for i in range(len(d))])
    .sample(frac=1, random_state=3)  # analyses interleaved: groups need not be contiguous
    .reset_index(drop=True)
)


def _alone(frame):
    return [(name, rows.reset_index(drop=True)) for name, rows in frame.groupby("analysis", sort=False)]


def _same(together, alone, columns):
    np.testing.assert_allclose(
        together[columns].to_numpy(float),
        alone[columns].to_numpy(float),
        rtol=1e-10,
        atol=1e-12,
        equal_nan=True,
    )


@pytest.mark.parametrize("method", ["HE", "HS", "SJ", "ML", "EB", "REML", "PM"])
@pytest.mark.parametrize("test", ["t", "adhoc"])
def test_grouped_new_estimators_equal_one_analysis_at_a_time(method, test):
    together = pool(MANY, "GEN", method, test, by=["analysis"]).set_index("analysis")
    columns = ["theta", "se", "tau2", "tau2_ci_low", "tau2_ci_high", "i2_ci_high", "ci_low", "pi_high"]
    for name, rows in _alone(MANY):
        _same(together.loc[[name]], pool(rows, "GEN", method, test), columns)


def test_grouped_metareg_subgroups_and_diagnostics_equal_one_analysis_at_a_time():
    reg = metareg(MANY, "GEN", ["x", "grp"], "REML", "knha", by=["analysis"])
    sub = subgroups(MANY, "grp", "GEN", "REML", by=["analysis"])
    rank = ranktest(MANY, "GEN", by=["analysis"]).set_index("analysis")
    tf = trimfill(MANY, "GEN", "REML", by=["analysis"])
    cum = cumulative(MANY, "GEN", "DL", by=["analysis"])
    inf = influence(MANY, "GEN", "REML", "knha", by=["analysis"])
    for name, rows in _alone(MANY):
        alone = metareg(rows, "GEN", ["x", "grp"], "REML", "knha")
        _same(
            reg.coefficients[reg.coefficients["analysis"] == name],
            alone.coefficients,
            ["estimate", "se", "pval"],
        )
        _same(reg.model[reg.model["analysis"] == name], alone.model, ["tau2", "QM", "QMp", "R2", "tau2.ub"])
        _same(
            sub[sub["analysis"] == name], subgroups(rows, "grp", "GEN", "REML"), ["theta", "se", "q_between"]
        )
        _same(rank.loc[[name]], ranktest(rows, "GEN"), ["tau", "pval"])
        tf_alone = trimfill(rows, "GEN", "REML")
        _same(tf.result[tf.result["analysis"] == name], tf_alone.result, ["k0", "se.k0", "theta", "tau2"])
        _same(tf.filled[tf.filled["analysis"] == name], tf_alone.filled, ["yi", "vi"])
        _same(cum[cum["analysis"] == name], cumulative(rows, "GEN", "DL"), ["theta", "se", "tau2"])
        _same(
            inf[inf["analysis"] == name],
            influence(rows, "GEN", "REML", "knha"),
            ["rstudent", "cook.d", "dfbs"],
        )


# --- options and input that the user must fix ---------------------------------------------------------------


def test_options_are_checked_once_frozen_and_keyword_only():
    from review.errors import ReviewError
    from review.meta import Options

    opts = Options(measure="rr", method="fe", test="KNHA", level=0.9)
    assert (opts.measure, opts.method, opts.test, opts.level, opts.add, opts.drop00) == (
        "RR",
        "EE",
        "knha",
        90,
        0.5,
        False,
    )
    with pytest.raises(AttributeError):
        opts.method = "DL"  # frozen
    with pytest.raises(TypeError):
        Options("RR", "REML")  # keyword-only: no argument can land in the wrong place
    with pytest.raises(TypeError):
        pool(BCG, "RR", "REML", "z", ["alloc"])  # by, level, add... are keyword-only too
    with pytest.raises(ReviewError, match="max_iter"):
        Options(measure="RR", max_iter=0)
    # an Options object stands for all the arguments
    close(pool(BCG, Options(measure="RR", method="SJ", test="t"))["tau2"], pool(BCG, "RR", "SJ", "t")["tau2"])


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: metareg(BCG_MODS, "RR", ["latitude"]), "moderator column latitude"),
        (lambda: metareg(BCG_MODS.assign(ablat=[None] + [1.0] * 12), "RR", ["ablat"]), "row 1"),
        (lambda: metareg(BCG_MODS, "RR", []), "at least one moderator"),
        (lambda: metareg(BCG_MODS, "RR", ["ablat"], "MH"), "inverse-variance"),
        (lambda: subgroups(BCG, "alloc", "RR", tau2="pooled"), "tau2="),
        (lambda: trimfill(BCG, "OR", "MH"), "inverse-variance"),
        (lambda: trimfill(BCG, "RR", side="up"), "side"),
        (lambda: influence(BCG, "OR", "PETO"), "inverse-variance"),
        (lambda: cumulative(BCG, "RR", order="year"), "order column"),
        (lambda: study_weights(BCG, "RR", study_ci="exact"), "single proportion"),
        (lambda: pool(BCG, "RR", "REML", test="t", level=120), "level"),
    ],
)
def test_bad_input_to_the_new_functions_is_one_line(call, words):
    from review.errors import ReviewError

    with pytest.raises(ReviewError, match=words) as caught:
        call()
    assert "\n" not in str(caught.value)


def test_collinear_moderators_are_reported_for_that_analysis_alone():
    data = MANY.assign(x2=lambda d: np.where(d["analysis"] == "set2", 2 * d["x"], d["x"] ** 2))
    coefficients, model = metareg(data, "GEN", ["x", "x2"], by=["analysis"])
    bad = model.set_index("analysis").loc["set2"]
    assert "collinear" in bad["note"] and np.isnan(bad["tau2"])
    assert model.set_index("analysis").drop("set2")["tau2"].notna().all()
    assert "set2" not in set(coefficients["analysis"])


def test_mantel_haenszel_subgroups_are_pooled_separately():
    result = subgroups(BCG, "alloc", "OR", "MH")
    assert (result["model"] == "separate fits (MH)").all()
    close(result["theta"], pool(BCG, "OR", "MH", by=["alloc"])["theta"])
