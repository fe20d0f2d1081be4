"""The padded design (review.rma.PaddedDesign, used by `pool` for speed) gives the flat design's numbers.

Random analyses of unequal size (k = 1 to 12, some homogeneous, some oscillating in Fisher scoring), every
estimator that may use the padded layout, with the Q-profile interval: values agree to rounding (1e-9),
convergence flags and notes exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from review import rma


def _analyses(seed: int):
    rng = np.random.default_rng(seed)
    n = 300
    k = rng.integers(1, 13, n)
    g = np.repeat(np.arange(n), k)
    rng.shuffle(g)  # rows of an analysis need not be contiguous
    vi = rng.uniform(0.01, 0.8, len(g))
    tau = rng.choice([0.0, 0.2, 0.8], n)[g]
    yi = rng.normal(rng.normal(0, 0.5, n)[g], np.sqrt(vi + tau**2))
    return yi, vi, g, n


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("method", ["EE", "DL", "HE", "HS", "ML", "REML", "EB", "PM"])
@pytest.mark.parametrize("test", ["z", "knha"])
def test_padded_equals_flat(seed, method, test):
    y, v, g, n = _analyses(seed)
    flat = rma.Design(y, v, np.ones((len(y), 1)), g, n)
    padded = rma.PaddedDesign(y, v, g, n)
    a, b = rma.fit(flat, method, test), rma.fit(padded, method, test)
    for name in ("beta", "vb", "tau2", "crit", "qe", "qe_pval", "i2", "h2", "vt"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-9, atol=1e-12, err_msg=name)
    np.testing.assert_array_equal(b.converged, a.converged)
    assert a.notes.keys() == b.notes.keys()
    for key in a.notes:
        np.testing.assert_array_equal(b.notes[key], a.notes[key])
    if method != "EE":
        for x, z in zip(rma.q_profile(flat, a), rma.q_profile(padded, b), strict=True):
            np.testing.assert_allclose(z, x, rtol=1e-9, atol=1e-12)


def test_padding_is_used_only_where_small():
    assert rma.PaddedDesign.fits(np.repeat(np.arange(100), 10), 100)
    assert not rma.PaddedDesign.fits(np.r_[np.zeros(1000, int), np.arange(1, 100)], 100)


@pytest.mark.parametrize("method", ["DL", "REML", "PM"])
def test_pool_without_tau2_ci_changes_nothing_else(method):
    import pandas as pd

    from review.meta import pool

    y, v, g, _ = _analyses(4)
    data = pd.DataFrame({"analysis": g, "yi": y, "vi": v})
    full = pool(data, "GEN", method, by=["analysis"], single_study="keep")
    lean = pool(data, "GEN", method, by=["analysis"], single_study="keep", tau2_ci=False)
    ci = ["tau2_ci_low", "tau2_ci_high", "i2_ci_low", "i2_ci_high"]
    assert full[ci].notna().any().all() and lean[ci].isna().all().all()
    pd.testing.assert_frame_equal(lean.drop(columns=ci), full.drop(columns=ci))


def test_equal_sizes_in_order_pad_by_reshape():
    y, v = np.arange(12.0), np.arange(1.0, 13.0)
    for g in (np.repeat(np.arange(4), 3), np.tile(np.arange(4), 3)):  # in order (reshape) or interleaved
        d = rma.PaddedDesign(y, v, g, 4)
        for a in range(4):
            np.testing.assert_array_equal(d.y[:, a], y[g == a])
            np.testing.assert_array_equal(d.v[:, a], v[g == a])
