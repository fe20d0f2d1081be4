"""The meta-analysis engine pinned against R's metafor 3.8-1 (R 4.2.2); no R is needed to run these tests.

Every expected number was printed by R with sprintf("%.15g") from the call in the comment beside it, on
metafor's own datasets (dat.bcg: Colditz et al. 1994, BCG vaccine trials; dat.pritz1997; dat.normand1999) or
on the small made-up tables defined below (their R definition is given with them).

Tolerance: 1e-6 relative (six significant digits), and 1e-12 absolute where metafor's value is exactly 0.
That is the project's contract; it sits far above floating-point reordering (our values differ from metafor's
by less than 1e-11) and far below any real estimator difference (R's default uniroot tolerance alone moves a
Paule-Mandel tau^2 by about 3e-5 from the exact root, which is why we follow metafor's iterates).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import pytest
from datasets import BCG
from scipy import stats

from review.effects import effect_sizes
from review.errors import ReviewError
from review.meta import egger_test, leave_one_out, pool, study_weights, subgroups

nan = float("nan")


def close(actual, expected) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype=float),
        np.asarray(expected, dtype=float),
        rtol=1e-6,
        atol=1e-12,
        equal_nan=True,
    )


# --- datasets ---------------------------------------------------------------------------------------------

# dat.pritz1997: events = xi, n = ni
PRITZ = pd.DataFrame(
    [
        (16, 17),
        (10, 12),
        (4, 8),
        (43, 58),
        (10, 10),
        (25, 42),
        (13, 14),
        (12, 12),
        (22, 41),
        (4, 5),
        (5, 6),
        (18, 23),
        (58, 68),
        (6, 10),
    ],
    columns=["events", "n"],
)

# dat.normand1999: mean_e, sd_e, n_e = m1i, sd1i, n1i; mean_c, sd_c, n_c = m2i, sd2i, n2i
NORMAND = pd.DataFrame(
    [
        ("Edinburgh", 55, 47, 155, 75, 64, 156),
        ("Orpington-Mild", 27, 7, 31, 29, 4, 32),
        ("Orpington-Moderate", 64, 17, 75, 119, 29, 71),
        ("Orpington-Severe", 66, 20, 18, 137, 48, 18),
        ("Montreal-Home", 14, 8, 8, 18, 11, 13),
        ("Montreal-Transfer", 19, 7, 57, 18, 4, 52),
        ("Newcastle", 52, 45, 34, 41, 34, 33),
        ("Umea", 21, 16, 110, 31, 27, 183),
        ("Uppsala", 30, 27, 60, 23, 20, 52),
    ],
    columns=["study", "mean_e", "sd_e", "n_e", "mean_c", "sd_c", "n_c"],
)

# zero <- data.frame(ai=c(0,2,5,0,3,10), n1i=c(20,25,30,15,40,10),
#                    ci=c(3,4,6,0,1,8), n2i=c(20,25,30,15,40,10))
# (a zero cell in A, D and F; D is a double zero)
ZERO = pd.DataFrame(
    {
        "study": list("ABCDEF"),
        "events_e": [0, 2, 5, 0, 3, 10],
        "n_e": [20, 25, 30, 15, 40, 10],
        "events_c": [3, 4, 6, 0, 1, 8],
        "n_c": [20, 25, 30, 15, 40, 10],
    }
)

# double_zero <- data.frame(ai=c(0,0), n1i=c(10,20), ci=c(0,0), n2i=c(12,20))
DOUBLE_ZERO = pd.DataFrame({"events_e": [0, 0], "n_e": [10, 20], "events_c": [0, 0], "n_c": [12, 20]})

# prop0 <- data.frame(xi=c(0,3,10,7), ni=c(20,25,10,30))  (no events in one study, all events in another)
PROP0 = pd.DataFrame({"events": [0, 3, 10, 7], "n": [20, 25, 10, 30]})

# log hazard ratios with the SE derived from a reported 95% CI, as review/tables.py derives them:
# log_hr <- data.frame(yi=log(c(0.75,0.82,0.65,0.90,1.05)),
#                      sei=(log(c(0.94,0.96,0.94,1.12,1.38)) - log(c(0.60,0.70,0.45,0.72,0.80)))
#                          / (2*qnorm(0.975)))
_HR = np.array([0.75, 0.82, 0.65, 0.90, 1.05])
_LOW, _HIGH = np.array([0.60, 0.70, 0.45, 0.72, 0.80]), np.array([0.94, 0.96, 0.94, 1.12, 1.38])
_SEI = (np.log(_HIGH) - np.log(_LOW)) / (2 * stats.norm.isf(0.025))
LOG_HR = pd.DataFrame({"yi": np.log(_HR), "sei": _SEI})

K1 = pd.DataFrame({"yi": [0.4], "vi": [0.09]})
K2 = pd.DataFrame({"yi": [0.2, 0.6], "vi": [0.04, 0.09]})
# homogeneous: the DL moment estimate is negative and is truncated at 0; REML and PM reach 0 too
HOMOG = pd.DataFrame({"yi": [0.10, 0.12, 0.11, 0.09], "vi": [0.02, 0.03, 0.025, 0.04]})

DATA = {
    "bcg": BCG,
    "pritz": PRITZ,
    "normand": NORMAND,
    "zero": ZERO,
    "double_zero": DOUBLE_ZERO,
    "prop0": PROP0,
    "log_hr": LOG_HR,
    "k1": K1,
    "k2": K2,
    "homog": HOMOG,
}


class Ref(NamedTuple):
    """metafor's beta, se, tau2, I2, H2, QE, QEp; predict()'s ci.lb, ci.ub, pi.lb, pi.ub (natural scale)."""

    theta: float
    se: float
    tau2: float
    i2: float
    h2: float
    q: float
    q_pval: float
    ci: tuple[float, float]
    pi: tuple[float, float]


def check(row: pd.Series, ref: Ref) -> None:
    close(
        [row.theta, row.se, row.tau2, row.i2, row.h2, row.q, row.q_pval],
        [ref.theta, ref.se, ref.tau2, ref.i2, ref.h2, ref.q, ref.q_pval],
    )
    close([row.ci_low, row.ci_high], ref.ci)
    close([row.pi_low, row.pi_high], ref.pi)


# --- effect sizes: escalc ---------------------------------------------------------------------------------

ESCALC = [
    # escalc("OR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)
    pytest.param(
        "bcg",
        "OR",
        {},
        [
            -0.938694140870392,
            -1.66619072902655,
            -1.38629436111989,
            -1.45644354931298,
            -0.219141085675433,
            -0.958122040776267,
            -1.6337758382289,
            0.0120206014527326,
            -0.471746035838696,
            -1.40121013928348,
            -0.340849646366211,
            0.446634682274446,
            -0.0173418739290936,
        ],
        [
            0.357124952253629,
            0.208132393657186,
            0.43341307814992,
            0.0203144129731974,
            0.0519517773171203,
            0.00990526551533824,
            0.227009675223494,
            0.00400696201214883,
            0.0569771239877627,
            0.0754217263149204,
            0.0125251338202155,
            0.534162172474717,
            0.0716351172956587,
        ],
    ),
    # escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)
    pytest.param(
        "bcg",
        "RR",
        {},
        [
            -0.889311333920205,
            -1.58538865720143,
            -1.34807314829969,
            -1.44155119002131,
            -0.217547322211296,
            -0.786115585818864,
            -1.62089822359839,
            0.0119523335238405,
            -0.469417648738149,
            -1.37134480347278,
            -0.339358828338391,
            0.445913400571379,
            -0.0173139482168798,
        ],
        [
            0.325584765003961,
            0.194581121398144,
            0.415367965367965,
            0.0200100319022476,
            0.0512101721696309,
            0.00690561845590876,
            0.223017247572315,
            0.00396157929781773,
            0.056434210463249,
            0.0730247936130289,
            0.0124122139715597,
            0.532505845200153,
            0.0714046596839863,
        ],
    ),
    # escalc("RD", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)
    pytest.param(
        "bcg",
        "RD",
        {},
        [
            -0.04661636544423,
            -0.0761017278198408,
            -0.037012987012987,
            -0.0147146180263938,
            -0.00158212670654608,
            -0.139567645844728,
            -0.0127548327247853,
            6.7880214048942e-05,
            -0.00231668468717821,
            -0.0291322791322791,
            -0.00148423498850148,
            0.000720097650097865,
            -2.78807421670098e-05,
        ],
        [
            0.000780068664855938,
            0.000348462574726583,
            0.000271399785630685,
            1.80285493533638e-06,
            2.65797248260319e-06,
            0.000198335654149806,
            2.6104856229552e-05,
            1.27774445678391e-07,
            1.35822630604331e-06,
            2.82475037076428e-05,
            2.59971469185597e-07,
            1.34639335973682e-06,
            1.85066801251602e-07,
        ],
    ),
    # escalc("PETO", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)
    pytest.param(
        "bcg",
        "PETO",
        {},
        [
            -0.860383347316419,
            -1.40260522465446,
            -1.22781721384206,
            -1.27104217359749,
            -0.216683828640964,
            -0.927329020799904,
            -2.26121710611624,
            0.0120203911679795,
            -0.464882461436746,
            -1.23066589588226,
            -0.35539654096845,
            0.436200194950539,
            -0.0173368871012954,
        ],
        [
            0.282836181928359,
            0.121058189032677,
            0.294388922617102,
            0.0130656352078063,
            0.0505994118406956,
            0.00889079581068892,
            0.35150862448883,
            0.00400679705599317,
            0.0543347142917322,
            0.0499895644137432,
            0.0134877724070622,
            0.50125213568408,
            0.0715941981055638,
        ],
    ),
    # escalc("PLO", xi=xi, ni=ni, data=dat.pritz1997)
    pytest.param(
        "pritz",
        "PLO",
        {},
        [
            2.77258872223978,
            1.6094379124341,
            0.0,
            1.05314991459135,
            3.04452243772342,
            0.385662480811985,
            2.56494935746154,
            3.2188758248682,
            0.146603474191875,
            1.38629436111989,
            1.6094379124341,
            1.28093384546206,
            1.75785791755237,
            0.405465108108164,
        ],
        [
            1.0625,
            0.6,
            0.5,
            0.089922480620155,
            2.0952380952381,
            0.0988235294117647,
            1.07692307692308,
            2.08,
            0.0980861244019139,
            1.25,
            1.2,
            0.255555555555556,
            0.117241379310345,
            0.416666666666667,
        ],
    ),
    # escalc("PR", xi=xi, ni=ni, data=dat.pritz1997)
    pytest.param(
        "pritz",
        "PR",
        {},
        [
            0.941176470588235,
            0.833333333333333,
            0.5,
            0.741379310344828,
            0.954545454545455,
            0.595238095238095,
            0.928571428571429,
            0.961538461538462,
            0.536585365853659,
            0.8,
            0.833333333333333,
            0.782608695652174,
            0.852941176470588,
            0.6,
        ],
        [
            0.00325666598819459,
            0.0115740740740741,
            0.03125,
            0.00330579359547337,
            0.00394440270473328,
            0.00573642155274808,
            0.00473760932944606,
            0.00284478834774693,
            0.00606491490256961,
            0.032,
            0.0231481481481481,
            0.00739705761485987,
            0.00184459596987584,
            0.024,
        ],
    ),
    # escalc("PAS", xi=xi, ni=ni, data=dat.pritz1997)
    pytest.param(
        "pritz",
        "PAS",
        {},
        [
            1.32581766366803,
            1.15026199151093,
            0.785398163397448,
            1.03729915558498,
            1.5707963267949,
            0.881221760885157,
            1.30024656381632,
            1.5707963267949,
            0.82201625422926,
            1.10714871779409,
            1.15026199151093,
            1.08574653986541,
            1.17723219146683,
            0.886077123792614,
        ],
        [
            0.0147058823529412,
            0.0208333333333333,
            0.03125,
            0.00431034482758621,
            0.025,
            0.00595238095238095,
            0.0178571428571429,
            0.0208333333333333,
            0.00609756097560976,
            0.05,
            0.0416666666666667,
            0.0108695652173913,
            0.00367647058823529,
            0.025,
        ],
    ),
    # escalc("PFT", xi=xi, ni=ni, data=dat.pritz1997)
    pytest.param(
        "pritz",
        "PFT",
        {},
        [
            1.28190730965273,
            1.11872128292916,
            0.785398163397448,
            1.03268945001696,
            1.41765764221006,
            0.878993126435974,
            1.25332153392613,
            1.43027887604349,
            0.821153093805602,
            1.05278930481772,
            1.09502666278699,
            1.07200450365002,
            1.17016044347544,
            0.8772135155977,
        ],
        [
            0.0142857142857143,
            0.02,
            0.0294117647058824,
            0.00427350427350427,
            0.0238095238095238,
            0.00588235294117647,
            0.0172413793103448,
            0.02,
            0.00602409638554217,
            0.0454545454545455,
            0.0384615384615385,
            0.0106382978723404,
            0.00364963503649635,
            0.0238095238095238,
        ],
    ),
    # escalc("MD", m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i, data=dat.normand1999)
    pytest.param(
        "normand",
        "MD",
        {},
        [-20.0, -2.0, -55.0, -71.0, -4.0, 1.0, 11.0, -10.0, 7.0],
        [
            40.5080231596361,
            2.08064516129032,
            15.6984037558685,
            150.222222222222,
            17.3076923076923,
            1.16734143049933,
            94.5891265597148,
            6.31087928464978,
            19.8423076923077,
        ],
    ),
    # escalc("SMD", m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i, data=dat.normand1999)
    pytest.param(
        "normand",
        "SMD",
        {},
        [
            -0.355169640940107,
            -0.347940022739099,
            -2.31756916016373,
            -1.88798225293685,
            -0.383964141169701,
            0.172148669069591,
            0.272052073852932,
            -0.424596271894261,
            0.289556230080755,
        ],
        [
            0.0130646755415297,
            0.0644688760988567,
            0.0458121102801828,
            0.160617735936173,
            0.205433278392224,
            0.0369105700003619,
            0.0602671258364327,
            0.0148630384193327,
            0.0362717341580545,
        ],
    ),
    # escalc("OR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=zero)
    pytest.param(
        "zero",
        "OR",
        {},
        [-2.10413415427021, -0.784118958765672, -0.22314355131421, 0.0, 1.15125602215353, 1.82074700610131],
        [
            2.39163763066202,
            0.841097308488613,
            0.448333333333333,
            4.12903225806452,
            1.38600138600139,
            2.61288515406162,
        ],
    ),
    # escalc("RR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=zero)
    pytest.param(
        "zero",
        "RR",
        {},
        [-1.94591014905531, -0.693147180559945, -0.182321556793955, 0.0, 1.09861228866811, 0.211309093667207],
        [2.19047619047619, 0.67, 0.3, 3.875, 1.28333333333333, 0.0310669722434428],
    ),
    # escalc("RD", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=zero)
    pytest.param(
        "zero",
        "RD",
        {},
        [-0.142857142857143, -0.08, -0.0333333333333334, 0.0, 0.05, 0.181818181818182],
        [0.00772054853687507, 0.00832, 0.00996296296296297, 0.0037841796875, 0.00234375, 0.0199098422238918],
    ),
    # escalc("PETO", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=zero)
    pytest.param(
        "zero",
        "PETO",
        {},
        [-1.61842105263158, -0.742424242424242, -0.218923933209648, 0.0, 1.03947368421053, 1.47368421052632],
        [1.07894736842105, 0.742424242424242, 0.437847866419295, 4.0, 1.03947368421053, 1.47368421052632],
    ),
    # escalc("OR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=zero, drop00=TRUE)
    pytest.param(
        "zero",
        "OR",
        {"drop00": True},
        [-2.10413415427021, -0.784118958765672, -0.22314355131421, nan, 1.15125602215353, 1.82074700610131],
        [2.39163763066202, 0.841097308488613, 0.448333333333333, nan, 1.38600138600139, 2.61288515406162],
    ),
    # escalc("OR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=zero, to="all")
    pytest.param(
        "zero",
        "OR",
        {"to": "all"},
        [-2.10413415427021, -0.676734150918615, -0.207059419276865, 0.0, 0.899257599317915, 1.82074700610131],
        [
            2.39163763066202,
            0.711287041618561,
            0.415696348469458,
            4.12903225806452,
            1.00436407474382,
            2.61288515406162,
        ],
    ),
    # escalc("OR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=zero, add=0.25)
    pytest.param(
        "zero",
        "OR",
        {"add": 0.25},
        [-2.72529200753672, -0.784118958765672, -0.22314355131421, 0.0, 1.15125602215353, 2.41428908257405],
        [
            4.41504603823444,
            0.841097308488613,
            0.448333333333333,
            8.1311475409836,
            1.38600138600139,
            4.66321754126632,
        ],
    ),
    # escalc("OR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=zero, to="if0all")
    pytest.param(
        "zero",
        "OR",
        {"to": "if0all"},
        [-2.10413415427021, -0.676734150918615, -0.207059419276865, 0.0, 0.899257599317915, 1.82074700610131],
        None,
    ),
    # escalc("PLO", xi=xi, ni=ni, data=prop0)
    pytest.param(
        "prop0",
        "PLO",
        {},
        [-3.71357206670431, -1.99243016469021, 3.04452243772342, -1.18958406687384],
        [2.04878048780488, 0.378787878787879, 2.0952380952381, 0.186335403726708],
    ),
    # escalc("PR", xi=xi, ni=ni, data=prop0)
    pytest.param(
        "prop0",
        "PR",
        {},
        [0.0238095238095238, 0.12, 0.954545454545455, 0.233333333333333],
        [0.00110679192311845, 0.004224, 0.00394440270473328, 0.00596296296296296],
    ),
    # escalc("PAS", xi=xi, ni=ni, data=prop0)
    pytest.param(
        "prop0",
        "PAS",
        {},
        [0.0, 0.353741605889671, 1.5707963267949, 0.504130041125521],
        [0.0125, 0.01, 0.025, 0.00833333333333333],
    ),
    # escalc("PFT", xi=xi, ni=ni, data=prop0)
    pytest.param(
        "prop0",
        "PFT",
        {},
        [0.10999398869773, 0.374818514127245, 1.41765764221006, 0.514021460110127],
        [0.0121951219512195, 0.00980392156862745, 0.0238095238095238, 0.00819672131147541],
    ),
]


@pytest.mark.parametrize(("dataset", "measure", "options", "yi", "vi"), ESCALC)
def test_effect_sizes_equal_escalc(dataset, measure, options, yi, vi):
    es = effect_sizes(DATA[dataset], measure, **options)
    close(es["yi"], yi)
    if vi is not None:
        close(es["vi"], vi)


def test_effect_sizes_record_the_correction():
    es = effect_sizes(ZERO, "OR")
    assert es["corrected"].tolist() == [True, False, False, True, False, True]
    assert es["double_zero"].tolist() == [False, False, False, True, False, False]
    # metafor adds nothing for PAS and PFT by default
    assert not effect_sizes(PROP0, "PFT")["corrected"].any()
    assert effect_sizes(PROP0, "PLO")["corrected"].tolist() == [True, False, True, False]


def test_effect_sizes_of_yi_and_vi_leave_the_input_alone():
    """Given yi and vi (or sei, or numbers as text), the result has them as floats, columns in place, and a
    change to the result never reaches the input (its float columns are shared until written, copy-on-write)."""
    data = pd.DataFrame({"study": ["a", "b"], "yi": [0.1, -0.2], "vi": [0.04, 0.09], "x": [1, 2]})
    before = data.copy()
    es = effect_sizes(data, "GEN")
    assert list(es.columns) == ["study", "yi", "vi", "x", "corrected"]
    assert es["corrected"].dtype == bool and not es["corrected"].any()
    es.loc[0, "yi"] = 99.0
    es["vi"] *= 2
    pd.testing.assert_frame_equal(data, before)
    texts = effect_sizes(pd.DataFrame({"yi": ["0.5", "1"], "sei": [0.2, 0.3]}), "GEN")
    assert texts["yi"].tolist() == [0.5, 1.0]
    assert texts["vi"].tolist() == pytest.approx([0.04, 0.09], abs=1e-15)
    with pytest.raises(ReviewError, match=r"yi is 'x', not a number in row 2"):
        effect_sizes(pd.DataFrame({"yi": ["0.5", "x"], "vi": [0.2, 0.3]}), "GEN")


# --- pooling on published datasets -------------------------------------------------------------------------

PUBLISHED = [
    # rma(yi, vi, method="EE",
    #     data=escalc("OR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict(transf=exp)
    pytest.param(
        "bcg",
        "OR",
        "EE",
        "z",
        Ref(
            theta=-0.43613907613641,
            se=0.042265456992996,
            tau2=0.0,
            i2=92.6454777445856,
            h2=13.5970762650667,
            q=163.1649151808,
            q_pval=1.18877259111069e-28,
            ci=(0.59512854804742, 0.702366239267882),
            pi=(nan, nan),
        ),
    ),
    # rma(yi, vi, method="EE", test="knha",
    #     data=escalc("OR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict(transf=exp)
    pytest.param(
        "bcg",
        "OR",
        "EE",
        "knha",
        Ref(
            theta=-0.43613907613641,
            se=0.155850548785109,
            tau2=0.0,
            i2=92.6454777445856,
            h2=13.5970762650667,
            q=163.1649151808,
            q_pval=1.18877259111069e-28,
            ci=(0.460377602450523, 0.907946429079255),
            pi=(nan, nan),
        ),
    ),
    # rma(yi, vi, method="DL",
    #     data=escalc("OR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict(transf=exp)
    pytest.param(
        "bcg",
        "OR",
        "DL",
        "z",
        Ref(
            theta=-0.747392349732138,
            se=0.192262848971139,
            tau2=0.366343406725599,
            i2=92.6454777445856,
            h2=13.5970762650667,
            q=163.1649151808,
            q_pval=1.18877259111069e-28,
            ci=(0.324905597109104, 0.690344804056327),
            pi=(0.136408912082367, 1.64429792268743),
        ),
    ),
    # rma(yi, vi, method="DL", test="knha",
    #     data=escalc("OR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict(transf=exp)
    pytest.param(
        "bcg",
        "OR",
        "DL",
        "knha",
        Ref(
            theta=-0.747392349732138,
            se=0.18723593963303,
            tau2=0.366343406725599,
            i2=92.6454777445856,
            h2=13.5970762650667,
            q=163.1649151808,
            q_pval=1.18877259111069e-28,
            ci=(0.31494904435963, 0.712168824735251),
            pi=(0.11909840618766, 1.88329044823379),
        ),
    ),
    # rma(yi, vi, method="REML",
    #     data=escalc("OR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict(transf=exp)
    pytest.param(
        "bcg",
        "OR",
        "REML",
        "z",
        Ref(
            theta=-0.745177771837063,
            se=0.186027915414979,
            tau2=0.337772045077251,
            i2=92.0726915518116,
            h2=12.6146220566015,
            q=163.1649151808,
            q_pval=1.18877259111069e-28,
            ci=(0.329629564724491, 0.683471885020026),
            pi=(0.143531174289509, 1.56964186404657),
        ),
    ),
    # rma(yi, vi, method="REML", test="knha",
    #     data=escalc("OR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict(transf=exp)
    pytest.param(
        "bcg",
        "OR",
        "REML",
        "knha",
        Ref(
            theta=-0.745177771837063,
            se=0.1867261878871,
            tau2=0.337772045077251,
            i2=92.0726915518116,
            h2=12.6146220566015,
            q=163.1649151808,
            q_pval=1.18877259111069e-28,
            ci=(0.315998066008465, 0.712955439273299),
            pi=(0.125529392277667, 1.79473935046413),
        ),
    ),
    # rma(yi, vi, method="PM",
    #     data=escalc("OR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict(transf=exp)
    pytest.param(
        "bcg",
        "OR",
        "PM",
        "z",
        Ref(
            theta=-0.745458032131733,
            se=0.18678393617255,
            tau2=0.341176212154706,
            i2=92.1455755800838,
            h2=12.7316776702865,
            q=163.1649151808,
            q_pval=1.18877259111069e-28,
            ci=(0.329049257716504, 0.684293579024781),
            pi=(0.142646150240391, 1.57849541581612),
        ),
    ),
    # rma(yi, vi, method="PM", test="knha",
    #     data=escalc("OR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict(transf=exp)
    pytest.param(
        "bcg",
        "OR",
        "PM",
        "knha",
        Ref(
            theta=-0.745458032131733,
            se=0.186789800117689,
            tau2=0.341176212154706,
            i2=92.1455755800838,
            h2=12.7316776702865,
            q=163.1649151808,
            q_pval=1.18877259111069e-28,
            ci=(0.315865734951865, 0.712854448338904),
            pi=(0.124730589419786, 1.80522111925943),
        ),
    ),
    # rma(yi, vi, method="EE",
    #     data=escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict(transf=exp)
    pytest.param(
        "bcg",
        "RR",
        "EE",
        "z",
        Ref(
            theta=-0.430285163654091,
            se=0.0404987517108638,
            tau2=0.0,
            i2=92.1173468545621,
            h2=12.6860840068644,
            q=152.233008082373,
            q_pval=1.99676459084597e-26,
            ci=(0.600699026085764, 0.704047770795957),
            pi=(nan, nan),
        ),
    ),
    # rma(yi, vi, method="EE", test="knha",
    #     data=escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict(transf=exp)
    pytest.param(
        "bcg",
        "RR",
        "EE",
        "knha",
        Ref(
            theta=-0.430285163654091,
            se=0.144246547979696,
            tau2=0.0,
            i2=92.1173468545621,
            h2=12.6860840068644,
            q=152.233008082373,
            q_pval=1.99676459084597e-26,
            ci=(0.47493781798248, 0.890476172294591),
            pi=(nan, nan),
        ),
    ),
    # rma(yi, vi, method="DL",
    #     data=escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict(transf=exp)
    pytest.param(
        "bcg",
        "RR",
        "DL",
        "z",
        Ref(
            theta=-0.714117222073227,
            se=0.178742089535403,
            tau2=0.308760262862376,
            i2=92.1173468545621,
            h2=12.6860840068644,
            q=152.233008082373,
            q_pval=1.99676459084597e-26,
            ci=(0.344919135222476, 0.695037718225147),
            pi=(0.155960306014964, 1.53713348506907),
        ),
    ),
    # rma(yi, vi, method="DL", test="knha",
    #     data=escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict(transf=exp)
    pytest.param(
        "bcg",
        "RR",
        "DL",
        "knha",
        Ref(
            theta=-0.714117222073227,
            se=0.180696628335547,
            tau2=0.308760262862376,
            i2=92.1173468545621,
            h2=12.6860840068644,
            q=152.233008082373,
            q_pval=1.99676459084597e-26,
            ci=(0.330277736025745, 0.725849134131565),
            pi=(0.13707775444854, 1.74887464185312),
        ),
    ),
    # rma(yi, vi, method="REML",
    #     data=escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict(transf=exp)
    pytest.param(
        "bcg",
        "RR",
        "REML",
        "z",
        Ref(
            theta=-0.714532348365101,
            se=0.179781531780361,
            tau2=0.313243325980895,
            i2=92.2213860749656,
            h2=12.8557608031121,
            q=152.233008082373,
            q_pval=1.99676459084597e-26,
            ci=(0.344074293400216, 0.69616608378248),
            pi=(0.154634293498826, 1.54902801925028),
        ),
    ),
    # rma(yi, vi, method="REML", test="knha",
    #     data=escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict(transf=exp)
    pytest.param(
        "bcg",
        "RR",
        "REML",
        "knha",
        Ref(
            theta=-0.714532348365101,
            se=0.1807917455191,
            tau2=0.313243325980895,
            i2=92.2213860749656,
            h2=12.8557608031121,
            q=152.233008082373,
            q_pval=1.99676459084597e-26,
            ci=(0.330072245409142, 0.725698257573092),
            pi=(0.135875403076295, 1.76288605548535),
        ),
    ),
    # rma(yi, vi, method="PM",
    #     data=escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict(transf=exp)
    pytest.param(
        "bcg",
        "RR",
        "PM",
        "z",
        Ref(
            theta=-0.714970405632446,
            se=0.180897984125838,
            tau2=0.318093711863015,
            i2=92.3309002898848,
            h2=13.039340180713,
            q=152.233008082373,
            q_pval=1.99676459084597e-26,
            ci=(0.343171849135847, 0.697385545049819),
            pi=(0.153223966281221, 1.56191679972644),
        ),
    ),
    # rma(yi, vi, method="PM", test="knha",
    #     data=escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict(transf=exp)
    pytest.param(
        "bcg",
        "RR",
        "PM",
        "knha",
        Ref(
            theta=-0.714970405632446,
            se=0.180892712222961,
            tau2=0.318093711863015,
            i2=92.3309002898848,
            h2=13.039340180713,
            q=152.233008082373,
            q_pval=1.99676459084597e-26,
            ci=(0.329855114527547, 0.725540022012816),
            pi=(0.134596349634354, 1.77808007204879),
        ),
    ),
    # rma(yi, vi, method="EE",
    #     data=escalc("RD", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict()
    pytest.param(
        "bcg",
        "RD",
        "EE",
        "z",
        Ref(
            theta=-0.00091426346845626,
            se=0.000226033929656083,
            tau2=0.0,
            i2=95.6596235198583,
            h2=23.0394760587071,
            q=276.473712704485,
            q_pval=4.02080597221378e-52,
            ci=(-0.00135728182986624, -0.000471245107046277),
            pi=(nan, nan),
        ),
    ),
    # rma(yi, vi, method="EE", test="knha",
    #     data=escalc("RD", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict()
    pytest.param(
        "bcg",
        "RD",
        "EE",
        "knha",
        Ref(
            theta=-0.00091426346845626,
            se=0.001084950525976,
            tau2=0.0,
            i2=95.6596235198583,
            h2=23.0394760587071,
            q=276.473712704485,
            q_pval=4.02080597221378e-52,
            ci=(-0.00327816759400697, 0.00144964065709446),
            pi=(nan, nan),
        ),
    ),
    # rma(yi, vi, method="DL",
    #     data=escalc("RD", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict()
    pytest.param(
        "bcg",
        "RD",
        "DL",
        "z",
        Ref(
            theta=-0.0070552635660955,
            se=0.00156339020718952,
            tau2=1.87347499331202e-05,
            i2=95.6596235198583,
            h2=23.0394760587071,
            q=276.473712704485,
            q_pval=4.02080597221378e-52,
            ci=(-0.0101194520659696, -0.00399107506622142),
            pi=(-0.0160751317218306, 0.00196460458963958),
        ),
    ),
    # rma(yi, vi, method="DL", test="knha",
    #     data=escalc("RD", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict()
    pytest.param(
        "bcg",
        "RD",
        "DL",
        "knha",
        Ref(
            theta=-0.0070552635660955,
            se=0.00505280849946884,
            tau2=1.87347499331202e-05,
            i2=95.6596235198583,
            h2=23.0394760587071,
            q=276.473712704485,
            q_pval=4.02080597221378e-52,
            ci=(-0.0180643875505898, 0.00395386041839883),
            pi=(-0.0215514317029855, 0.00744090457079449),
        ),
    ),
    # rma(yi, vi, method="REML",
    #     data=escalc("RD", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict()
    pytest.param(
        "bcg",
        "RD",
        "REML",
        "z",
        Ref(
            theta=-0.0251735000367289,
            se=0.0108286083226581,
            tau2=0.00142154043937327,
            i2=99.9402376325235,
            h2=1673.29381720566,
            q=276.473712704485,
            q_pval=4.02080597221378e-52,
            ci=(-0.0463971823518295, -0.00394981772162824),
            pi=(-0.102058048229563, 0.0517110481561047),
        ),
    ),
    # rma(yi, vi, method="REML", test="knha",
    #     data=escalc("RD", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict()
    pytest.param(
        "bcg",
        "RD",
        "REML",
        "knha",
        Ref(
            theta=-0.0251735000367289,
            se=0.0110723758117268,
            tau2=0.00142154043937327,
            i2=99.9402376325235,
            h2=1673.29381720566,
            q=276.473712704485,
            q_pval=4.02080597221378e-52,
            ci=(-0.0492981345102163, -0.00104886556324145),
            pi=(-0.110791084642131, 0.0604440845686734),
        ),
    ),
    # rma(yi, vi, method="PM",
    #     data=escalc("RD", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict()
    pytest.param(
        "bcg",
        "RD",
        "PM",
        "z",
        Ref(
            theta=-0.0253219165335434,
            se=0.0111899758034238,
            tau2=0.00152372226110436,
            i2=99.9442431018071,
            h2=1793.50005543766,
            q=276.473712704485,
            q_pval=4.02080597221378e-52,
            ci=(-0.0472538660961288, -0.00338996697095806),
            pi=(-0.104910400196842, 0.054266567129755),
        ),
    ),
    # rma(yi, vi, method="PM", test="knha",
    #     data=escalc("RD", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
    #   |> predict()
    pytest.param(
        "bcg",
        "RD",
        "PM",
        "knha",
        Ref(
            theta=-0.0253219165335434,
            se=0.0110922545744527,
            tau2=0.00152372226110436,
            i2=99.9442431018071,
            h2=1793.50005543766,
            q=276.473712704485,
            q_pval=4.02080597221378e-52,
            ci=(-0.0494898631102959, -0.00115396995679096),
            pi=(-0.113738784726308, 0.0630949516592212),
        ),
    ),
    # rma.mh(measure="OR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)
    #   |> predict(transf=exp)
    pytest.param(
        "bcg",
        "OR",
        "MH",
        "z",
        Ref(
            theta=-0.473410988388585,
            se=0.0410077784042314,
            tau2=0.0,
            i2=92.6803640448177,
            h2=13.6618816307661,
            q=163.942579569193,
            q_pval=8.24945255100163e-29,
            ci=(0.574770322480114, 0.675003623733264),
            pi=(nan, nan),
        ),
    ),
    # rma.mh(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)
    #   |> predict(transf=exp)
    pytest.param(
        "bcg",
        "RR",
        "MH",
        "z",
        Ref(
            theta=-0.453709604683754,
            se=0.0393373668712944,
            tau2=0.0,
            i2=92.1346316973064,
            h2=12.7139627988881,
            q=152.567553586657,
            q_pval=1.70758753151519e-26,
            ci=(0.588128729691417, 0.686183782670126),
            pi=(nan, nan),
        ),
    ),
    # rma.mh(measure="RD", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)
    #   |> predict()
    pytest.param(
        "bcg",
        "RD",
        "MH",
        "z",
        Ref(
            theta=-0.003288181832613,
            se=0.000286656748527374,
            tau2=0.0,
            i2=96.8974285362685,
            h2=32.23132848638,
            q=386.77594183656,
            q_pval=2.3820625650551e-75,
            ci=(-0.00385001873565201, -0.00272634492957399),
            pi=(nan, nan),
        ),
    ),
    # rma.peto(ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)
    #   |> predict(transf=exp)
    pytest.param(
        "bcg",
        "OR",
        "PETO",
        "z",
        Ref(
            theta=-0.474446310940636,
            se=0.0406590807446483,
            tau2=0.0,
            i2=92.8456519312914,
            h2=13.9775139592908,
            q=167.730167511489,
            q_pval=1.38975434718433e-29,
            ci=(0.574568103455868, 0.673844452707929),
            pi=(nan, nan),
        ),
    ),
    # rma(yi, vi, method="REML",
    #     data=escalc("PLO", xi=xi, ni=ni, data=dat.pritz1997))
    #   |> predict(transf=transf.ilogit)
    pytest.param(
        "pritz",
        "PLO",
        "REML",
        "z",
        Ref(
            theta=1.13890913697784,
            se=0.241477911355262,
            tau2=0.364587846483998,
            i2=56.5596075704461,
            h2=2.30200498676819,
            q=29.7854164602581,
            q_pval=0.00505664117765988,
            ci=(0.660521964094252, 0.833716207868904),
            pi=(0.466134550039725, 0.917850049332564),
        ),
    ),
    # rma(yi, vi, method="DL",
    #     data=escalc("PLO", xi=xi, ni=ni, data=dat.pritz1997))
    #   |> predict(transf=transf.ilogit)
    pytest.param(
        "pritz",
        "PLO",
        "DL",
        "z",
        Ref(
            theta=1.13796935370809,
            se=0.240896086816582,
            tau2=0.361558277235463,
            i2=56.3544796583738,
            h2=2.29118588155831,
            q=29.7854164602581,
            q_pval=0.00505664117765988,
            ci=(0.660566937418204, 0.833427630796706),
            pi=(0.46714462561406, 0.917401208636152),
        ),
    ),
    # rma(yi, vi, method="REML",
    #     data=escalc("PR", xi=xi, ni=ni, data=dat.pritz1997))
    #   |> predict()
    pytest.param(
        "pritz",
        "PR",
        "REML",
        "z",
        Ref(
            theta=0.796751999417904,
            se=0.0423373154291041,
            tau2=0.0166498415859775,
            i2=75.2778919212047,
            h2=4.04496249596822,
            q=48.3452808100882,
            q_pval=5.71617760731611e-06,
            ci=(0.713772385974748, 0.87973161286106),
            pi=(0.530584200706661, 1.06291979812915),
        ),
    ),
    # rma(yi, vi, method="DL",
    #     data=escalc("PR", xi=xi, ni=ni, data=dat.pritz1997))
    #   |> predict()
    pytest.param(
        "pritz",
        "PR",
        "DL",
        "z",
        Ref(
            theta=0.798030460973905,
            se=0.0406632881578398,
            tau2=0.0148667569691321,
            i2=73.1100951692326,
            h2=3.71886775462217,
            q=48.3452808100882,
            q_pval=5.71617760731611e-06,
            ci=(0.718331880691565, 0.877729041256245),
            pi=(0.546114009758013, 1.0499469121898),
        ),
    ),
    # rma(yi, vi, method="REML",
    #     data=escalc("PAS", xi=xi, ni=ni, data=dat.pritz1997))
    #   |> predict(transf=transf.iarcsin)
    pytest.param(
        "pritz",
        "PAS",
        "REML",
        "z",
        Ref(
            theta=1.123628295991,
            se=0.0653463827303307,
            tau2=0.0425727807793161,
            i2=78.9278537037363,
            h2=4.74560106949007,
            q=53.2224234002707,
            q_pval=8.26589303509702e-07,
            ci=(0.704020445386319, 0.901589784084928),
            pi=(0.414453622862277, 0.999472537885606),
        ),
    ),
    # rma(yi, vi, method="DL",
    #     data=escalc("PAS", xi=xi, ni=ni, data=dat.pritz1997))
    #   |> predict(transf=transf.iarcsin)
    pytest.param(
        "pritz",
        "PAS",
        "DL",
        "z",
        Ref(
            theta=1.12197846073258,
            se=0.0609678096463241,
            tau2=0.0351670046678903,
            i2=75.5742050634735,
            h2=4.09403256925159,
            q=53.2224234002707,
            q_pval=8.26589303509702e-07,
            ci=(0.71032930890443, 0.895410738824292),
            pi=(0.450176915327373, 0.996119793046803),
        ),
    ),
    # rma(yi, vi, method="REML",
    #     data=escalc("PFT", xi=xi, ni=ni, data=dat.pritz1997))
    #   |> predict(transf=transf.ipft.hm, targs=list(ni=dat.pritz1997$ni))
    pytest.param(
        "pritz",
        "PFT",
        "REML",
        "z",
        Ref(
            theta=1.08467917913411,
            se=0.0544051492608233,
            tau2=0.0257610970262594,
            i2=69.8868436442946,
            h2=3.32080765027653,
            q=40.5663815105789,
            q_pval=0.000112009063611828,
            ci=(0.702205663153482, 0.889346759456544),
            pi=(0.464630610497986, 0.998942021266444),
        ),
    ),
    # rma(yi, vi, method="DL",
    #     data=escalc("PFT", xi=xi, ni=ni, data=dat.pritz1997))
    #   |> predict(transf=transf.ipft.hm, targs=list(ni=dat.pritz1997$ni))
    pytest.param(
        "pritz",
        "PFT",
        "DL",
        "z",
        Ref(
            theta=1.08404117814467,
            se=0.0528172104706217,
            tau2=0.0235375695337483,
            i2=67.9537599462504,
            h2=3.12049088542915,
            q=40.5663815105789,
            q_pval=0.000112009063611828,
            ci=(0.704667786728203, 0.886600741380991),
            pi=(0.479148645143117, 0.996537813196622),
        ),
    ),
    # rma(yi, vi, method="REML",
    #     data=escalc("MD", m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i, data=dat.normand1999))
    #   |> predict()
    pytest.param(
        "normand",
        "MD",
        "REML",
        "z",
        Ref(
            theta=-15.1060274743905,
            se=8.94655284568962,
            tau2=684.646152881847,
            i2=98.9712743488066,
            h2=97.2076470378569,
            q=238.91581086201,
            q_pval=3.84180928540033e-47,
            ci=(-32.6409488377265, 2.42889388894549),
            pi=(-69.3048602133033, 39.0928052645223),
        ),
    ),
    # rma(yi, vi, method="DL",
    #     data=escalc("MD", m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i, data=dat.normand1999))
    #   |> predict()
    pytest.param(
        "normand",
        "MD",
        "DL",
        "z",
        Ref(
            theta=-13.9817218170439,
            se=5.12669833923133,
            tau2=205.409375467911,
            i2=96.651540150844,
            h2=29.8644763577512,
            q=238.91581086201,
            q_pval=3.84180928540033e-47,
            ci=(-24.0298659215386, -3.93357771254923),
            pi=(-43.8152073188952, 15.8517636848073),
        ),
    ),
    # rma(yi, vi, method="PM",
    #     data=escalc("MD", m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i, data=dat.normand1999))
    #   |> predict()
    pytest.param(
        "normand",
        "MD",
        "PM",
        "z",
        Ref(
            theta=-15.1456800341113,
            se=9.2142715953766,
            tau2=728.251128607141,
            i2=99.0322745413275,
            h2=103.335092720587,
            q=238.91581086201,
            q_pval=3.84180928540033e-47,
            ci=(-33.2053205048199, 2.91396043659723),
            pi=(-71.0357268725208, 40.7443668042982),
        ),
    ),
    # rma(yi, vi, method="REML",
    #     data=escalc("SMD", m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i, data=dat.normand1999))
    #   |> predict()
    pytest.param(
        "normand",
        "SMD",
        "REML",
        "z",
        Ref(
            theta=-0.537108258566786,
            se=0.308661491598171,
            tau2=0.790842921048397,
            i2=95.4949371131194,
            h2=22.1972484093875,
            q=123.729274359718,
            q_pval=5.62251323204304e-23,
            ci=(-1.14207366551361, 0.0678571483800405),
            pi=(-2.38209434481438, 1.30787782768081),
        ),
    ),
    # rma(yi, vi, method="DL",
    #     data=escalc("SMD", m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i, data=dat.normand1999))
    #   |> predict()
    pytest.param(
        "normand",
        "SMD",
        "DL",
        "z",
        Ref(
            theta=-0.530737310615977,
            se=0.259218605676859,
            tau2=0.539714374820215,
            i2=93.5342706555107,
            h2=15.4661592949648,
            q=123.729274359718,
            q_pval=5.62251323204304e-23,
            ci=(-1.03879644186531, -0.022678179366644),
            pi=(-2.05763436891898, 0.996159747687024),
        ),
    ),
    # rma(yi, vi, method="PM",
    #     data=escalc("SMD", m1i=m1i, sd1i=sd1i, n1i=n1i, m2i=m2i, sd2i=sd2i, n2i=n2i, data=dat.normand1999))
    #   |> predict()
    pytest.param(
        "normand",
        "SMD",
        "PM",
        "z",
        Ref(
            theta=-0.537171693899907,
            se=0.309288693672351,
            tau2=0.794315357922632,
            i2=95.5137479511767,
            h2=22.2903213889262,
            q=123.729274359718,
            q_pval=5.62251323204304e-23,
            ci=(-1.14336639432316, 0.0690230065233417),
            pi=(-2.38617189750345, 1.31182850970363),
        ),
    ),
]


@pytest.mark.parametrize(("dataset", "measure", "method", "test", "ref"), PUBLISHED)
def test_pool_equals_metafor(dataset, measure, method, test, ref):
    (row,) = pool(DATA[dataset], measure, method, test).itertuples(index=False)
    check(row, ref)


# --- zero cells, double zeros, k = 1, k = 2, tau^2 truncated at 0, generic input ---------------------------

EDGE = [
    # rma(yi, vi, data=escalc("OR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=zero))
    #   |> predict(transf=exp)
    pytest.param(
        "zero",
        "OR",
        "REML",
        "z",
        {},
        Ref(
            theta=-0.150908104837657,
            se=0.439207938027177,
            tau2=0.0,
            i2=0.0,
            h2=1.0,
            q=4.80022744162038,
            q_pval=0.44074411418211,
            ci=(0.363585845903366, 2.03383593968848),
            pi=(0.363585845903366, 2.03383593968848),
        ),
    ),
    # rma(yi, vi, method="DL", test="knha", data=escalc("OR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=zero))
    #   |> predict(transf=exp)
    pytest.param(
        "zero",
        "OR",
        "DL",
        "knha",
        {},
        Ref(
            theta=-0.150908104837657,
            se=0.43034433094337,
            tau2=0.0,
            i2=0.0,
            h2=1.0,
            q=4.80022744162038,
            q_pval=0.44074411418211,
            ci=(0.284465463906195, 2.59952104697022),
            pi=(0.284465463906195, 2.59952104697022),
        ),
    ),
    # rma(yi, vi, data=escalc("OR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=zero, drop00=TRUE))
    #   |> predict(transf=exp)
    pytest.param(
        "zero",
        "OR",
        "REML",
        "z",
        {"drop00": True},
        Ref(
            theta=-0.158303606519609,
            se=0.449842433241488,
            tau2=2.33877636109404e-06,
            i2=0.000203391930556845,
            h2=1.00000203392344,
            q=4.79444174248342,
            q_pval=0.30904661227427,
            ci=(0.353462255021798, 2.06137113592479),
            pi=(0.353460454132348, 2.06138163865993),
        ),
    ),
    # rma.mh(measure="OR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=zero) |> predict(transf=exp)
    pytest.param(
        "zero",
        "OR",
        "MH",
        "z",
        {},
        Ref(
            theta=-0.172767972623237,
            se=0.416307529245187,
            tau2=0.0,
            i2=16.5880440466449,
            h2=1.19886890143088,
            q=4.79547560572353,
            q_pval=0.308933898776989,
            ci=(0.372054199985363, 1.9025208903951),
            pi=(nan, nan),
        ),
    ),
    # rma.mh(measure="RR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=zero) |> predict(transf=exp)
    pytest.param(
        "zero",
        "RR",
        "MH",
        "z",
        {},
        Ref(
            theta=-0.0953101798043249,
            se=0.229673681557117,
            tau2=0.0,
            i2=36.093043355401,
            h2=1.5647748735106,
            q=6.25909949404242,
            q_pval=0.180616123227721,
            ci=(0.579573770611557, 1.42595528455279),
            pi=(nan, nan),
        ),
    ),
    # rma.mh(measure="RD", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=zero) |> predict()
    pytest.param(
        "zero",
        "RD",
        "MH",
        "z",
        {},
        Ref(
            theta=-0.0142857142857143,
            se=0.0343907828861436,
            tau2=0.0,
            i2=37.4156956845454,
            h2=1.59784471671927,
            q=6.39137886687707,
            q_pval=0.171764356723281,
            ci=(-0.0816904101426921, 0.0531189815712636),
            pi=(nan, nan),
        ),
    ),
    # rma.mh(measure="OR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=zero, drop00=FALSE)
    #   |> predict(transf=exp)
    pytest.param(
        "zero",
        "OR",
        "MH",
        "z",
        {"drop00": False},
        Ref(
            theta=-0.172767972623237,
            se=0.416307529245187,
            tau2=0.0,
            i2=0.0,
            h2=0.960540921056104,
            q=4.80270460528052,
            q_pval=0.440429933702303,
            ci=(0.372054199985363, 1.9025208903951),
            pi=(nan, nan),
        ),
    ),
    # rma.peto(ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=zero) |> predict(transf=exp)
    pytest.param(
        "zero",
        "OR",
        "PETO",
        "z",
        {},
        Ref(
            theta=-0.173067718463531,
            se=0.416014084453316,
            tau2=0.0,
            i2=42.7882063077016,
            h2=1.74789136201233,
            q=6.99156544804933,
            q_pval=0.136334624756873,
            ci=(0.372156676104425, 1.90085712738795),
            pi=(nan, nan),
        ),
    ),
    # rma.mh(measure="OR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=double_zero)
    #   |> predict(transf=exp)  # beta NA: no events at all
    pytest.param(
        "double_zero",
        "OR",
        "MH",
        "z",
        {},
        Ref(theta=nan, se=nan, tau2=0.0, i2=0.0, h2=1.0, q=0.0, q_pval=1.0, ci=(nan, nan), pi=(nan, nan)),
    ),
    # rma(yi, vi, data=escalc("OR", ai=ai, n1i=n1i, ci=ci, n2i=n2i, data=double_zero))
    #   |> predict(transf=exp)
    pytest.param(
        "double_zero",
        "OR",
        "REML",
        "z",
        {},
        Ref(
            theta=0.0863581514565422,
            se=1.43806030163948,
            tau2=0.0,
            i2=0.0,
            h2=1.0,
            q=0.00367458502841907,
            q_pval=0.951663154798926,
            ci=(0.0650767297651558, 18.2635003227761),
            pi=(0.0650767297651558, 18.2635003227761),
        ),
    ),
    # rma(yi=0.4, vi=0.09, method="EE") |> predict()
    pytest.param(
        "k1",
        "GEN",
        "EE",
        "z",
        {},
        Ref(
            theta=0.4,
            se=0.3,
            tau2=0.0,
            i2=0.0,
            h2=1.0,
            q=0.0,
            q_pval=1.0,
            ci=(-0.187989195362016, 0.987989195362016),
            pi=(nan, nan),
        ),
    ),
    # rma(yi=0.4, vi=0.09, method="REML") |> predict()
    pytest.param(
        "k1",
        "GEN",
        "REML",
        "z",
        {"single_study": "keep"},
        Ref(
            theta=0.4,
            se=0.3,
            tau2=0.0,
            i2=0.0,
            h2=1.0,
            q=0.0,
            q_pval=1.0,
            ci=(-0.187989195362016, 0.987989195362016),
            pi=(-0.187989195362016, 0.987989195362016),
        ),
    ),
    # rma(yi=0.4, vi=0.09, method="REML", test="knha") |> predict()  # warns: test="z" since k=1
    pytest.param(
        "k1",
        "GEN",
        "REML",
        "knha",
        {"single_study": "keep"},
        Ref(
            theta=0.4,
            se=0.3,
            tau2=0.0,
            i2=0.0,
            h2=1.0,
            q=0.0,
            q_pval=1.0,
            ci=(-0.187989195362016, 0.987989195362016),
            pi=(-0.187989195362016, 0.987989195362016),
        ),
    ),
    # rma(yi=c(0.2, 0.6), vi=c(0.04, 0.09), method="EE") |> predict()
    pytest.param(
        "k2",
        "GEN",
        "EE",
        "z",
        {},
        Ref(
            theta=0.323076923076923,
            se=0.166410058867569,
            tau2=0.0,
            i2=18.75,
            h2=1.23076923076923,
            q=1.23076923076923,
            q_pval=0.267257493154388,
            ci=(-0.00308079896870189, 0.649234645122548),
            pi=(nan, nan),
        ),
    ),
    # rma(yi=c(0.2, 0.6), vi=c(0.04, 0.09), method="EE", test="knha") |> predict()
    pytest.param(
        "k2",
        "GEN",
        "EE",
        "knha",
        {},
        Ref(
            theta=0.323076923076923,
            se=0.184615384615385,
            tau2=0.0,
            i2=18.75,
            h2=1.23076923076923,
            q=1.23076923076923,
            q_pval=0.267257493154388,
            ci=(-2.02268395129379, 2.66883779744764),
            pi=(nan, nan),
        ),
    ),
    # rma(yi=c(0.2, 0.6), vi=c(0.04, 0.09), method="DL") |> predict()
    pytest.param(
        "k2",
        "GEN",
        "DL",
        "z",
        {},
        Ref(
            theta=0.3375,
            se=0.189983551919633,
            tau2=0.015,
            i2=18.75,
            h2=1.23076923076923,
            q=1.23076923076923,
            q_pval=0.267257493154388,
            ci=(-0.0348609194174767, 0.709860919417477),
            pi=(-0.105528821432467, 0.780528821432466),
        ),
    ),
    # rma(yi=c(0.2, 0.6), vi=c(0.04, 0.09), method="DL", test="knha") |> predict()
    pytest.param(
        "k2",
        "GEN",
        "DL",
        "knha",
        {},
        Ref(
            theta=0.3375,
            se=0.189983551919633,
            tau2=0.015,
            i2=18.75,
            h2=1.23076923076923,
            q=1.23076923076923,
            q_pval=0.267257493154388,
            ci=(-2.07646990719654, 2.75146990719654),
            pi=(-2.53460119856775, 3.20960119856775),
        ),
    ),
    # rma(yi=c(0.2, 0.6), vi=c(0.04, 0.09), method="REML") |> predict()
    pytest.param(
        "k2",
        "GEN",
        "REML",
        "z",
        {},
        Ref(
            theta=0.3375,
            se=0.189983551919633,
            tau2=0.015,
            i2=18.75,
            h2=1.23076923076923,
            q=1.23076923076923,
            q_pval=0.267257493154388,
            ci=(-0.0348609194174765, 0.709860919417477),
            pi=(-0.105528821432466, 0.780528821432466),
        ),
    ),
    # rma(yi=c(0.2, 0.6), vi=c(0.04, 0.09), method="REML", test="knha") |> predict()
    pytest.param(
        "k2",
        "GEN",
        "REML",
        "knha",
        {},
        Ref(
            theta=0.3375,
            se=0.189983551919633,
            tau2=0.015,
            i2=18.75,
            h2=1.23076923076923,
            q=1.23076923076923,
            q_pval=0.267257493154388,
            ci=(-2.07646990719654, 2.75146990719654),
            pi=(-2.53460119856775, 3.20960119856775),
        ),
    ),
    # rma(yi=c(0.2, 0.6), vi=c(0.04, 0.09), method="PM") |> predict()
    pytest.param(
        "k2",
        "GEN",
        "PM",
        "z",
        {},
        Ref(
            theta=0.337510008476061,
            se=0.190002057831841,
            tau2=0.0150128129011606,
            i2=18.76301101888,
            h2=1.23096635232555,
            q=1.23076923076923,
            q_pval=0.267257493154388,
            ci=(-0.0348871818628427, 0.709907198814966),
            pi=(-0.105604841100099, 0.780624858052222),
        ),
    ),
    # rma(yi=c(0.2, 0.6), vi=c(0.04, 0.09), method="PM", test="knha") |> predict()
    pytest.param(
        "k2",
        "GEN",
        "PM",
        "knha",
        {},
        Ref(
            theta=0.337510008476061,
            se=0.189986844174375,
            tau2=0.0150128129011606,
            i2=18.76301101888,
            h2=1.23096635232555,
            q=1.23076923076923,
            q_pval=0.267257493154388,
            ci=(-2.07650173078326, 2.75152174773539),
            pi=(-2.53498644441717, 3.21000646136929),
        ),
    ),
    # rma(yi=c(0.10, 0.12, 0.11, 0.09), vi=c(0.02, 0.03, 0.025, 0.04), method="DL") |> predict()
    pytest.param(
        "homog",
        "GEN",
        "DL",
        "z",
        {},
        Ref(
            theta=0.105505617977528,
            se=0.082107082725596,
            tau2=0.0,
            i2=0.0,
            h2=1.0,
            q=0.0153370786516854,
            q_pval=0.999497153528384,
            ci=(-0.0554213070402909, 0.266432542995347),
            pi=(-0.0554213070402909, 0.266432542995347),
        ),
    ),
    # rma(yi=c(0.10, 0.12, 0.11, 0.09), vi=c(0.02, 0.03, 0.025, 0.04), method="REML") |> predict()
    pytest.param(
        "homog",
        "GEN",
        "REML",
        "z",
        {},
        Ref(
            theta=0.105505617977528,
            se=0.082107082725596,
            tau2=0.0,
            i2=0.0,
            h2=1.0,
            q=0.0153370786516854,
            q_pval=0.999497153528384,
            ci=(-0.0554213070402909, 0.266432542995347),
            pi=(-0.0554213070402909, 0.266432542995347),
        ),
    ),
    # rma(yi=c(0.10, 0.12, 0.11, 0.09), vi=c(0.02, 0.03, 0.025, 0.04), method="PM") |> predict()
    pytest.param(
        "homog",
        "GEN",
        "PM",
        "z",
        {},
        Ref(
            theta=0.105505617977528,
            se=0.082107082725596,
            tau2=0.0,
            i2=0.0,
            h2=1.0,
            q=0.0153370786516854,
            q_pval=0.999497153528384,
            ci=(-0.0554213070402909, 0.266432542995347),
            pi=(-0.0554213070402909, 0.266432542995347),
        ),
    ),
    # rma(yi, vi, data=escalc("PLO", xi=xi, ni=ni, data=prop0)) |> predict(transf=transf.ilogit)
    pytest.param(
        "prop0",
        "PLO",
        "REML",
        "z",
        {},
        Ref(
            theta=-1.05103477912328,
            se=1.25448729595847,
            tau2=5.24346180441212,
            i2=89.607490356912,
            h2=9.62231486275397,
            q=13.1700978557958,
            q_pval=0.00428283265158795,
            ci=(0.0290351050219956, 0.803405311089455),
            pi=(0.00209009099904988, 0.983149582387238),
        ),
    ),
    # rma(yi, vi, data=escalc("PR", xi=xi, ni=ni, data=prop0)) |> predict()
    pytest.param(
        "prop0",
        "PR",
        "REML",
        "z",
        {},
        Ref(
            theta=0.332042883046581,
            se=0.211944357999673,
            tau2=0.175889059095794,
            i2=98.2245591256614,
            h2=56.3240384094748,
            q=173.864961238027,
            q_pval=1.8630570210741e-37,
            ci=(-0.0833604253592415, 0.747446191452403),
            pi=(-0.588951409097313, 1.25303717519047),
        ),
    ),
    # rma(yi, vi, data=escalc("PAS", xi=xi, ni=ni, data=prop0)) |> predict(transf=transf.iarcsin)
    pytest.param(
        "prop0",
        "PAS",
        "REML",
        "z",
        {},
        Ref(
            theta=0.599914582221589,
            se=0.332951720431703,
            tau2=0.429564269120752,
            i2=97.2252257484132,
            h2=36.0389678341633,
            q=67.6299383504165,
            q_pval=1.37290330226869e-14,
            ci=(0.0, 0.902055819059259),
            pi=(0.0, 1.0),
        ),
    ),
    # rma(yi, vi, data=escalc("PFT", xi=xi, ni=ni, data=prop0))
    #   |> predict(transf=transf.ipft.hm, targs=list(ni=prop0$ni))
    pytest.param(
        "prop0",
        "PFT",
        "REML",
        "z",
        {},
        Ref(
            theta=0.595950573853938,
            se=0.277928217469614,
            tau2=0.295593911463971,
            i2=96.1128357548362,
            h2=25.7256945405418,
            q=49.4048580967333,
            q_pval=1.06963159374623e-10,
            ci=(0.0, 0.8435004431413),
            pi=(0.0, 1.0),
        ),
    ),
    # rma(yi, sei=sei, data=log_hr, method="REML", test="knha") |> predict(transf=exp)
    pytest.param(
        "log_hr",
        "HR",
        "REML",
        "knha",
        {},
        Ref(
            theta=-0.180795633754471,
            se=0.0631507687265694,
            tau2=0.00131126660043173,
            i2=8.63186431103247,
            h2=1.09447346436417,
            q=5.86103053071236,
            q_pval=0.209769758613566,
            ci=(0.70038137107551, 0.994553893071114),
            pi=(0.681874076628092, 1.02154788268561),
        ),
    ),
    # rma(yi, sei=sei, data=log_hr, method="PM") |> predict(transf=exp)
    pytest.param(
        "log_hr",
        "HR",
        "PM",
        "z",
        {},
        Ref(
            theta=-0.181047002355318,
            se=0.0692368263340915,
            tau2=0.00951613943401247,
            i2=40.674434605387,
            h2=1.68561393953576,
            q=5.86103053071236,
            q_pval=0.209769758613566,
            ci=(0.728513816113758, 0.955667417276453),
            pi=(0.660006537376765, 1.05486366826426),
        ),
    ),
]


@pytest.mark.parametrize(("dataset", "measure", "method", "test", "options", "ref"), EDGE)
def test_edge_cases_equal_metafor(dataset, measure, method, test, options, ref):
    (row,) = pool(DATA[dataset], measure, method, test, **options).itertuples(index=False)
    check(row, ref)


def test_correction_and_double_zeros_are_reported():
    columns = ["k", "k_corrected", "k_double_zero", "add", "to", "drop00"]
    assert pool(ZERO, "OR", "REML")[columns].iloc[0].tolist() == [6, 3, 1, 0.5, "only0", False]
    assert pool(ZERO, "OR", "REML", drop00=True)[columns].iloc[0].tolist() == [5, 2, 1, 0.5, "only0", True]
    # MH counts every table; the double zero only leaves the heterogeneity statistics
    assert pool(ZERO, "OR", "MH")[["k", "q_df", "drop00"]].iloc[0].tolist() == [6, 4, True]


def test_all_double_zero_is_undefined_per_analysis_not_an_error():
    # rma.mh(measure="OR", ...) on double_zero: beta NA, QE 0 (see EDGE); rma.peto stops with
    # "One of the two outcomes never occurred in any of the tables. Peto's method cannot be used."
    peto = pool(DOUBLE_ZERO, "OR", "PETO").iloc[0]
    assert np.isnan(peto.theta) and "undefined" in peto.note
    mh = pool(DOUBLE_ZERO, "OR", "MH").iloc[0]
    assert np.isnan(mh.theta) and not mh.converged and "undefined" in mh.note
    # every study dropped: an empty analysis, reported, not raised
    empty = pool(DOUBLE_ZERO, "OR", "EE", drop00=True).iloc[0]
    assert empty.k == 0 and np.isnan(empty.theta) and "no studies" in empty.note


def test_single_study_with_random_effects_is_an_error_unless_kept():
    data = pd.concat([K2.assign(outcome="a"), K1.assign(outcome="b")])
    with pytest.raises(ReviewError, match="outcome=b"):
        pool(data, "GEN", "REML", by=["outcome"])
    assert pool(data, "GEN", "EE", by=["outcome"])["k"].tolist() == [2, 1]
    kept = pool(data, "GEN", "REML", by=["outcome"], single_study="keep")
    assert kept["k"].tolist() == [2, 1] and "k = 1" in kept["note"].iloc[1]


# --- many analyses at once ----------------------------------------------------------------------------------


def _random_analyses(n_analyses: int, k: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    analysis = np.repeat(np.arange(n_analyses), k)
    vi = rng.uniform(0.01, 0.5, n_analyses * k)
    tau = rng.choice([0.0, 0.2, 0.6], n_analyses)[analysis]
    yi = rng.normal(0.3, np.sqrt(vi + tau**2))
    return pd.DataFrame({"analysis": analysis, "yi": yi, "vi": vi}).sample(frac=1, random_state=seed)


@pytest.mark.parametrize("method", ["EE", "DL", "REML", "PM"])
@pytest.mark.parametrize("test", ["z", "knha"])
def test_grouped_pool_equals_one_analysis_at_a_time(method, test):
    data = _random_analyses(15, 7, seed=1)  # rows shuffled: groups need not be contiguous
    together = pool(data, "GEN", method, test, by=["analysis"]).set_index("analysis")
    columns = ["theta", "se", "tau2", "ci_low", "pi_high", "i2", "q"]
    for analysis, rows in data.groupby("analysis"):
        alone = pool(rows, "GEN", method, test).iloc[0]
        got, expected = together.loc[analysis, columns].astype(float), alone[columns].astype(float)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


# Fisher scoring oscillates on these ten studies (from benchmarks/bench_pool.py's random data) until maxiter:
# rma(yi=c(-0.474348, -0.099785, -0.711148, -0.675729, -0.180471, -0.194968, 0.147499, 0.335813, -0.532286,
#         -0.725037),
#     vi=c(0.420975, 0.123572, 0.249829, 0.023378, 0.172247, 0.26429, 0.081434, 0.387233, 0.240646, 0.44067))
#   -> Error: Fisher scoring algorithm did not converge.
OSCILLATES = pd.DataFrame(
    {
        "yi": [
            -0.474348,
            -0.099785,
            -0.711148,
            -0.675729,
            -0.180471,
            -0.194968,
            0.147499,
            0.335813,
            -0.532286,
            -0.725037,
        ],
        "vi": [
            0.420975,
            0.123572,
            0.249829,
            0.023378,
            0.172247,
            0.26429,
            0.081434,
            0.387233,
            0.240646,
            0.44067,
        ],
    }
)


def test_reml_that_does_not_converge_says_so_without_stopping_the_others():
    data = pd.concat([OSCILLATES.assign(outcome="oscillates"), HOMOG.assign(outcome="homog")])
    stuck, homog = pool(data, "GEN", "REML", by=["outcome"]).itertuples(index=False)
    assert not stuck.converged and np.isnan(stuck.theta) and "did not converge" in stuck.note
    assert homog.converged and homog.note == ""
    close([homog.theta, homog.se, homog.tau2], [0.105505617977528, 0.082107082725596, 0.0])  # as in EDGE
    # the remedy the note suggests: rma(yi, vi, method="PM") on the same data -> beta, se, tau2
    (pm,) = pool(OSCILLATES, "GEN", "PM").itertuples(index=False)
    close([pm.theta, pm.se, pm.tau2], [-0.39046487086386, 0.115094956961423, 0.00752015679964446])


def test_reml_iteration_limit_is_metafors_maxiter():
    # rma(yi, vi, data=escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg),
    #     control=list(maxiter=m))
    #   -> m = 1, 2: Error: Fisher scoring algorithm did not converge.  m = 3: fits
    converged = [pool(BCG, "RR", "REML", max_iter=m).iloc[0].converged for m in (1, 2, 3)]
    assert converged == [False, False, True]


# --- subgroups, leave-one-out, Egger, weights ---------------------------------------------------------------


def test_subgroups_equal_metafor():
    # es <- escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)
    # fits <- lapply(c("random","alternate","systematic"), function(a) rma(yi, vi, data=es, subset=alloc==a))
    # rma(sapply(fits, coef), sei=sapply(fits, function(f) f$se), method="EE")  -> QE, QEp
    result = subgroups(BCG, "alloc", "RR", "REML", tau2="separate")
    assert result["alloc"].tolist() == ["random", "alternate", "systematic"]
    close(result["theta"], [-0.970964475758379, -0.540792961849346, -0.424207342954399])
    close(result["se"], [0.275955701509003, 0.281601613103888, 0.359745387368798])
    close(result["tau2"], [0.392526549118408, 0.132577039878093, 0.400346296813917])
    close(result["q_between"], [1.86144614123119] * 3)
    close(result["q_between_pval"], [0.39426852329498] * 3)
    assert (result["q_between_df"] == 2).all()


def test_leave_one_out_equals_leave1out():
    # leave1out(rma(yi, vi, data=escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)))
    result = leave_one_out(BCG.assign(study=range(1, 14)), "RR", "REML")
    assert result["omitted"].tolist() == list(range(1, 14))
    assert (result["k"] == 12).all()
    close(
        result["theta"],
        [
            -0.707083788031437,
            -0.654031200397814,
            -0.685554417972832,
            -0.628409407862505,
            -0.764170094987222,
            -0.710876564850935,
            -0.655247599791984,
            -0.794767610948287,
            -0.741197299313848,
            -0.653032925763431,
            -0.757858625204249,
            -0.759812097339421,
            -0.777536180774624,
        ],
    )
    close(
        result["se"],
        [
            0.189961024702717,
            0.180695386623819,
            0.185706227113709,
            0.176618945949925,
            0.191787644314985,
            0.200254073054524,
            0.180473369240703,
            0.179877712551241,
            0.19667491774175,
            0.184267511663668,
            0.195786860992938,
            0.18209097901272,
            0.185535967620234,
        ],
    )
    close(
        result["tau2"],
        [
            0.336156745300306,
            0.292583085554123,
            0.320738056887219,
            0.262758356241501,
            0.327803258618395,
            0.359554181152191,
            0.29302586988829,
            0.273183034116211,
            0.349452009922899,
            0.298724600913035,
            0.340488265334648,
            0.308162202718279,
            0.303733326561131,
        ],
    )
    close(
        result["i2"],
        [
            93.2259349111223,
            92.2539555054861,
            92.9354144023304,
            90.4124708002877,
            92.7634357348045,
            90.911810088948,
            92.2777177244936,
            87.031367066562,
            93.2132620377894,
            92.2322332510751,
            91.8109514233007,
            92.6782056989328,
            92.3443996196025,
        ],
    )
    close(
        result["q"],
        [
            151.582572747109,
            145.317607670209,
            150.197044457953,
            96.5625949713915,
            151.320008931121,
            128.186664682906,
            145.829638145065,
            67.9858114990849,
            152.205060685431,
            139.827073316802,
            151.465504507947,
            150.786834541142,
            149.788423825434,
        ],
    )


def test_leave_one_out_of_two_studies_keeps_single_study_fits():
    result = leave_one_out(K2, "GEN", "REML")
    close(result["theta"], [0.6, 0.2])
    assert (result["k"] == 1).all()


def test_egger_equals_regtest_lm():
    # regtest(rma(yi, vi, data=escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)), model="lm")
    #   -> zval, pval, dfs, est; coef(summary(fit))["Xsei", 1:2]
    row = egger_test(BCG, "RR").iloc[0]
    close(
        [row.stat, row.pval, row.ddf, row.limit_estimate],
        [-1.40128200228933, 0.188706995081979, 11, -0.19092864235982],
    )
    close([row.bias, row.bias_se], [-2.1120421208933, 1.50722132835701])
    assert np.isnan(egger_test(K2, "GEN").iloc[0].pval)


@pytest.mark.parametrize(
    ("measure", "method", "weights"),
    [
        # weights(rma(yi, vi, data=escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)))
        (
            "RR",
            "REML",
            [
                5.05948307931551,
                6.3646796321266,
                4.43602776309674,
                9.69874673569736,
                8.86845628682752,
                10.0957381652943,
                6.02718170294241,
                10.1894386345929,
                8.74313313169806,
                8.3676072473369,
                9.9250266628389,
                3.82162942284151,
                8.40285153539128,
            ],
        ),
        # weights(rma.mh(measure="OR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
        (
            "OR",
            "MH",
            [
                0.656527373745082,
                1.87722549297404,
                0.730744362630871,
                16.6680429766667,
                2.85949231836084,
                22.235861447265,
                1.05033546092394,
                32.5984300430236,
                2.98944602479871,
                4.29216143512605,
                11.9877830680052,
                0.203096479094172,
                1.85085351738574,
            ],
        ),
        # weights(rma.peto(ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
        (
            "OR",
            "PETO",
            [
                0.584494118018665,
                1.36559191923282,
                0.561556743475032,
                12.6527399602594,
                3.26715427484523,
                18.5940705669151,
                0.470304490936427,
                41.2589113922582,
                3.0425499950616,
                3.30701190615964,
                12.2567374145061,
                0.329806245063413,
                2.30907097326837,
            ],
        ),
    ],
)
def test_study_weights_equal_metafor(measure, method, weights):
    close(study_weights(BCG, measure, method)["weight"], weights)


# --- input that the user must fix ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "measure", "options", "words"),
    [
        (BCG, "XX", {}, "unknown measure"),
        (BCG, "OR", {"method": "FOO"}, "unknown method"),
        (BCG, "OR", {"test": "wald"}, "unknown test"),
        (BCG, "SMD", {}, "missing"),
        (BCG.assign(events_e=-BCG["events_e"]), "OR", {}, "negative"),
        (BCG.assign(events_c=BCG["n_c"] + 1), "OR", {}, "larger than n_c"),
        (BCG.assign(n_e=0), "OR", {}, "not positive"),
        (BCG.assign(events_e=BCG["events_e"].astype(object).where(BCG.index != 2, "NR")), "OR", {}, "row 3"),
        (BCG.assign(events_e=BCG["events_e"].where(BCG.index != 4)), "OR", {}, "empty"),
        (BCG, "SMD", {"method": "MH"}, "MH pools only"),
        (BCG, "RR", {"method": "PETO"}, "PETO pools only"),
        (BCG, "OR", {"method": "MH", "test": "knha"}, "uses z"),
        (LOG_HR, "HR", {"method": "MH"}, "MH pools only"),
        (effect_sizes(BCG, "OR")[["yi", "vi"]], "OR", {"method": "MH"}, "needs the counts"),
        (BCG, "OR", {"by": ["outcome"]}, "grouping column"),
        (K2.assign(vi=[0.04, 0.0]), "GEN", {}, "vi"),
        (ZERO, "OR", {"add": 0}, "continuity correction"),
        (ZERO, "OR", {"add": -1}, "add="),
        (ZERO, "OR", {"to": "some"}, "to="),
        (NORMAND.assign(sd_c=-1), "MD", {}, "negative"),
        (BCG.iloc[:0], "OR", {}, "no rows"),
    ],
)
def test_bad_input_raises_one_line_review_error(data, measure, options, words):
    with pytest.raises(ReviewError, match=words) as caught:
        pool(data, measure, **options)
    assert "\n" not in str(caught.value)
