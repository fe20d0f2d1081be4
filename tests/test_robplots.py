"""Risk-of-bias figures (traffic light, weighted summary), the RevMan-style forest plot and inline display."""

from __future__ import annotations

import pandas as pd
import pytest
from datasets import BCG
from matplotlib.figure import Figure

from review.errors import ReviewError
from review.plots import forest_plot, funnel_plot
from review.robplots import JUDGEMENTS, rob_matrix, summary_plot, traffic_light_plot

DOMAINS = [
    "randomisation process",
    "deviations from intended interventions",
    "missing outcome data",
    "measurement of the outcome",
    "selection of the reported result",
    "overall",
]
# invented judgements for three BCG trials (tests only)
ROB = pd.DataFrame(
    [
        {"study_id": s, "domain": d, "judgement": j}
        for s, judgements in {
            "Aronson": ["low", "low", "some concerns", "low", "low", "some concerns"],
            "Ferguson & Simes": ["high", "low", "low", "low", "some concerns", "high"],
            "Rosenthal et al": ["low", "low", None, "low", "low", "low"],
        }.items()
        for d, j in zip(DOMAINS, judgements, strict=True)
    ][::-1]  # any row order: domains come out in RoB 2's order
)


def colours(fig: Figure) -> list[str]:
    from matplotlib.colors import to_hex

    return [to_hex(c).upper() for c in fig.axes[0].collections[0].get_facecolors()] + [
        to_hex(col.get_facecolors()[0]).upper() for col in fig.axes[0].collections[1:]
    ]


def test_rob_matrix_orders_domains_and_marks_missing_as_no_information():
    m = rob_matrix(ROB)
    assert list(m.columns) == DOMAINS
    assert set(m.index) == {"Aronson", "Ferguson & Simes", "Rosenthal et al"}
    assert m.loc["Rosenthal et al", "missing outcome data"] == "no information"
    assert m.loc["Ferguson & Simes", "overall"] == "high"
    partial = ROB[~((ROB["study_id"] == "Aronson") & (ROB["domain"] == "overall"))]
    assert rob_matrix(partial).loc["Aronson", "overall"] == "no information"  # absent row: never 'low'


def test_traffic_light_one_circle_per_study_and_domain_in_the_judgement_colour():
    fig = traffic_light_plot(ROB)
    ax = fig.axes[0]
    m = rob_matrix(ROB)
    from matplotlib.colors import to_hex

    # one collection per judgement (robplots draws them together): every circle in its judgement's colour
    circles = {}
    for col in ax.collections:
        colour = to_hex(col.get_facecolors()[0]).upper()
        for x, y in col.get_offsets():
            circles[(int(y), int(x))] = colour
    assert len(circles) == 3 * 6
    for (i, j), colour in circles.items():
        assert colour == JUDGEMENTS[m.iat[i, j]][0].upper()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["D1", "D2", "D3", "D4", "D5", "Overall"]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(m.index)
    symbols = [t.get_text() for t in ax.texts]
    assert symbols.count("x") == 2 and symbols.count("?") == 1 and symbols.count("-") == 3


def test_summary_plot_shares_unweighted_and_weighted():
    fig = summary_plot(ROB)
    ax = fig.axes[0]
    bars = {}
    for patch in ax.patches:
        bars.setdefault(patch.get_facecolor()[:3], []).append(round(patch.get_width(), 6))
    from matplotlib.colors import to_rgb

    # per domain in RoB 2 order, the share of the three studies judged low
    low = bars[to_rgb(JUDGEMENTS["low"][0])]
    assert low == pytest.approx([100 * 2 / 3, 100, 100 / 3, 100, 100 * 2 / 3, 100 / 3])
    weighted = summary_plot(ROB, weights={"Aronson": 1, "Ferguson & Simes": 1, "Rosenthal et al": 2})
    wbars = {}
    for patch in weighted.axes[0].patches:
        if patch.get_width() > 0:
            wbars.setdefault(patch.get_facecolor()[:3], []).append(round(patch.get_width(), 6))
    assert wbars[to_rgb(JUDGEMENTS["high"][0])] == pytest.approx([25, 25])  # D1 and overall: Ferguson, 1/4
    assert wbars[to_rgb(JUDGEMENTS["no information"][0])] == pytest.approx([50])  # D3: Rosenthal, 2/4
    assert "weighted" in weighted.texts[0].get_text() or "weighted" in weighted._suptitle.get_text()
    with pytest.raises(ReviewError, match="no weight for Rosenthal et al"):
        summary_plot(ROB, weights={"Aronson": 1, "Ferguson & Simes": 1})


