"""The tuned pooling engine (issue 12) gives the numbers of the engine before it (tests/rma_oracle.py).

Random analyses of unequal size (k = 1 to 12, rows of an analysis scattered, some homogeneous, some oscillating
in Fisher scoring until maxiter), for the padded layout `pool` uses and the flat one regression and influence
diagnostics use: estimates and the Q-profile interval agree to rounding (sums taken in another order),
convergence flags and notes exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import rma_oracle as oracle

from review import rma

FIELDS = ("beta", "vb", "tau2", "crit", "qe", "qe_pval", "i2", "h2", "vt", "s2w")


def _analyses(seed: int, n: int = 400):
    rng = np.random.default_rng(seed)
    k = rng.integers(1, 13, n)
    g = np.repeat(np.arange(n), k)
    rng.shuffle(g)
    vi = rng.uniform(0.01, 0.8, len(g))
    tau = rng.choice([0.0, 0.2, 0.8], n)[g]
    yi = rng.normal(rng.normal(0, 0.5, n)[g], np.sqrt(vi + tau**2))
    return yi, vi, g, n


def _designs(module, y, v, g, n, layout):
    if layout == "padded":
        return module.PaddedDesign(y, v, g, n)
    return module.Design(y, v, np.ones((len(y), 1)), g, n)


def _same_fit(new, old):
    for name in FIELDS:
        np.testing.assert_allclose(
            getattr(new, name), getattr(old, name), rtol=1e-9, atol=1e-12, err_msg=name
        )
    np.testing.assert_array_equal(new.converged, old.converged)
    assert new.notes.keys() == old.notes.keys()
    for key in old.notes:
        np.testing.assert_array_equal(new.notes[key], old.notes[key], err_msg=key)


@pytest.mark.parametrize("seed", [11, 12, 13])
@pytest.mark.parametrize("method", ["DL", "HE", "ML", "REML", "EB", "PM"])
@pytest.mark.parametrize("layout", ["padded", "flat"])
def test_fit_and_q_profile_equal_the_former_engine(seed, method, layout):
    y, v, g, n = _analyses(seed)
    old_layout = "flat" if method == "PM" else layout  # the former engine took PM on the flat layout only
    new_d, old_d = _designs(rma, y, v, g, n, layout), _designs(oracle, y, v, g, n, old_layout)
    new, old = rma.fit(new_d, method, "knha"), oracle.fit(old_d, method, "knha")
    _same_fit(new, old)
    for a, b in zip(rma.q_profile(new_d, new), oracle.q_profile(old_d, old), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("max_iter", [1, 2, 5, 30])
def test_scoring_stops_where_the_former_engine_did(max_iter):
    """Few iterations: many analyses stop unconverged, at every point of the shrinking active set."""
    y, v, g, n = _analyses(21, 2000)
    new = rma.fit(rma.PaddedDesign(y, v, g, n), "REML", max_iter=max_iter)
    old = oracle.fit(oracle.PaddedDesign(y, v, g, n), "REML", max_iter=max_iter)
    assert 0 < int(new.converged.sum()) < n
    _same_fit(new, old)


def test_oscillating_analyses_stay_unconverged():
    """The bench's data: about 1% of REML fits oscillate to maxiter, as in metafor; the same ones here."""
    rng = np.random.default_rng(1)
    n, k = 3000, 10
    g = np.repeat(np.arange(n), k)
    vi = rng.uniform(0.02, 0.6, n * k)
    tau = rng.choice([0.0, 0.3, 0.7], n)[g]
    yi = rng.normal(rng.normal(-0.3, 0.5, n)[g], np.sqrt(vi + tau**2))
    new = rma.fit(rma.PaddedDesign(yi, vi, g, n), "REML")
    old = oracle.fit(oracle.PaddedDesign(yi, vi, g, n), "REML")
    assert 5 < int((~new.converged).sum()) < 100
    _same_fit(new, old)


def test_step_halving_equals_metafors_loop():
    """Halving that starts a few steps short of the end lands on R's `while (tau2 + adj < 0) adj <- adj/2`."""
    rng = np.random.default_rng(5)
    n = 20_000
    tau2 = np.concatenate([np.zeros(100), 10.0 ** rng.uniform(-300, 2, n - 100)])
    adj = -(10.0 ** rng.uniform(-10, 8, n)) * rng.choice([1, -1e-3], n)
    adj[:50] = 0.3  # at 0, a step up stays
    expected = tau2 + oracle._halve_into_range(tau2, adj.copy())
    np.testing.assert_array_equal(rma._halve_into_range(tau2, adj.copy()), expected)  # many: in numpy
    assert (expected[:100] >= 0).all() and np.any(np.abs(adj) > 1e3 * tau2)
    for few in (slice(40, 60), slice(5000, 5012)):  # a few below zero: as Python floats
        t, a = tau2[few], adj[few]
        assert 0 < int((t + a < 0).sum()) <= 16
        np.testing.assert_array_equal(rma._halve_into_range(t, a.copy()), expected[few])


def test_analysis_codes_number_as_group_codes():
    """pool numbers one grouping column with pd.factorize: the same codes as groupby(...).ngroup()."""
    import pandas as pd

    from review.effects import group_codes
    from review.meta import analysis_codes

    rng = np.random.default_rng(3)
    n = 500
    columns = {
        "int": rng.integers(0, 40, n),
        "float_nan": np.where(rng.random(n) < 0.1, np.nan, rng.integers(0, 30, n).astype(float)),
        "text_none": np.where(rng.random(n) < 0.1, None, rng.choice(["a", "b", "c", "d"], n)).astype(object),
        "mixed": np.array([1, "1", 1.0, None, np.nan, "x", True], dtype=object)[rng.integers(0, 7, n)],
        "category": pd.Categorical(rng.choice(["x", "y", "z"], n), categories=["z", "y", "x", "w"]),
        "nullable": pd.array(np.where(rng.random(n) < 0.2, None, rng.integers(0, 9, n)), dtype="Int64"),
    }
    data = pd.DataFrame(columns)
    for name in columns:
        np.testing.assert_array_equal(analysis_codes(data, [name]), group_codes(data, [name]), err_msg=name)
    np.testing.assert_array_equal(
        analysis_codes(data, ["int", "text_none"]), group_codes(data, ["int", "text_none"])
    )


def test_padded_mad_equals_rs_mad_by_group():
    """Paule-Mandel's interval on the padded layout: column medians give mad() by group exactly."""
    y, v, g, n = _analyses(31)
    y[:50] = np.round(y[:50], 1)  # ties
    padded = rma.PaddedDesign(y, v, g, n)
    np.testing.assert_array_equal(padded.mad(), rma.mad(y, g, padded.k, n))
