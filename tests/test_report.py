"""report.html of the example review: self-contained, opened in headless Chromium (Debian's chromium), which must
render it without console errors, decode every embedded figure and show every analysis."""

from __future__ import annotations

import re
import shutil
import subprocess

import pandas as pd
import pytest
from conftest import ROOT

from review.project import run
from review.report import report_html

# Added to a copy of the report only: reports each image that did not decode as a console error.
PROBE = """<script>
window.addEventListener("load", () => {
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0);
  broken.forEach(i => console.error("broken image: " + i.alt));
  console.log("probe: " + document.images.length + " images, " + broken.length + " broken");
});
</script>"""


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    return run(ROOT / "data" / "gist_imatinib", tmp_path_factory.mktemp("out"))


def report_of(result) -> str:
    """The report this run wrote (in the folder given to run, not the review's default output)."""
    return next(p for p in result.outputs if p.name == "report.html").read_text(encoding="utf-8")


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    assert found, "report.html is checked in Chromium: install Debian's chromium (apt-get install chromium)"
    return found


def test_report_is_self_contained(result):
    text = report_of(result)
    assert "<script" not in text
    assert not re.search(
        r"""(src|href)=["'](?!data:|#)""", text
    )  # nothing fetched: images inline, links local
    # one plot per analysis with data: 7 forest plots and 3 one-page safety plots
    assert text.count('src="data:image/png;base64,') == 10
    assert "Progression-free survival, high vs standard dose: one study, not pooled." in text
    assert "No risk-of-bias judgements were extracted" in text
    safety = re.search(r'<section id="safety">(.*?)</section>', text, flags=re.S).group(1)
    assert "Nausea" in safety and "CTCAE term" in safety  # the safety table, per term


def test_report_renders_in_chromium_without_console_errors(result, tmp_path):
    html = report_of(result)
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    done = subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=10000",
            "--dump-dom",
            probe.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    assert any('"probe: 10 images, 0 broken"' in line for line in console), console
    assert [line for line in console if "probe:" not in line] == []
    dom = done.stdout
    sections = dict(re.findall(r'<section id="([^"]+)">(.*?)</section>', dom, flags=re.S))
    for name in result.pooled["analysis"]:
        escaped = name.replace("&", "&amp;")
        assert escaped in sections["pooled"], name
        assert escaped in sections["forest"], name
        assert f"<b>{escaped}</b>" in sections["methods"], name


def test_report_says_what_is_missing_when_nothing_was_pooled():
    text = report_html(
        title="Empty",
        question="",
        made="today",
        methods_markdown="## Synthesis\n\n- **A** (x): no study had usable data, so nothing was estimated.",
        agreement=pd.DataFrame(),
        pooled=pd.DataFrame([{"analysis": "A", "k": 0, "studies_left_out": "S1 (events: NR)"}]),
        forest_plots={},
    )
    assert "One extraction: nothing was compared." in text
    assert "No forest plot (no study with usable data): A." in text
    assert "A: no study with usable data." in text and "A: left out S1 (events: NR)." in text


def test_many_warnings_show_counts_and_examples_of_every_rule():
    rows = [
        {
            "severity": "warning",
            "code": "sibling-rows",
            "file": "/data/review/reviewer_a.xlsx",
            "cell": f"A{i}",
        }
        for i in range(2, 1502)
    ] + [
        {
            "severity": "warning",
            "code": "zero-not-stated",
            "file": "/data/review/reviewer_b.xlsx",
            "cell": f"F{i}",
        }
        for i in range(2, 7)
    ]
    text = report_html(
        title="Big",
        question="",
        made="today",
        methods_markdown="",
        agreement=pd.DataFrame(),
        pooled=pd.DataFrame(
            [
                {
                    "analysis": "A",
                    "k": 3000,
                    "measure": "RR",
                    "method": "REML",
                    "test": "z",
                    "estimate": 1.0,
                    "ci_low": 0.98765,
                    "ci_high": 1.0,
                    "pi_low": 0.3,
                    "pi_high": 3.3333,
                    "i2": 91.0,
                    "tau2": 3.11e-06,
                }
            ]
        ),
        forest_plots={},
        issues=pd.DataFrame(rows),
    )
    assert "Nothing open in the analyses; the extraction warnings are below." in text
    assert "Validation warnings (1,505)" in text
    assert '<td class="num">1,500</td>' in text  # the count of the first rule, per file
    assert "Up to 20 examples of each rule (25 of 1,505 warnings)" in text
    assert text.count("<td>sibling-rows</td>") == 1 + 20 and text.count("<td>zero-not-stated</td>") == 1 + 5
    assert "/data/review/" not in text and "<td>reviewer_b.xlsx</td>" in text  # the file's name, not its path
    # numbers as a reader takes them in
    assert "<td>3,000</td>" in text
    assert "<td>1.00</td>" in text and "0.988\u00a0to\u00a01.00" in text and "0.300\u00a0to\u00a03.33" in text
    assert "<td>&lt;0.0001</td>" in text  # tau^2 of 3.11e-06


def test_numbers_as_a_reader_takes_them_in():
    from review.report import _num

    assert [_num(x) for x in (12345, 1.0, 0.98765, 3.11e-06, -3e-06, 0.0, 1443.2, float("nan"), None)] == [
        "12,345",
        "1.00",
        "0.988",
        "<0.0001",
        ">-0.0001",
        "0.00",
        "1,443",
        "",
        "",
    ]
