"""Each derivation: its value (R beside it), its record (formula and inputs) and its refusal with a reason."""

from __future__ import annotations

import math

import pytest

from review.derive import (
    log_hr_from_oe,
    log_hr_from_p,
    mean_sd_from_median,
    sd_from_ci,
    sd_from_p,
    sd_from_se,
)


def test_sd_from_se():
    d = sd_from_se(2.0, 100)
    assert (
        d.value == pytest.approx(20.0) and d.derivation == "SD = SE x sqrt(n)" and d.inputs == "SE=2, n=100"
    )
    assert sd_from_se("NR", 100).value is None and "SE NR" in sd_from_se("NR", 100).note


def test_sd_from_ci_t_below_60_and_normal_above():
    # R: sqrt(25) * (14 - 10) / (2 * qt(0.975, 24))
    d = sd_from_ci(10, 14, 25)
    assert d.value == pytest.approx(4.84519936489121, abs=1e-12) and "t(24 df)" in d.derivation
    assert d.note == "CI level not given: 95% assumed"
    # R: sqrt(100) * (14 - 10) / (2 * qnorm(0.975))
    d = sd_from_ci(10, 14, 100, 95)
    assert (
        d.value == pytest.approx(10.2042691384931, abs=1e-12)
        and d.derivation.endswith(", z")
        and d.note == ""
    )
    assert sd_from_ci(10, 14, 25, 95, "normal").derivation.endswith(", z")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((10, "NR", 25), "upper NR"),
        ((14, 10, 25), "upper 10 is not above lower 14"),
        ((10, 14, None), "n empty"),
        ((10, 14, 1), "needs n >= 2"),
    ],
)
def test_sd_from_ci_refusals(args, words):
    d = sd_from_ci(*args)
    assert d.value is None and words in d.note


def test_sd_from_p():
    # R: t <- qt(1 - 0.03/2, 60); abs(10.2 - 8.1) / t / sqrt(1/30 + 1/32)
    d = sd_from_p(10.2, 8.1, 30, 32, 0.03)
    assert d.value == pytest.approx(3.71735941689824, abs=1e-12)
    assert d.inputs == "means=10.2 and 8.1, n=30 and 32, p=0.03" and "qt(1 - p/2, 60)" in d.derivation
    assert "p (" not in d.note
    assert "needs p" in sd_from_p(10.2, 8.1, 30, 32, "NR").note
    assert "a bound such as p < 0.05 gives none" in sd_from_p(10.2, 8.1, 30, 32, 0).note
    assert "the means are equal" in sd_from_p(8.1, 8.1, 30, 32, 0.5).note


@pytest.mark.parametrize(
    ("method", "iqr", "range_", "mean", "sd", "words"),
    [
        # R: (a + 2m + b)/4; (b - a) / (2 qnorm((n - 0.375)/(n + 0.25)))
        ("wan2014", False, True, 26.25, 12.7529980020405, "median and range: mean and SD by Wan et al. 2014"),
        # R: w = 4/(4 + n^0.75); w (a + b)/2 + (1 - w) m
        ("luo2018", False, True, 22.5118793587922, 12.7529980020405, "Luo et al. 2018"),
        # R: (q1 + m + q3)/3; (q3 - q1) / (2 qnorm((0.75 n - 0.125)/(n + 0.25)))
        ("wan2014", True, False, 21.0, 11.5339485221913, "median and IQR"),
        # R: (0.7 + 0.39/n)(q1 + q3)/2 + (0.3 - 0.39/n) m
        (
            "shi2020",
            True,
            False,
            21.064625,
            11.5339485221913,
            "median and IQR: mean by Luo et al. 2018, SD by Wan",
        ),
        # five numbers. R: Luo's w1, w2 mean; Shi's w3 = 1/(1 + 0.07 n^0.6) SD
        ("shi2020", True, True, 22.4268818562457, 12.2771684702951, "SD by Shi et al. 2020"),
        # R: (a + 2 q1 + 2 m + 2 q3 + b)/8; (b - a)/(4 qnorm(...)) + (q3 - q1)/(4 qnorm(...))
        ("wan2014", True, True, 23.875, 12.1434732621159, "median, IQR and range"),
    ],
)
def test_mean_and_sd_from_a_median(method, iqr, range_, mean, sd, words):
    q1, q3 = (14, 29) if iqr else (None, None)
    lo, hi = (5, 60) if range_ else (None, None)
    d = mean_sd_from_median(20, q1, q3, lo, hi, 40, method)
    assert d.value == pytest.approx(mean, abs=1e-12) and d.extra == pytest.approx(sd, abs=1e-12)
    assert words in d.derivation and "n=40" in d.inputs


