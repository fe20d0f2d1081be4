"""`review meta`: pools a CSV into a CSV; bad input gives one line and exit 1 (fixable) or 2 (unreadable)."""

from __future__ import annotations

import pandas as pd
import pytest
from datasets import BCG
from typer.testing import CliRunner

from review.cli import app

runner = CliRunner()

# dat.bcg (metafor): events_e = tpos, n_e = tpos + tneg, events_c = cpos, n_c = cpos + cneg
CONTRACT = [
    "k",
    "theta",
    "se",
    "ci_low",
    "ci_high",
    "pi_low",
    "pi_high",
    "tau2",
    "i2",
    "q",
    "measure",
    "method",
    "test",
]


@pytest.fixture
def bcg_csv(tmp_path):
    path = tmp_path / "bcg.csv"
    BCG.to_csv(path, index=False)
    return path


def run(*args: object):
    return runner.invoke(app, ["meta", *map(str, args)])


@pytest.mark.parametrize(
    ("options", "theta", "se"),
    [
        # rma(yi, vi, data=escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
        (["--measure", "RR"], -0.714532348365101, 0.179781531780361),
        # rma(yi, vi, test="knha", data=escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg))
        (["--measure", "RR", "--test", "knha"], -0.714532348365101, 0.1807917455191),
        # rma.peto(ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)
        (["--measure", "OR", "--method", "PETO"], -0.474446310940636, 0.0406590807446483),
        # rma.mh(measure="RD", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg)
        (["--measure", "RD", "--method", "MH"], -0.003288181832613, 0.000286656748527374),
    ],
)
def test_meta_writes_one_row_with_the_contract_columns(bcg_csv, tmp_path, options, theta, se):
    out = tmp_path / "pooled.csv"
    result = run(bcg_csv, *options, "-o", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert set(CONTRACT) <= set(table.columns)
    assert len(table) == 1 and table.loc[0, "k"] == 13
    assert table.loc[0, "theta"] == pytest.approx(theta, rel=1e-6)
    assert table.loc[0, "se"] == pytest.approx(se, rel=1e-6)
    assert f"Wrote {out}" in result.output


def test_meta_pools_each_group_of_by_columns(bcg_csv, tmp_path):
    out = tmp_path / "pooled.csv"
    result = run(bcg_csv, "--measure", "RR", "--method", "REML", "--by", "alloc", "-o", out)
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out)
    assert table["alloc"].tolist() == ["random", "alternate", "systematic"]
    assert table["k"].tolist() == [7, 2, 4]
    # rma(yi, vi, data=es, subset=alloc=="random") |> predict(transf=exp), es as above
    assert table.loc[0, "ci_low"] == pytest.approx(0.220506586885567, rel=1e-6)
    assert table.loc[0, "pi_high"] == pytest.approx(1.44893414137953, rel=1e-6)


def test_meta_without_output_only_prints(bcg_csv, tmp_path):
    result = run(bcg_csv, "--measure", "OR", "--method", "DL")
    assert result.exit_code == 0, result.output
    assert "OR, DL, test z" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bcg.csv"]


