"""Risk-of-bias figures (RoB 2) from the risk_of_bias table: robvis's traffic-light and summary plots, in
matplotlib.

Input: one row per study and domain with `study_id`, `domain` and `judgement` (low, some concerns, high), as
the form's risk_of_bias table holds them. Domains are shown in RoB 2's order as D1-D5 and Overall, with their
names in a legend; a domain a study has no judgement for is shown as "no information", never as low. Each
function returns the Figure (shown inline in a notebook) and saves it atomically when given `path`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from .errors import ReviewError
from .plots import ReviewFigure, save_figure

ROB2_DOMAINS = {  # RoB 2 (Sterne et al. 2019), in the tool's order, with robvis's short labels
    "randomisation process": "D1",
    "deviations from intended interventions": "D2",
    "missing outcome data": "D3",
    "measurement of the outcome": "D4",
    "selection of the reported result": "D5",
    "overall": "Overall",
}
JUDGEMENTS = {  # judgement -> (colour, symbol); robvis's RoB 2 palette
    "low": ("#02C100", "+"),
    "some concerns": ("#E2DF07", "-"),
    "high": ("#BF0000", "x"),
    "no information": ("#C8C8C8", "?"),
}
NO_INFORMATION = "no information"


def rob_matrix(rob: pd.DataFrame) -> pd.DataFrame:
    """Studies x domains of judgements (RoB 2 order; other domains after), 'no information' where none."""
    missing = {"study_id", "domain", "judgement"} - set(rob.columns)
    if missing:
        raise ReviewError(
            f"risk-of-bias data needs columns study_id, domain, judgement; missing {sorted(missing)}."
        )
    rows = rob.dropna(subset=["study_id", "domain"])
    judgement = rows["judgement"].astype(object).where(rows["judgement"].notna(), NO_INFORMATION)
    judgement = judgement.map(lambda j: str(j).strip().casefold())
    judgement = judgement.where(judgement.isin(JUDGEMENTS), NO_INFORMATION)  # NR, NA: no information
    frame = pd.DataFrame({"study_id": rows["study_id"].astype(str), "domain": rows["domain"].astype(str)})
    frame["judgement"] = judgement.to_numpy()
    if frame.duplicated(["study_id", "domain"]).any():
        dup = frame[frame.duplicated(["study_id", "domain"])].iloc[0]
        raise ReviewError(f"risk of bias: {dup['study_id']} has two judgements for {dup['domain']!r}.")
    domains = [d for d in ROB2_DOMAINS if d in set(frame["domain"])]
    domains += [d for d in dict.fromkeys(frame["domain"]) if d not in ROB2_DOMAINS]
    studies = list(dict.fromkeys(frame["study_id"]))
    matrix = frame.pivot(index="study_id", columns="domain", values="judgement")
    return matrix.reindex(index=studies, columns=domains).fillna(NO_INFORMATION)


# Past this many studies the traffic-light plot is compact (one page of COMPACT_ROWS rows' height).
COMPACT_STUDIES, COMPACT_ROWS = 100, 30


def _short(domain: str, i: int) -> str:
    return ROB2_DOMAINS.get(domain, f"X{i + 1}")


def traffic_light_plot(
    rob: pd.DataFrame, title: str | None = None, path: str | os.PathLike[str] | None = None
) -> ReviewFigure:
    """robvis's traffic-light plot: a coloured, symbol-marked circle per study and domain.

    Past `COMPACT_STUDIES` studies it is compact: one page, a coloured cell per study and domain without
    symbols or study labels, rows sorted by judgement (thousands of rows would not be read; revman/risk-of-bias.csv
    lists every study)."""
    matrix = rob_matrix(rob)
    if matrix.empty:
        raise ReviewError("risk of bias: no judgements to plot (the risk_of_bias table is empty).")
    n_studies, n_domains = matrix.shape
    compact = n_studies > COMPACT_STUDIES
    rows = COMPACT_ROWS if compact else n_studies
    fig = ReviewFigure(figsize=(1.6 + 0.75 * n_domains + 2.2, 1.4 + 0.45 * rows + 0.25 * n_domains))
    legend_h = 0.25 * (n_domains + 1) + 0.4
    height = fig.get_figheight()
    ax = fig.add_axes(
        (
            2.2 / fig.get_figwidth(),
            legend_h / height,
            0.75 * n_domains / fig.get_figwidth(),
            (height - legend_h - (0.95 if compact else 0.6)) / height,  # compact cells reach the tick labels
        )
    )
    codes = {j: k for k, j in enumerate(JUDGEMENTS)}
    if compact:
        # sorted by the overall judgement, then domain by domain: bands of colour, where rows of a pixel or less
        # in the data's order blend into colours of no judgement once the picture is scaled
        judged = matrix.map(codes.get)
        by = [c for c in ("overall",) if c in judged.columns] + [c for c in judged.columns if c != "overall"]
        grid = judged.sort_values(by, kind="stable").to_numpy(dtype=float)
        colours = ListedColormap([JUDGEMENTS[j][0] for j in JUDGEMENTS])
        ax.imshow(
            grid,
            cmap=colours,
            vmin=-0.5,
            vmax=len(JUDGEMENTS) - 0.5,
            aspect="auto",
            interpolation="nearest",
            extent=(-0.5, n_domains - 0.5, n_studies - 0.5, -0.5),
        )
    else:  # one collection per judgement (a scatter per circle is thousands of artists)
        for judgement, (colour, _) in JUDGEMENTS.items():
            at = np.argwhere(matrix.to_numpy() == judgement)
            if len(at):
                ax.scatter(
                    at[:, 1], at[:, 0], s=520, color=colour, edgecolor="black", linewidth=0.5, zorder=3
                )
        for i in range(n_studies):
            for j in range(n_domains):
                symbol = JUDGEMENTS[matrix.iat[i, j]][1]
                ax.text(j, i, symbol, ha="center", va="center", fontsize=12, fontweight="bold", zorder=4)
    ax.set_xlim(-0.6, n_domains - 0.4)
    ax.set_ylim(n_studies - 0.4, -0.6)
    ax.set_xticks(range(n_domains), [_short(d, j) for j, d in enumerate(matrix.columns)])
    ax.xaxis.tick_top()
    if compact:
        ax.set_yticks([])
        ax.set_ylabel(
            f"{n_studies:,} studies, one row each, sorted by judgement (revman/risk-of-bias.csv lists them)"
        )
    else:
        ax.set_yticks(range(n_studies), list(matrix.index))
    ax.tick_params(length=0)
    if not compact:  # grid lines would cut through the compact cells
        ax.grid(True, color="#dddddd", zorder=0)
    for side in ax.spines.values():
        side.set_visible(False)
    names = [
        f"{_short(d, j)}: {d[0].upper() + d[1:]}" for j, d in enumerate(matrix.columns) if d != "overall"
    ]
    fig.text(0.02, (legend_h - 0.15) / height, "Domains:\n" + "\n".join(names), va="top", fontsize="small")
    used = [j for j in JUDGEMENTS if (matrix == j).any().any()]
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            markersize=11,
            markerfacecolor=JUDGEMENTS[j][0],
            markeredgecolor="black",
            label=f"{JUDGEMENTS[j][1]}  {j[0].upper() + j[1:]}",
        )
        for j in used
    ]
    fig.legend(
        handles=handles,
        title="Judgement",
        loc="upper right",
        bbox_to_anchor=(0.98, (legend_h - 0.05) / height),
        fontsize="small",
        frameon=False,
    )
    fig.suptitle(title or "Risk of bias (RoB 2)")
    if path is not None:
        save_figure(fig, path)
    return fig


def summary_plot(
    rob: pd.DataFrame,
    weights: Mapping[str, float] | None = None,
    title: str | None = None,
    path: str | os.PathLike[str] | None = None,
) -> ReviewFigure:
    """robvis's summary plot: per domain, the share of studies (or, with `weights`, of the total weight, e.g.
    patients randomised) at each judgement, as stacked horizontal bars."""
    matrix = rob_matrix(rob)
    if matrix.empty:
        raise ReviewError("risk of bias: no judgements to plot (the risk_of_bias table is empty).")
    if weights is not None:
        w = np.array([float(weights.get(s, np.nan)) for s in matrix.index])
        unknown = [s for s, x in zip(matrix.index, w, strict=True) if not np.isfinite(x) or x < 0]
        if unknown:
            raise ReviewError(
                f"risk-of-bias summary: no weight for {', '.join(unknown)}; give every study one."
            )
    else:
        w = np.ones(len(matrix))
    shares = pd.DataFrame(
        {
            j: [(w * (matrix[d] == j).to_numpy()).sum() / w.sum() * 100 for d in matrix.columns]
            for j in JUDGEMENTS
        },
        index=matrix.columns,
    )
    n = len(matrix.columns)
    fig = ReviewFigure(figsize=(9, 1.2 + 0.5 * n))
    ax = fig.add_axes((0.36, 0.28, 0.60, 0.60))
    y = np.arange(n)[::-1]
    left = np.zeros(n)
    for j, (colour, _) in JUDGEMENTS.items():
        values = shares[j].to_numpy()
        if not values.any():
            continue
        ax.barh(
            y, values, left=left, color=colour, edgecolor="black", linewidth=0.4, label=j[0].upper() + j[1:]
        )
        for yy, lo, v in zip(y, left, values, strict=True):
            if v >= 8:
                ax.text(lo + v / 2, yy, f"{v:.0f}%", ha="center", va="center", fontsize="small")
        left += values
    ax.set_yticks(y, [d[0].upper() + d[1:] for d in matrix.columns])
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of " + ("total weight" if weights is not None else "studies"))
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.legend(
        loc="lower center",
        ncol=4,
        fontsize="small",
        frameon=False,
        handles=[
            Patch(facecolor=JUDGEMENTS[j][0], edgecolor="black", label=j[0].upper() + j[1:])
            for j in JUDGEMENTS
            if shares[j].any()
        ],
    )
    label = "weighted" if weights is not None else "unweighted"
    fig.suptitle(title or f"Risk of bias (RoB 2), {len(matrix)} studies, {label}")
    if path is not None:
        save_figure(fig, path)
    return fig


def rob_cells(rob: pd.DataFrame, studies: list[str]) -> pd.DataFrame:
    """Judgements of `studies` (rows, in that order) per domain, for the forest plot's risk-of-bias columns."""
    matrix = rob_matrix(rob)
    return matrix.reindex(index=[str(s) for s in studies]).fillna(NO_INFORMATION)