def test_empty_or_malformed_rob_is_a_clear_error(tmp_path):
    with pytest.raises(ReviewError, match="risk_of_bias table is empty"):
        traffic_light_plot(ROB.iloc[0:0])
    with pytest.raises(ReviewError, match="missing \\['judgement'\\]"):
        traffic_light_plot(ROB.drop(columns="judgement"))
    with pytest.raises(ReviewError, match="two judgements"):
        rob_matrix(pd.concat([ROB, ROB.iloc[:1]]))


def test_revman_forest_adds_arm_counts_and_rob_without_changing_the_rest(tmp_path):
    plain = forest_plot(BCG, "RR", study="study")
    revman = forest_plot(BCG, "RR", study="study", counts=True, rob=ROB, path=tmp_path / "f.png")
    plain_texts = [t.get_text() for t in plain.axes[0].texts]
    revman_texts = [t.get_text() for t in revman.axes[0].texts]
    assert all(t in revman_texts for t in plain_texts)  # same content, more columns
    assert "Experimental\nEvents/N" in revman_texts and "Control\nEvents/N" in revman_texts
    assert "4/123" in revman_texts and "11/139" in revman_texts  # Aronson: tpos/(tpos+tneg), cpos/(...)
    assert f"{BCG['events_e'].sum():g}/{BCG['n_e'].sum():g}" in revman_texts  # RevMan's totals row
    # RoB circles: 6 domains x 13 studies; trials without judgements show '?'
    circles = [t for t in revman.axes[0].texts if t.get_bbox_patch() is not None]
    assert len(circles) == 6 * 13
    assert sum(t.get_text() == "?" for t in circles) == 6 * 9 + 2  # Rosenthal et al: two BCG rows, no D3
    assert (tmp_path / "f.png").stat().st_size > 0
    assert revman.get_figwidth() > plain.get_figwidth()
    single = forest_plot(
        BCG.rename(columns={"events_e": "events", "n_e": "n"})[["study", "events", "n"]], "PLO", counts=True
    )
    assert "Events/N" in [t.get_text() for t in single.axes[0].texts]
    with pytest.raises(ReviewError, match="counts=True needs arm counts"):
        forest_plot(pd.DataFrame({"yi": [0.1, 0.2], "vi": [0.01, 0.02]}), "HR", counts=True)


def test_figures_show_inline_in_ipython_without_magic():
    """IPython's display formatter (what Jupyter calls for a cell's value) gives a PNG, not '<Figure size...>'."""
    from IPython.core.formatters import DisplayFormatter

    formatter = DisplayFormatter()
    for fig in (forest_plot(BCG, "RR"), funnel_plot(BCG, "RR"), traffic_light_plot(ROB), summary_plot(ROB)):
        data, _ = formatter.format(fig)
        assert data["image/png"][:8] == b"\x89PNG\r\n\x1a\n"


def test_a_jupyter_kernel_shows_one_png_per_figure_with_no_magic(tmp_path):
    """A real kernel: the cell's value is displayed as PNG, with and without pyplot imported (never twice)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from conftest import ROOT

    setup = f"import sys; sys.path.insert(0, {str(ROOT / 'tests')!r}); sys.path.insert(0, {str(ROOT)!r})\n"
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            setup + "from datasets import BCG\nfrom review.plots import forest_plot\nforest_plot(BCG, 'RR')"
        ),
        nbformat.v4.new_code_cell("import matplotlib.pyplot as plt\nforest_plot(BCG, 'RR')"),
    ]
    nbclient.NotebookClient(nb, timeout=120, resources={"metadata": {"path": str(tmp_path)}}).execute()
    for cell in nb.cells:
        images = [o for o in cell.outputs if "image/png" in o.get("data", {})]
        assert len(images) == 1, cell.outputs