@pytest.mark.parametrize(
    ("change", "options", "code", "word"),
    [
        (lambda d: d, ["--measure", "XX"], 1, "unknown measure"),
        (lambda d: d, ["--measure", "OR", "--method", "BAYES"], 1, "unknown method"),
        (lambda d: d.assign(events_c=-d["events_c"]), ["--measure", "OR"], 1, "negative"),
        (lambda d: d.assign(events_e=d["n_e"] + 1), ["--measure", "OR"], 1, "larger than n_e"),
        (lambda d: d.drop(columns="n_c"), ["--measure", "OR"], 1, "n_c"),
        (lambda d: d.head(1), ["--measure", "OR", "--method", "REML"], 1, "single study"),
        (lambda d: d, ["--measure", "OR", "--by", "term"], 1, "term"),
        (lambda d: d, ["--measure", "SMD", "--method", "MH"], 1, "MH"),
    ],
)
def test_bad_input_gives_one_line_and_exit_code(tmp_path, change, options, code, word):
    path = tmp_path / "input.csv"
    change(BCG).to_csv(path, index=False)
    out = tmp_path / "out.csv"
    result = run(path, *options, "-o", out)
    assert result.exit_code == code
    assert word in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_unreadable_or_missing_input_exits_2(tmp_path):
    result = run(tmp_path / "missing.csv", "--measure", "OR")
    assert result.exit_code == 2 and "not found" in result.output
    garbage = tmp_path / "garbage.csv"
    garbage.write_bytes(b"\xff\xfe\x00\x81binary\x00\x00")
    result = run(garbage, "--measure", "OR")
    assert result.exit_code == 2 and "CSV" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_meta_never_overwrites_its_input(bcg_csv):
    before = bcg_csv.read_bytes()
    result = run(bcg_csv, "--measure", "OR", "-o", bcg_csv)
    assert result.exit_code == 2 and "is the input" in result.output
    assert bcg_csv.read_bytes() == before


def test_new_estimators_tests_and_heterogeneity_intervals_reach_the_csv(bcg_csv, tmp_path):
    # rma(yi, vi, data=escalc("RR", ...dat.bcg), method="SJ", test="adhoc"); confint() (tests/metafor_reference.py)
    from metafor_reference import POOL

    ref = POOL[("bcg", "SJ", "adhoc")]
    out = tmp_path / "out.csv"
    result = run(bcg_csv, "-m", "RR", "--method", "SJ", "--test", "adhoc", "-o", out)
    assert result.exit_code == 0, result.output
    row = pd.read_csv(out).iloc[0]
    assert (row["method"], row["test"], row["ddf"]) == ("SJ", "adhoc", 12)
    got = [row["tau2"], row["tau2_ci_low"], row["tau2_ci_high"], row["i2_ci_low"], row["i2_ci_high"]]
    expected = [ref["tau2"], *ref["tau2_ci"], *ref["I2_ci"]]
    assert got == pytest.approx(expected, rel=1e-6)
    assert "I2 [CI]" in result.output


def test_meta_help_lists_the_estimators_and_tests():
    output = runner.invoke(app, ["meta", "--help"]).output
    text = " ".join(output.replace("\u2502", " ").split())  # rich's help box: join its wrapped lines
    for word in ("DL, HE, HS, SJ, ML, REML, EB, PM", "knha", "adhoc"):
        assert word in text


def test_subgroups_from_the_command_line_equal_metafor(bcg_csv, tmp_path):
    # rma(yi, vi, mods=~factor(alloc), data=bcg) -> QM, QMp; confint() (tests/metafor_reference.py)
    from metafor_reference import METAREG, SUBGROUPS

    ref, model = SUBGROUPS[("bcg", "REML", "z")], METAREG[("bcg", "alloc", "REML", "z")]
    out = tmp_path / "subgroups.csv"
    result = run(bcg_csv, "-m", "RR", "--subgroup", "alloc", "-o", out)
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out).set_index("alloc").loc[ref["levels"]]
    assert rows["theta"].tolist() == pytest.approx(ref["beta"], rel=1e-6)
    assert rows["q_between"].tolist() == pytest.approx([ref["QM"]] * 3, rel=1e-6)
    assert rows[["tau2_ci_low", "tau2_ci_high"]].iloc[0].tolist() == pytest.approx(model["tau2_ci"], rel=1e-6)
    assert "Subgroup differences: Q = 1.768, df = 2" in result.output
    separate = run(bcg_csv, "-m", "RR", "--subgroup", "alloc", "--tau2", "separate")
    assert "(separate tau2)" in separate.output
    missing = run(bcg_csv, "-m", "RR", "--subgroup", "dose")
    assert missing.exit_code == 1 and "subgroup column 'dose'" in missing.output
