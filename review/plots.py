"""Forest, funnel, Baujat and cumulative forest plots (matplotlib) for one meta-analysis.

All rows of `data` form the one analysis plotted (select an outcome's rows first). Each function returns the
`Figure`, so a notebook shows it inline, and saves it atomically when given `path` (.png or .svg). Figures are
made without pyplot: nothing global is touched and nothing is shown twice. The numbers come from review.meta
(metafor's), so a plot and the table beside it always agree.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter
from matplotlib.transforms import blended_transform_factory

from .diagnostics import cumulative, influence
from .effects import measure_info, to_natural
from .errors import ReviewError
from .files import atomic_path
from .meta import RANDOM_EFFECTS, Options, egger_test, options, pool, study_weights

FORMATS = {".png": "png", ".svg": "svg"}
_ANALYSIS_SCALE = {
    "exp": "log {}",
    "ilogit": "logit of the {}",
    "iarcsin": "arcsine square root of the {}",
    "ipft": "Freeman-Tukey double arcsine of the {}",
}
# Past this many studies a forest plot is compact (one page, no per-study text): see forest_plot.
COMPACT_STUDIES, COMPACT_ROWS = 100, 30
_MODEL = {"EE": "Common-effect model", "MH": "Mantel-Haenszel model", "PETO": "Peto model"}
_BELOW, _ABOVE = 0.6, 0.55  # a forest plot's margins in inches: the x axis and its label; the title


class ReviewFigure(Figure):
    """A matplotlib Figure that shows itself in Jupyter (as PNG) without `%matplotlib inline` or pyplot.

    IPython prefers a formatter registered for Figure (the inline backend's) when there is one, so a figure is
    never shown twice."""

    def _repr_png_(self) -> bytes:
        return png_bytes(self, dpi=100)


def forest_plot(
    data: pd.DataFrame,
    measure: str | Options,
    method: str = "REML",
    test: str = "z",
    *,
    study: str | None = None,
    level: float = 95.0,
    add: float | None = None,
    to: str = "only0",
    drop00: bool | None = None,
    title: str | None = None,
    path: str | os.PathLike[str] | None = None,
    single_study: str = "error",
    study_ci: str = "wald",
    counts: bool = False,
    rob: pd.DataFrame | None = None,
    listed_in: str | None = None,
) -> ReviewFigure:
    """Forest plot of one analysis: a row per study (estimate, CI, weight), the pooled diamond, the prediction
    interval (random-effects methods) and a heterogeneity line, on the natural scale (log axis for ratios).

    `study` names the label column (default: study_id or study, else "Study 1", "Study 2"...). Rows are the
    input's order. Options are those of `review.meta.pool` (`single_study="keep"` plots a lone study; `measure`
    may be an `Options`); `study_ci="exact"` shows Clopper-Pearson intervals for single proportions.

    RevMan's layout: `counts=True` adds events/total columns per arm (experimental and control, or the one arm);
    `rob` (the risk_of_bias table: study_id, domain, judgement) adds a RoB 2 circle per domain after the weight.

    Past `COMPACT_STUDIES` studies (without `counts` or `rob`) the plot is compact: one page high, a line and
    a square per study but no per-study text (labels, estimates and weights would be unreadably small, and
    drawing thousands of them takes most of the time); the plot names `listed_in`, the file that lists every
    study's numbers (`review run` passes analyses/SLUG.csv).
    """
    opts = options(
        measure, method, test, level=level, add=add, to=to, drop00=drop00, single_study=single_study
    )
    if study_ci != "wald":
        opts = opts.replace(study_ci=study_ci)
    info, method, level = measure_info(opts.measure), opts.method, opts.level
    result = pool(data, opts).iloc[0]
    rows = study_weights(data, opts)
    labels = _labels(data, study)
    k_rows = len(rows)
    estimate = to_natural(info.code, rows["yi"].to_numpy(), _n_harmonic(data, info.code))
    low, high, weight = rows["ci_low"].to_numpy(), rows["ci_high"].to_numpy(), rows["weight"].to_numpy()
    double_zero = rows["double_zero"].to_numpy() if "double_zero" in rows else np.zeros(k_rows, dtype=bool)

    arm_columns = _arm_columns(data) if counts else []
    domains = _rob_columns(rob, labels) if rob is not None else None
    compact = k_rows > COMPACT_STUDIES and not arm_columns and domains is None
    # Layout in inches on the 10-inch plot (study, plot, estimate, weight), widened for the RevMan columns and
    # for study labels longer than their 2.8 inches (measured once, so no label runs into the plot)
    model = _model(opts)
    widest = max(
        _widest([str(x) for x in labels]) if not compact else 0.0,
        _widest([model, "Study"], bold=True),
    )
    lead = max(0.0, 0.2 + widest + 0.25 - 3.0)
    shift = 1.4 * len(arm_columns) + lead
    width = 10 + shift + (0.32 * (domains.shape[1] + 1) if domains is not None else 0)

    def at(inches: float) -> float:
        return inches / width

    # a compact plot spreads its studies over the height of COMPACT_ROWS rows: one page
    span = COMPACT_ROWS if compact else k_rows
    height = 0.32 * (span + 6) + 0.8
    fig = ReviewFigure(figsize=(width, height))
    # margins in inches (the axis and its label below, the title above), whatever the number of rows
    ax = fig.add_axes((at(3.0 + shift), _BELOW / height, at(4.0), 1 - (_BELOW + _ABOVE) / height))
    log_scale = info.natural == "exp"
    if log_scale:
        ax.set_xscale("log")
    y = np.linspace(span, 1, k_rows) if compact else np.arange(k_rows, 0, -1, dtype=float)
    shown = np.isfinite(estimate) & np.isfinite(weight)
    ax.hlines(y[shown], low[shown], high[shown], color="black", linewidth=0.5 if compact else 1)
    sizes = 20 + 180 * np.sqrt(np.nan_to_num(weight) / np.nanmax(np.r_[weight, 1e-12]))
    if compact:  # the rows are a fraction of their usual height: squares to match
        sizes = sizes * COMPACT_ROWS / k_rows
    ax.scatter(estimate[shown], y[shown], s=sizes[shown], marker="s", color="#34495e", zorder=3)

    pooled_y = -1.0
    centre, ci_low, ci_high = result["estimate"], result["ci_low"], result["ci_high"]
    ax.add_patch(
        Polygon(
            [(ci_low, pooled_y), (centre, pooled_y + 0.35), (ci_high, pooled_y), (centre, pooled_y - 0.35)],
            closed=True,
            color="#c0392b",
            zorder=3,
        )
    )
    has_pi = method in RANDOM_EFFECTS and np.isfinite(result["pi_low"])
    if has_pi:
        ax.hlines(
            pooled_y,
            result["pi_low"],
            result["pi_high"],
            color="#c0392b",
            linewidth=1.2,
            linestyles="dotted",
            label="prediction interval",
        )
    if info.null is not None:
        ax.axvline(info.null, color="grey", linewidth=0.8, linestyle="--", zorder=1)

    ends = np.r_[low[shown], high[shown], ci_low, ci_high, result["pi_low"] if has_pi else ci_low]
    ends = ends[np.isfinite(ends) & ((ends > 0) if log_scale else True)]
    if len(ends):
        lo, hi = ends.min(), ends.max()
        pad = (hi / lo) ** 0.05 if log_scale else (hi - lo) * 0.05 or 0.1
        ax.set_xlim((lo / pad, hi * pad) if log_scale else (lo - pad, hi + pad))
        if log_scale:  # ratios read as 0.5, 1, 2 rather than 10^0; 1-2-5 steps unless the range is wide
            ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0) if hi / lo < 100 else (1.0,)))
            ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
            ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(-2.0, span + 1.5)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel(f"{info.label}" + (" (log scale)" if log_scale else ""))

    text = blended_transform_factory(fig.transFigure, ax.transData)
    pct = f"{level:g}%"
    header: dict[str, Any] = {"fontweight": "bold", "va": "center", "transform": text}
    ax.text(at(0.2), span + 1, f"{k_rows:,} studies" if compact else "Study", ha="left", **header)
    if not compact:  # a compact plot has no per-study columns to head
        ax.text(at(7.2 + shift), span + 1, f"Estimate [{pct} CI]", ha="left", **header)
        ax.text(at(9.7 + shift), span + 1, "Weight", ha="right", **header)
    cell: dict[str, Any] = {"va": "center", "transform": text}
    if compact:
        where = _wrap_path(listed_in or "the analysis CSV", 24)
        ax.text(
            at(0.2),
            span / 2,
            f"one line per study,\nin the data's order;\n{where}\nlists each study's\nestimate and weight",
            ha="left",
            **cell,
        )
    for i in range(0 if compact else k_rows):
        no_events = double_zero[i] and np.isnan(estimate[i])
        ax.text(at(0.2), y[i], str(labels[i]), ha="left", **cell)
        interval = "no events in either arm" if no_events else _interval(estimate[i], low[i], high[i])
        ax.text(at(7.2 + shift), y[i], interval, ha="left", **cell)
        ax.text(
            at(9.7 + shift),
            y[i],
            "excluded" if np.isnan(weight[i]) else f"{weight[i]:.1f}%",
            ha="right",
            **cell,
        )
    bold: dict[str, Any] = {"fontweight": "bold", "va": "center", "transform": text}
    ax.text(at(0.2), pooled_y, model, ha="left", **bold)
    ax.text(at(7.2 + shift), pooled_y, _interval(centre, ci_low, ci_high), ha="left", **bold)
    ax.text(at(9.7 + shift), pooled_y, "100%", ha="right", **bold)
    if has_pi:
        ax.text(
            at(7.2 + shift),
            pooled_y - 0.75,
            f"PI [{_fmt(result['pi_low'])}, {_fmt(result['pi_high'])}]",
            ha="left",
            va="center",
            transform=text,
            fontsize="small",
        )
    ax.text(
        at(0.2),
        pooled_y - 0.75,
        _heterogeneity(result, method),
        ha="left",
        va="center",
        transform=text,
        fontsize="small",
    )
    for j, (header_text, column) in enumerate(arm_columns):
        x = at(2.8 + lead + 1.4 * (j + 1))
        ax.text(x, span + 1, header_text, ha="right", **header)
        for i in range(k_rows):
            ax.text(x, y[i], column[i], ha="right", **cell)
        total = _arm_total(column)
        if total:
            ax.text(x, pooled_y, total, ha="right", **bold)
    if domains is not None:
        from .robplots import JUDGEMENTS, ROB2_DOMAINS

        for j, domain in enumerate(domains.columns):
            x = at(10 + shift + 0.32 * (j + 0.5))
            ax.text(
                x,
                span + 1,
                ROB2_DOMAINS.get(domain, domain[:2]).replace("Overall", "O"),
                ha="center",
                **header,
            )
            for i in range(k_rows):
                colour, symbol = JUDGEMENTS[domains.iat[i, j]]
                ax.text(
                    x,
                    y[i],
                    symbol,
                    ha="center",
                    va="center",
                    transform=text,
                    fontsize="small",
                    fontweight="bold",
                    bbox={
                        "boxstyle": "circle,pad=0.25",
                        "facecolor": colour,
                        "edgecolor": "black",
                        "linewidth": 0.5,
                    },
                )
        names = "; ".join(f"{ROB2_DOMAINS.get(d, d[:2])}: {d}" for d in domains.columns)
        fig.text(at(0.2), 0.005, f"Risk of bias (RoB 2). {names}", fontsize="x-small", va="bottom")
    if title:
        fig.suptitle(title, y=1 - 0.12 / height, va="top")
    if path is not None:
        save_figure(fig, path)
    return fig


def funnel_plot(
    data: pd.DataFrame,
    measure: str | Options,
    method: str = "REML",
    *,
    level: float = 95.0,
    add: float | None = None,
    to: str = "only0",
    drop00: bool | None = None,
    title: str | None = None,
    path: str | os.PathLike[str] | None = None,
) -> ReviewFigure:
    """Funnel plot of one analysis on the analysis scale (yi against its standard error, as metafor's funnel),
    with the pooled estimate, its pseudo-confidence region and Egger's regression line and test (k >= 3).
    """
    opts = options(measure, method, level=level, add=add, to=to, drop00=drop00)
    info, level = measure_info(opts.measure), opts.level
    result = pool(data, opts).iloc[0]
    rows = study_weights(data, opts)
    rows = rows[np.isfinite(rows["yi"])]
    yi, sei = rows["yi"].to_numpy(), np.sqrt(rows["vi"].to_numpy())
    egger = egger_test(rows[["yi", "vi"]], "GEN").iloc[0]  # on exactly the points shown

    fig = ReviewFigure(figsize=(6.5, 5))
    ax = fig.add_subplot()
    theta, crit = result["theta"], _z(level)
    top = max(sei.max() * 1.08, 1e-9)
    se_grid = np.array([0.0, top])
    ax.fill_betweenx(se_grid, theta - crit * se_grid, theta + crit * se_grid, color="#ecf0f1", zorder=0)
    ax.plot(theta - crit * se_grid, se_grid, color="grey", linewidth=0.8, linestyle="--")
    ax.plot(theta + crit * se_grid, se_grid, color="grey", linewidth=0.8, linestyle="--")
    ax.axvline(theta, color="#c0392b", linewidth=1)
    ax.scatter(yi, sei, color="#34495e", zorder=3, label="studies")
    if np.isfinite(egger["pval"]):
        ax.plot(
            egger["limit_estimate"] + egger["bias"] * se_grid,
            se_grid,
            color="#2980b9",
            linewidth=1,
            label="Egger's regression",
        )
        note = f"Egger's test: t = {egger['stat']:.2f}, df = {egger['ddf']:.0f}, {_p(egger['pval'])}"
    else:
        note = "Egger's test needs k >= 3"
    ax.set_title(note, fontsize="small", loc="right")
    ax.set_ylim(top, 0)
    ax.set_xlabel(_ANALYSIS_SCALE.get(info.natural, "{}").format(info.label))
    ax.set_ylabel("Standard error")
    ax.legend(loc="upper left", fontsize="small", frameon=False)  # above the apex the corners stay empty
    if title:
        fig.suptitle(title)
    if path is not None:
        save_figure(fig, path)
    return fig


def baujat_plot(
    data: pd.DataFrame,
    measure: str | Options,
    method: str = "REML",
    test: str = "z",
    *,
    study: str | None = None,
    add: float | None = None,
    to: str = "only0",
    drop00: bool | None = None,
    title: str | None = None,
    path: str | os.PathLike[str] | None = None,
) -> ReviewFigure:
    """Baujat plot of one analysis (metafor's baujat): each study's contribution to the heterogeneity
    statistic (x) against its influence on the pooled estimate (y), both from review.diagnostics.influence.
    Studies far right or high drive heterogeneity or the result; each point carries its study label.
    """
    opts = options(measure, method, test, add=add, to=to, drop00=drop00)
    diag = influence(data, opts, study=study)
    fig = ReviewFigure(figsize=(6.5, 5))
    ax = fig.add_subplot()
    x, y = diag["baujat_x"].to_numpy(), diag["baujat_y"].to_numpy()
    ax.scatter(x, y, color="#34495e", zorder=3)
    for label, xi, yi in zip(diag["study"], x, y, strict=True):
        ax.annotate(str(label), (xi, yi), xytext=(4, 3), textcoords="offset points", fontsize="small")
    ax.set_xlabel("Squared Pearson residual (contribution to Q)")
    ax.set_ylabel("Influence on the pooled estimate")
    ax.set_title(_model(opts), fontsize="small", loc="right")
    ax.grid(color="#ecf0f1", zorder=0)
    if title:
        fig.suptitle(title)
    if path is not None:
        save_figure(fig, path)
    return fig


def cumulative_plot(
    data: pd.DataFrame,
    measure: str | Options,
    method: str = "REML",
    test: str = "z",
    *,
    order: str | None = None,
    study: str | None = None,
    level: float = 95.0,
    add: float | None = None,
    to: str = "only0",
    drop00: bool | None = None,
    title: str | None = None,
    path: str | os.PathLike[str] | None = None,
) -> ReviewFigure:
    """Cumulative forest plot (metafor's forest(cumul(...))): the pooled estimate and its interval as each
    study is added, in data order or by `order` (e.g. a year column), on the natural scale; the right column
    gives the estimate, interval and tau^2 (random effects) or I^2 of each step.
    """
    opts = options(measure, method, test, level=level, add=add, to=to, drop00=drop00)
    info = measure_info(opts.measure)
    steps = cumulative(data, opts, order=order, study=study)
    k_rows = len(steps)
    fig = ReviewFigure(figsize=(10, 0.32 * (k_rows + 4) + 0.8))
    ax = fig.add_axes((0.30, 0.10, 0.40, 0.82))
    log_scale = info.natural == "exp"
    if log_scale:
        ax.set_xscale("log")
    est, low, high = (steps[c].to_numpy(dtype=float) for c in ("estimate", "ci_low", "ci_high"))
    y = np.arange(k_rows, 0, -1, dtype=float)
    shown = np.isfinite(est)
    ax.hlines(y[shown], low[shown], high[shown], color="black", linewidth=1)
    ax.scatter(est[shown], y[shown], marker="D", s=30, color="#c0392b", zorder=3)
    if info.null is not None:
        ax.axvline(info.null, color="grey", linewidth=0.8, linestyle="--", zorder=1)
    if log_scale:
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(0.2, k_rows + 1.5)
    ax.set_yticks([])
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    ax.set_xlabel(f"{info.label}" + (" (log scale)" if log_scale else ""))
    text = blended_transform_factory(fig.transFigure, ax.transData)
    header: dict[str, Any] = {"fontweight": "bold", "va": "center", "transform": text}
    random = opts.method in RANDOM_EFFECTS
    ax.text(0.02, k_rows + 1, "Adding study", ha="left", **header)
    ax.text(0.72, k_rows + 1, f"Estimate [{opts.level:g}% CI]", ha="left", **header)
    ax.text(0.99, k_rows + 1, "\u03c4\u00b2" if random else "I\u00b2", ha="right", **header)
    cell: dict[str, Any] = {"va": "center", "transform": text}
    for i, row in enumerate(steps.itertuples(index=False)):
        ax.text(0.02, y[i], f"+ {row.added}", ha="left", **cell)
        ax.text(0.72, y[i], _interval(est[i], low[i], high[i]), ha="left", **cell)
        spread = f"{row.tau2:.3g}" if random else f"{row.i2:.0f}%"
        ax.text(0.99, y[i], spread, ha="right", **cell)
    ax.set_title(_model(opts), fontsize="small", loc="right")
    if title:
        fig.suptitle(title)
    if path is not None:
        save_figure(fig, path)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Save `fig` as PNG or SVG (chosen by the suffix), atomically: an earlier file survives a failed save."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ReviewError(f"{path}: save plots as .png or .svg.")
    with atomic_path(path) as tmp:
        if fmt == "png":
            Path(tmp).write_bytes(png_bytes(fig, dpi=150))
        else:
            fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight")
    return path


def png_bytes(fig: Figure, dpi: float = 150) -> bytes:
    """The figure as PNG, as `fig.savefig(..., format="png", dpi=dpi, bbox_inches="tight")` makes it but drawn
    once rather than twice: savefig lays out every text in a first pass to find the tight box, then draws the
    cropped figure in a second; here the figure is drawn once at full size and the tight box (the same one,
    with savefig's padding) is cut out of its pixels, to the nearest pixel. A forest plot of 100 studies has
    300 texts, and laying them out and drawing them glyph by glyph is most of its time. A figure drawing
    outside its own area (none of ours does) is saved the usual way, which widens the page to hold it."""
    import io

    import matplotlib
    from matplotlib import rcParams
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    canvas, original = fig.canvas, fig.dpi
    agg = FigureCanvasAgg(fig)  # becomes fig.canvas until restored
    try:
        fig.dpi = dpi
        agg.draw()
        pad = rcParams["savefig.pad_inches"]
        box = fig.get_tightbbox(agg.get_renderer()).padded(pad)
        width, height = fig.get_size_inches()
        inside = box.x0 >= 0 and box.y0 >= 0 and box.x1 <= width and box.y1 <= height
        if inside:
            pixels = np.asarray(agg.buffer_rgba())
            top, left = round(pixels.shape[0] - box.y1 * dpi), round(box.x0 * dpi)
            cut = pixels[top : top + int(box.height * dpi), left : left + int(box.width * dpi)]
    finally:
        fig.dpi = original
        fig.set_canvas(canvas)
    buffer = io.BytesIO()
    if inside:
        # an opaque figure (all of ours) is saved without its alpha channel, at zlib's fastest level: the same
        # pixels as savefig's, half the time to encode (a 100-study plot is 7 megapixels), a smaller file
        opaque = bool((cut[..., 3] == 255).all())
        picture = Image.fromarray(np.ascontiguousarray(cut[..., :3] if opaque else cut))
        info = PngInfo()  # what matplotlib writes into a PNG
        info.add_text("Software", f"Matplotlib version{matplotlib.__version__}, https://matplotlib.org/")
        picture.save(buffer, format="png", dpi=(dpi, dpi), pnginfo=info, compress_level=1)
    else:
        fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    return buffer.getvalue()


# --- helpers -----------------------------------------------------------------------------------------------


def _arm_columns(data: pd.DataFrame) -> list[tuple[str, list[str]]]:
    """RevMan's per-arm columns: (header, 'events/total' per row) for each arm the data has counts for."""
    arms = [("Experimental", "events_e", "n_e"), ("Control", "events_c", "n_c")]
    if not {"events_e", "n_e", "events_c", "n_c"} <= set(data.columns):
        arms = [("Events/N", "events", "n")]
    if not {arms[0][1], arms[0][2]} <= set(data.columns):
        raise ReviewError(
            "counts=True needs arm counts (events_e, n_e, events_c, n_c, or events, n); these data have "
            f"{', '.join(map(str, data.columns))}."
        )
    out = []
    for header, events, total in arms:
        cells = [
            f"{_arm_count(e)}/{_arm_count(n)}"
            for e, n in zip(data[events].tolist(), data[total].tolist(), strict=True)
        ]
        out.append((header if header == "Events/N" else f"{header}\nEvents/N", cells))
    return out


def _arm_count(x: Any) -> str:
    return "NA" if x is None or pd.isna(x) else f"{float(x):g}"


def _arm_total(cells: list[str]) -> str:
    """The column total RevMan prints on the pooled row (events/total summed over the studies shown)."""
    try:
        pairs = [tuple(float(v) for v in c.split("/")) for c in cells]
    except ValueError:
        return ""
    return f"{sum(p[0] for p in pairs):g}/{sum(p[1] for p in pairs):g}"


def _rob_columns(rob: pd.DataFrame, labels: Sequence[object]) -> pd.DataFrame:
    from .robplots import rob_cells

    return rob_cells(rob, [str(x) for x in labels])


def _widest(texts: Sequence[str], bold: bool = False) -> float:
    """The width in inches of the widest of `texts` in the default font (each distinct text measured once)."""
    from matplotlib.backends.backend_agg import RendererAgg
    from matplotlib.font_manager import FontProperties

    renderer = RendererAgg(1, 1, 72)  # at 72 dpi a pixel is a point
    prop = FontProperties(weight="bold" if bold else "normal")
    points = [renderer.get_text_width_height_descent(t, prop, ismath=False)[0] for t in set(texts) if t]
    return max(points, default=0.0) / 72


def _model(opts: Options) -> str:
    test = "" if opts.test == "z" else f", {opts.test}"
    return _MODEL.get(opts.method, f"Random-effects model ({opts.method}{test})")


def _labels(data: pd.DataFrame, study: str | None) -> Sequence[object]:
    if study is None:
        study = next((c for c in ("study_id", "study") if c in data.columns), None)
    if study is None:
        return [f"Study {i}" for i in range(1, len(data) + 1)]
    if study not in data.columns:
        raise ReviewError(f"study label column {study!r} is not in the data.")
    return data[study].tolist()


def _n_harmonic(data: pd.DataFrame, code: str) -> float | None:
    if code != "PFT":
        return None
    return float(len(data) / np.sum(1 / pd.to_numeric(data["n"]).to_numpy(dtype=float)))


def _z(level: float) -> float:
    from scipy import stats

    level = level * 100 if level < 1 else level
    return float(stats.norm.isf((100 - level) / 200))


def _fmt(x: float) -> str:
    return "NA" if not np.isfinite(x) else f"{x:.2f}" if abs(x) >= 0.01 or x == 0 else f"{x:.2g}"


def _interval(est: float, low: float, high: float) -> str:
    return f"{_fmt(est)} [{_fmt(low)}, {_fmt(high)}]"


def _p(p: float) -> str:
    """A p-value with its relation: "p = 0.012", "p < 0.0001"."""
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.4f}" if p < 0.001 else f"p = {p:.3f}"


def _wrap_path(path: str, width: int) -> str:
    """A file name on lines of about `width` characters, cut after a '/' or '_' (or a space), not inside a word."""
    lines = [""]
    for piece in re.split(r"(?<=[/_ ])", path):
        if lines[-1] and len(lines[-1]) + len(piece) > width:
            lines.append("")
        lines[-1] += piece
    return "\n".join(line.rstrip() for line in lines)


def _heterogeneity(result: pd.Series, method: str) -> str:
    if not np.isfinite(result["q"]):
        return "Heterogeneity: not estimable"
    line = (
        f"Heterogeneity: Q = {result['q']:,.2f}, df = {result['q_df']:,.0f}, {_p(result['q_pval'])}; "
        f"I\u00b2 = {result['i2']:.1f}%"
    )
    if method in RANDOM_EFFECTS:
        line += f", \u03c4\u00b2 = {result['tau2']:.4g}"
    return line


def safety_plot(
    safety: pd.DataFrame,
    title: str | None = None,
    path: str | os.PathLike[str] | None = None,
    max_rows: int = 60,
) -> ReviewFigure:
    """A one-page safety summary: one row per term and grade, the pooled estimate with its CI on a log scale
    (ratios) or a linear one (risk differences, proportions), with k and the events/N of each group.

    `safety` is a safety table (review.project's Pooled.safety, or rows of it for one analysis). Rows without
    an estimate are listed with the reason; past `max_rows` the most frequent terms are kept and the page says so.
    """
    if len(safety) == 0:
        raise ReviewError("the safety table has no rows to plot.")
    rows = safety.copy()
    if len(rows) > max_rows:
        size = rows["n_e"].fillna(0) + rows["n_c"].fillna(0) if "n_e" in rows else rows["n"].fillna(0)
        rows = rows.assign(_size=size).nlargest(max_rows, "_size").drop(columns="_size")
    rows = rows.sort_values(  # alphabetical whatever the case a term was typed in
        ["term", "grade"], kind="stable", key=lambda c: c.astype(str).str.casefold()
    ).reset_index(drop=True)
    measure = str(rows["measure"].dropna().iloc[0]) if rows["measure"].notna().any() else "RR"
    ratio = measure_info(measure).natural == "exp"
    n = len(rows)
    # A4 wide; as tall as the rows need, at most one A4 page (a few rows are not spread over a whole page)
    height = min(11.69, 1.7 + 0.26 * (n + 1))
    fig = ReviewFigure(figsize=(8.27, height))
    ax = fig.add_axes((0.42, 0.9 / height, 0.24, 1 - 1.6 / height))
    y = np.arange(n)[::-1].astype(float)
    est = pd.to_numeric(rows["estimate"], errors="coerce").to_numpy(float)
    low = pd.to_numeric(rows["ci_low"], errors="coerce").to_numpy(float)
    high = pd.to_numeric(rows["ci_high"], errors="coerce").to_numpy(float)
    ok = np.isfinite(est) & np.isfinite(low) & np.isfinite(high)
    ax.hlines(y[ok], low[ok], high[ok], color="black", linewidth=1)
    ax.plot(est[ok], y[ok], "s", color="black", markersize=4)
    null = measure_info(measure).null
    if null is not None:
        ax.axvline(null, color="grey", linestyle="--", linewidth=0.8)
    if ratio and ok.any():
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_ylim(-1, n)
    ax.set_yticks([])
    ax.set_xlabel(
        f"{measure_info(measure).label} ({measure}) with {rows['method'].dropna().iloc[0] if rows['method'].notna().any() else ''} 95% CI".replace(
            " with  ", " "
        )
    )
    text = blended_transform_factory(fig.transFigure, ax.transData)
    size = "x-small" if n > 30 else "small"
    two = "events_e" in rows and rows["events_e"].notna().any()
    header = ax.get_ylim()[1] - 0.2
    for x, label in (
        (0.02, "Term"),
        (0.27, "Grade"),
        (0.37, "k"),
        (0.68, "Estimate [CI]"),
        (0.85, "Events/N"),
    ):
        ax.text(x, header, label, transform=text, fontweight="bold", fontsize=size, va="bottom")
    for i, r in rows.iterrows():
        cell: dict[str, Any] = {"transform": text, "fontsize": size, "va": "center"}
        term = str(r["term"])
        ax.text(0.02, y[i], term if len(term) <= 34 else term[:33] + "\u2026", **cell)
        ax.text(0.27, y[i], "" if pd.isna(r["grade"]) else str(r["grade"])[:12], **cell)
        ax.text(0.37, y[i], "" if pd.isna(r["k"]) else f"{int(r['k'])}", **cell)
        none = not pd.isna(r["k"]) and int(r["k"]) == 0
        estimate = _interval(est[i], low[i], high[i]) if ok[i] else "not estimable"
        ax.text(0.68, y[i], "no usable counts" if none else estimate, **cell)
        counts = (
            f"{_count(r['events_e'])}/{_count(r['n_e'])} vs {_count(r['events_c'])}/{_count(r['n_c'])}"
            if two
            else f"{_count(r.get('events'))}/{_count(r.get('n'))}"
        )
        ax.text(0.85, y[i], "" if none else counts, **cell)
    shown = f" ({n} of {len(safety)} rows, the largest)" if len(safety) > n else ""
    fig.suptitle((title or "Safety summary") + shown, fontsize="medium")
    if path is not None:
        save_figure(fig, path)
    return fig


def _count(value: Any) -> str:
    return "-" if value is None or pd.isna(value) else f"{int(value)}"
