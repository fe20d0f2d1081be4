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
from metafor_reference import METAREG, POOL, RANDOM, SUBGROUPS

from review.meta import METHODS, TESTS, metareg, pool, subgroups

BCG_MODS = BCG.assign(
    ablat=[44, 55, 42, 52, 13, 44, 19, 13, 27, 42, 18, 33, 33],
    year=[1948, 1949, 1960, 1977, 1973, 1953, 1973, 1980, 1968, 1961, 1974, 1969, 1976],
)
DATA = {"bcg": (BCG_MODS, "RR")} | {f"random{i}": (pd.DataFrame(d), "GEN") for i, d in enumerate(RANDOM, 1)}


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