def test_mean_from_a_median_refusals():
    d = mean_sd_from_median(20, None, None, None, None, 40)
    assert d.value is None and "IQR not given, range not given" in d.note
    assert "median NR" in mean_sd_from_median("NR", 14, 29, None, None, 40).note
    with pytest.raises(ValueError, match="wan2014"):
        mean_sd_from_median(20, 14, 29, None, None, 40, "hozo2005")
    # what no formula can use: one patient, a spread that does not hold the median, quartiles outside the range
    assert "need n >= 2 (n = 1)" in mean_sd_from_median(20, 14, 29, None, None, 1).note
    assert (
        "quartiles 29 to 14 do not contain the median 20"
        in mean_sd_from_median(20, 29, 14, None, None, 40).note
    )
    assert "range 25 to 60 does not contain" in mean_sd_from_median(20, None, None, 25, 60, 40).note
    assert "not within the range 15 to 60" in mean_sd_from_median(20, 14, 29, 15, 60, 40).note


def test_sd_from_a_ci_or_p_value_refusals():
    assert "level 0.95% is not a CI level; type it in percent" in sd_from_ci(8, 12, 25, 0.95).note
    assert sd_from_ci(8, 12, 25, 0).value is None and sd_from_ci(8, 12, 25, 100).value is None
    assert "needs n1 + n2 >= 3" in sd_from_p(10, 12, 1, 1, 0.03).note
    # a result no analysis can use is refused, whatever route made it
    huge = sd_from_ci(-1e308, 1e308, 25)
    assert huge.value is None and huge.note.startswith("the derived SD inf cannot be used: check CI=")
    flat = mean_sd_from_median(20, 20, 20, None, None, 40)
    assert flat.value is None and flat.note.startswith("the derived mean 20 and SD 0 cannot be used")


def test_log_hr_from_o_minus_e_and_v_checks_the_direction():
    d = log_hr_from_oe(-6.5, 30.2)
    assert d["yi"] == pytest.approx(-6.5 / 30.2) and d["sei"] == pytest.approx(1 / math.sqrt(30.2))
    assert "Tierney 2007" in d["derivation"]
    wrong = log_hr_from_oe(-6.5, 30.2, hr=1.3)
    assert wrong["yi"] is None and "opposite directions" in wrong["note"]
    assert "V = 0 must be > 0" in log_hr_from_oe(-6.5, 0)["note"]
    assert "O-E NR" in log_hr_from_oe("NR", 30.2)["note"]


def test_log_hr_from_a_log_rank_p():
    # R: V <- 200 * 2 * 1 / 9; -qnorm(1 - 0.04/2) / sqrt(V); 1 / sqrt(V)   (2:1 allocation, HR < 1)
    d = log_hr_from_p(0.04, 200, hr=0.7, n_e=200, n_c=100)
    assert d["yi"] == pytest.approx(-0.308062336594773, abs=1e-12) and d["sei"] == pytest.approx(
        0.15, abs=1e-12
    )
    assert "allocation=200:100" in d["inputs"] and d["note"] == ""
    same = log_hr_from_p(0.04, 200, favours="experimental", n_e=2, n_c=1)
    assert same["yi"] == pytest.approx(d["yi"]) and "favours experimental" in same["derivation"]
    assert log_hr_from_p(0.04, 200, hr=0.7)["note"] == "allocation ratio not given: 1:1 assumed"
    assert "has no direction" in log_hr_from_p(0.04, 200)["note"]
    assert "number of events not given" in log_hr_from_p(0.04, "NR", hr=0.7)["note"]
    assert "exact 0 < p < 1" in log_hr_from_p(1, 200, hr=0.7)["note"]
