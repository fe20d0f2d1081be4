"""Round trip (issue 11): random valid extractions, written through the reviewer workbook and read back, are
identical; and the same after LibreOffice opens and re-saves the workbook, as a collaborator would.

Every field type is drawn, with NR and NA, Unicode text (including text a spreadsheet would run), and boundary
numbers (0, -0.0, the smallest and largest doubles, integers up to 2^53 - 1).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from conftest import FORM_PATH
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from review.forms import MISSING_CODES, Field, load_form
from review.values import _MISSING_VARIANTS
from review.workbook import make_workbook, read_workbook

FORM = load_form(FORM_PATH)
RUNS = ["=1+2", '=HYPERLINK("http://x","y")', "+cmd", "-x", "@SUM(A1)", "=", "-"]
LIMIT = 2**53 - 1


def _plain_text(text: str) -> bool:
    """What a reviewer types as one value: the reader folds runs of white space, and NR/NA variants are codes."""
    return (
        bool(text)
        and text == " ".join(text.split())
        and text.casefold() not in _MISSING_VARIANTS
        and (text not in MISSING_CODES)
    )


TEXT = st.one_of(
    st.sampled_from(RUNS),
    st.text(st.characters(blacklist_categories=("Cc", "Cs", "Co", "Cn")), min_size=1, max_size=25),
).filter(_plain_text)
INTEGER = st.one_of(st.sampled_from([0, 1, LIMIT, -LIMIT]), st.integers(-LIMIT, LIMIT))
NUMBER = st.one_of(
    st.sampled_from([0.0, -0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 1 / 3]),
    st.floats(allow_nan=False, allow_infinity=False),
)

PERCENT = st.floats(0, 100)


@st.composite
def dates(draw) -> str:
    day = draw(st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31))).isoformat()
    return day[: draw(st.sampled_from([4, 7, 10]))]


def value(f: Field, key: bool, numbers=NUMBER, integers=INTEGER, percents=PERCENT) -> st.SearchStrategy:
    kind = {
        "text": TEXT,
        "integer": integers,
        "number": numbers,
        "percent": percents,
        "date": dates(),
        "category": st.sampled_from(list(f.values or ["x"])),
        "boolean": st.booleans(),
    }[f.type]
    return kind if key else st.one_of(kind, st.sampled_from([None, *MISSING_CODES]))


@st.composite
def extraction(draw, numbers=NUMBER, integers=INTEGER, percents=PERCENT) -> dict[str, pd.DataFrame]:
    frames = {}
    for t in FORM.tables.values():
        rows = draw(st.integers(0, 2))
        records = [
            {n: draw(value(f, n in t.key, numbers, integers, percents)) for n, f in t.fields.items()}
            for _ in range(rows)
        ]
        frames[t.name] = pd.DataFrame(records, columns=list(t.fields), dtype=object)
    return frames


def assert_read_back(path: Path, data: dict[str, pd.DataFrame]) -> None:
    ext = read_workbook(path, FORM)
    assert not [i for i in ext.issues if i.severity != "warning"], ext.issues
    typed = ext.as_typed()
    for name, frame in data.items():
        got = typed[name].reset_index(drop=True)
        assert len(got) == len(frame), name
        for col in frame.columns:
            for r, (want, have) in enumerate(zip(frame[col], got[col], strict=True)):
                assert have == want or (want is None and have is None), (name, r + 2, col, want, have)
                if isinstance(want, float) and want:
                    assert float(have) == want and type(want) is type(float(have))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=extraction())
def test_reviewer_workbook_round_trip(data, tmp_path_factory):
    path = make_workbook(FORM, tmp_path_factory.mktemp("rt") / "w.xlsx", reviewer="R", data=data, rows=1)
    assert_read_back(path, data)


# --- LibreOffice ------------------------------------------------------------------------------------------------
# LibreOffice saves numbers to 15 significant digits (all a spreadsheet shows; 2^53 - 1 comes back as
# 9007199254740990): reviewers type no more, so the numbers drawn here have up to 15 digits.
TYPED_INTEGER = st.integers(-(10**15) + 1, 10**15 - 1)
TYPED_PERCENT = st.floats(0, 100).map(lambda x: float(f"{x:.15g}"))
TYPED = st.one_of(
    st.sampled_from([0.0, 0.1, 1e-300, 1.5e300, 123456789012345.0]),
    st.floats(-1e15, 1e15).map(lambda x: float(f"{x:.15g}")),
)


def resave_with_libreoffice(paths: list[Path], folder: Path) -> list[Path]:
    """Open and save each workbook with LibreOffice (headless), into `folder`; one soffice start for all."""
    profile = folder / "profile"
    subprocess.run(
        [
            shutil.which("soffice") or "soffice",
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "xlsx:Calc MS Excel 2007 XML",
            "--outdir",
            str(folder),
            *map(str, paths),
        ],
        check=True,
        capture_output=True,
        timeout=240,
        env={**os.environ, "HOME": str(folder)},
    )
    return [folder / p.name for p in paths]


@pytest.mark.skipif(
    not shutil.which("soffice"), reason="LibreOffice (Debian: libreoffice-calc) not installed"
)
@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.lists(extraction(TYPED, TYPED_INTEGER, TYPED_PERCENT), min_size=3, max_size=3))
def test_round_trip_after_libreoffice_resaves(batch, tmp_path_factory):
    made = tmp_path_factory.mktemp("made")
    paths = [
        make_workbook(FORM, made / f"w{i}.xlsx", reviewer="R", data=d, rows=1) for i, d in enumerate(batch)
    ]
    resaved = resave_with_libreoffice(paths, tmp_path_factory.mktemp("resaved"))
    for path, data in zip(resaved, batch, strict=True):
        assert path.exists()
        assert_read_back(path, data)
