"""Forest, funnel, Baujat and cumulative plots: what they show (rows, labels, weights, tests) and the files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from datasets import BCG
from matplotlib.figure import Figure
from matplotlib.patches import Polygon

from review.diagnostics import cumulative, influence
from review.errors import ReviewError
from review.plots import baujat_plot, cumulative_plot, forest_plot, funnel_plot

# dat.bcg (metafor): events_e = tpos, n_e = tpos + tneg, events_c = cpos, n_c = cpos + cneg


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [
        ax.get_title(loc="right") for ax in fig.axes
    ]


def test_forest_plot_shows_every_study_weight_pooled_diamond_and_prediction_interval():
    fig = forest_plot(BCG, "RR", "REML")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    shown = texts(fig)
    for study in BCG["study"]:
        assert study in shown
    weights = [t for t in shown if t.endswith("%") and t != "100%"]
    assert len(weights) == 13
    assert sum(float(w[:-1]) for w in weights) == pytest.approx(100, abs=0.1)
    assert len(ax.collections[1].get_offsets()) == 13  # one square per study
    assert sum(isinstance(p, Polygon) for p in ax.patches) == 1  # the pooled diamond
    assert "0.49 [0.34, 0.70]" in shown  # exp(theta) and CI of rma(...) |> predict(transf=exp)
    assert any(t.startswith("PI [0.15, 1.55]") for t in shown)
    assert any("I\u00b2 = 92.2%" in t and "\u03c4\u00b2 = 0.3132" in t for t in shown)
    assert ax.get_xscale() == "log"


def test_forest_plot_of_a_common_effect_model_has_no_prediction_interval():
    shown = texts(forest_plot(BCG, "OR", "MH"))
    assert "Mantel-Haenszel model" in shown
    assert not any(t.startswith("PI") for t in shown)


def test_forest_plot_labels_a_double_zero_study():
    data = pd.DataFrame(
        {"events_e": [0, 2, 5], "n_e": [15, 25, 30], "events_c": [0, 4, 6], "n_c": [15, 25, 30]}
    )
    shown = texts(forest_plot(data, "OR", "MH"))
    assert "no events in either arm" in shown
    assert "Study 3" in shown


def test_funnel_plot_shows_each_study_and_eggers_test():
    fig = funnel_plot(BCG, "RR")
    ax = fig.axes[0]
    assert len(ax.collections[-1].get_offsets()) == 13
    # regtest(..., model="lm") on the same data: t = -1.40, df = 11, p = 0.189
    assert "Egger's test: t = -1.40, df = 11, p = 0.189" in texts(fig)
    assert ax.get_ylim()[0] > ax.get_ylim()[1]  # standard error grows downwards


def test_funnel_plot_with_two_studies_says_egger_needs_three():
    data = BCG.iloc[:2]
    assert "Egger's test needs k >= 3" in texts(funnel_plot(data, "RR", "EE"))


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plots_are_saved_atomically_as_png_or_svg(tmp_path, suffix):
    forest = tmp_path / f"forest{suffix}"
    funnel = tmp_path / f"funnel{suffix}"
    forest_plot(BCG, "RR", path=forest)
    funnel_plot(BCG, "RR", path=funnel)
    for path in (forest, funnel):
        head = path.read_bytes()[:200]
        assert head.startswith(b"\x89PNG\r\n\x1a\n") if suffix == ".png" else b"<svg" in head
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([forest.name, funnel.name])  # no temp files


def test_plot_input_errors_are_review_errors(tmp_path):
    with pytest.raises(ReviewError, match=".png or .svg"):
        forest_plot(BCG, "RR", path=tmp_path / "forest.pdf")
    with pytest.raises(ReviewError, match="label column"):
        forest_plot(BCG, "RR", study="trial")
    with pytest.raises(ReviewError, match="unknown measure"):
        funnel_plot(BCG, "XX")
    assert not list(tmp_path.iterdir())


def test_baujat_plot_places_each_study_at_metafors_coordinates():
    fig = baujat_plot(BCG, "RR", "REML")
    ax = fig.axes[0]
    expected = influence(BCG, "RR", "REML")[["baujat_x", "baujat_y"]].to_numpy()
    np.testing.assert_allclose(np.asarray(ax.collections[0].get_offsets()), expected, rtol=1e-12)
    assert set(BCG["study"]) <= set(texts(fig))
    assert "Random-effects model (REML)" in texts(fig)


def test_cumulative_plot_adds_one_study_per_row_in_the_given_order():
    data = BCG.assign(year=[1948, 1949, 1960, 1977, 1973, 1953, 1973, 1980, 1968, 1961, 1974, 1969, 1976])
    fig = cumulative_plot(data, "RR", "DL", "knha", order="year")
    shown = texts(fig)
    steps = cumulative(data, "RR", "DL", "knha", order="year")
    assert [t for t in shown if t.startswith("+ ")] == [f"+ {s}" for s in steps["added"]]
    assert (
        f"{steps['estimate'].iloc[-1]:.2f} [{steps['ci_low'].iloc[-1]:.2f}, {steps['ci_high'].iloc[-1]:.2f}]"
        in shown
    )
    assert "Random-effects model (DL, knha)" in shown
    assert fig.axes[0].get_xscale() == "log"


def test_forest_plot_shows_exact_intervals_for_proportions():
    data = pd.DataFrame({"study_id": ["a", "b"], "events": [0, 10], "n": [20, 10]})
    shown = texts(forest_plot(data, "PLO", "EE", study_ci="exact"))
    # binom.test(0, 20)$conf.int = 0, 0.168; binom.test(10, 10)$conf.int = 0.692, 1
    assert "0.02 [0.00, 0.17]" in shown and "0.95 [0.69, 1.00]" in shown


def test_png_is_savefigs_tight_png_drawn_once():
    """save_figure's PNG cuts savefig's tight box out of one drawing: the same size, the same picture (pixels
    may differ by a sub-pixel shift of the antialiasing, never in what is drawn)."""
    import io

    from PIL import Image

    from review.plots import png_bytes

    fig = forest_plot(BCG, "RR", "REML", title="BCG vaccine")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=150, bbox_inches="tight")
    theirs = np.asarray(Image.open(buffer).convert("RGB")).astype(int)
    ours = np.asarray(Image.open(io.BytesIO(png_bytes(fig, dpi=150))).convert("RGB")).astype(int)
    assert abs(ours.shape[0] - theirs.shape[0]) <= 1 and abs(ours.shape[1] - theirs.shape[1]) <= 1
    h, w = min(ours.shape[0], theirs.shape[0]), min(ours.shape[1], theirs.shape[1])
    ink_ours, ink_theirs = (x[:h, :w].sum(axis=2) < 600 for x in (ours, theirs))
    assert abs(int(ink_ours.sum()) - int(ink_theirs.sum())) < 0.02 * ink_theirs.sum()
    assert fig._repr_png_().startswith(b"\x89PNG")  # the notebook's inline picture, the same way at 100 dpi


def test_long_study_labels_widen_the_plot_instead_of_running_into_it():
    long = BCG.assign(
        study=[f"{s} and a very long author list et al., extension cohort" for s in BCG["study"]]
    )
    short, wide = forest_plot(BCG, "RR", "REML"), forest_plot(long, "RR", "REML")
    assert wide.get_figwidth() > short.get_figwidth() == 10
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(wide).get_renderer()
    ax = wide.axes[0]
    plot_left = ax.get_window_extent(renderer).x0
    labels = [t for t in ax.texts if t.get_text() in set(long["study"])]
    assert len(labels) == 13
    assert max(t.get_window_extent(renderer).x1 for t in labels) < plot_left
