"""From consensus to meta-analysis-ready tables, every derived value with its formula and inputs.

Input: the form's tables as typed by reviewers (values, with "NR"/"NA" strings where codes stand), i.e.
`Consensus.tables` or `Extraction.as_typed()`, and the form whose `outcome:` blocks say what each table holds.
Output, one frame per kind of data (review/outcomes.py builds them, a loop over the outcome kinds):

- `arm_outcomes`: one row per study x arm x outcome x timepoint (x grade) with `events` and `total`, from the
  tables of kinds arm_counts, best_response (objective response and disease control derived from the categories,
  never typed), adverse_events (terms matched on the CTCAE term when given) and safety_summary;
- `continuous`: mean, SD and n per arm (SD from an SE, a CI or a p-value; mean and SD from a median);
- `hazard_ratios`: log HR and its SE from the CI, from O-E and V, or from a log-rank p-value.

Each derived number says how (`derivation`) and from what (`inputs`); a value that cannot be derived is left
empty and `note` says why. Nothing here guesses: a percentage that no whole count of its denominator gives is
refused, and a missing category makes a sum underivable rather than smaller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .derive import COUNT_POLICIES, Count, count_from, log_hr  # noqa: F401  (the public derivations)
from .outcomes import ARM_OUTCOME_COLUMNS, FRAMES, Settings, build, specs_of  # noqa: F401
from .words import counted


@dataclass
class AnalysisTables:
    """The meta-analysis-ready tables (`frames`, by name), and the form they were built with."""

    frames_: dict[str, pd.DataFrame]
    form: Any = None  # the forms.Form (Any: the functions taking it are untyped in `form`)
    source: Mapping[str, pd.DataFrame] = field(default_factory=dict)  # the consensus tables, for arm groups
    _groups: dict = field(default_factory=dict, repr=False)
    _attributes: pd.DataFrame | None = field(default=None, repr=False)  # analyses.study_attributes, kept

    @property
    def arm_outcomes(self) -> pd.DataFrame:
        return self.frames_["arm_outcomes"]

    @property
    def continuous(self) -> pd.DataFrame:
        return self.frames_["continuous"]

    @property
    def hazard_ratios(self) -> pd.DataFrame:
        return self.frames_["hazard_ratios"]

    def frames(self) -> dict[str, pd.DataFrame]:
        return dict(self.frames_)

    def groups(self, frame: str) -> dict[tuple, np.ndarray]:
        """Row positions of `frame` per (domain, outcome), computed once and kept: analyses pick their rows
        from these instead of each scanning the whole table."""
        if frame not in self._groups:
            data = self.frames_[frame]
            keys = [
                data["domain"].astype(object),
                data["outcome"].astype(object).where(data["outcome"].notna(), ""),
            ]
            self._groups[frame] = data.groupby(keys, sort=False).indices if len(data) else {}
        return self._groups[frame]

    def __repr__(self) -> str:
        return (
            "AnalysisTables("
            + ", ".join(f"{k}={counted(len(v), 'row')}" for k, v in self.frames_.items())
            + ")"
        )


def analysis_tables(
    tables: Mapping[str, pd.DataFrame],
    form=None,
    *,
    counts: str = "unique",
    settings: Settings | None = None,
) -> AnalysisTables:
    """Build the meta-analysis-ready tables from consensus (or one reviewer's) tables.

    `form` (default: the shipped form) says which table holds which outcome kind. `counts` is the policy for
    counts derived from percentages (see count_from); `settings` also chooses the median and CI methods.
    """
    from .forms import default_form_path, load_form

    if form is None:
        form = load_form(default_form_path())
    settings = settings or Settings(counts=counts)
    if settings.counts not in COUNT_POLICIES:
        raise ValueError(f"counts must be one of {COUNT_POLICIES}")
    frames = build(specs_of(form), tables, settings)
    assert set(frames) == set(FRAMES)
    return AnalysisTables(frames, form, tables)


def count_columns(data: pd.DataFrame) -> list[str]:
    """The columns an analysis's rows need filled to be pooled."""
    names = (
        "events_e",
        "n_e",
        "events_c",
        "n_c",
        "events",
        "n",
        "mean_e",
        "sd_e",
        "mean_c",
        "sd_c",
        "yi",
        "vi",
    )
    return [c for c in data.columns if c in names]  # the data's order: metafor's m1i, sd1i, n1i for means


def comparison_table(
    arm_outcomes: pd.DataFrame,
    arms: Mapping[str, tuple[str, str]],
    outcome: str,
    timepoint: str | None = None,
    grade: str | None = None,
    domain: str | None = None,
) -> pd.DataFrame:
    """events_e, n_e, events_c, n_c for one outcome, one row per study, from `arms` {study: (exp, control)}.

    A study whose counts cannot be had is kept with empty counts and a note, so nothing disappears silently.
    """
    sel = arm_outcomes[arm_outcomes["outcome"] == outcome]
    if timepoint is not None:
        sel = sel[sel["timepoint"] == timepoint]
    if grade is not None:
        sel = sel[sel["grade"] == grade]
    if domain is not None:
        sel = sel[sel["domain"] == domain]
    # Rows by (study, arm), found once: filtering the table again for every study made building a review's
    # analyses quadratic in the number of studies.
    at = sel.groupby(["study_id", "arm_id"], sort=False).indices
    none = np.array([], dtype=int)
    rows = []
    for study, (exp, ctl) in arms.items():
        row: dict = {"study_id": study, "experimental_arm": exp, "control_arm": ctl}
        notes = []
        for side, arm in (("e", exp), ("c", ctl)):
            found = sel.iloc[at.get((study, arm), none)]
            if len(found) != 1:
                where = f" at {timepoint}" if timepoint else ""
                notes.append(
                    f"arm {arm}: no row for {outcome}{where}"
                    if found.empty
                    else f"arm {arm}: {counted(len(found), 'row')} for {outcome}{where} (from "
                    f"{', '.join(sorted(set(found['domain'])))}); choose one with domain = ..."
                )
                row[f"events_{side}"], row[f"n_{side}"] = None, None
                continue
            rec = found.iloc[0]
            row[f"events_{side}"], row[f"n_{side}"] = rec["events"], rec["total"]
            if pd.isna(rec["events"]) or pd.isna(rec["total"]):
                notes.append(f"arm {arm}: {rec['note'] or 'count missing'}")
        row["note"] = "; ".join(dict.fromkeys(notes))  # a one-arm analysis passes its arm as both sides
        rows.append(row)
    cols = ["study_id", "experimental_arm", "control_arm", "events_e", "n_e", "events_c", "n_c", "note"]
    return pd.DataFrame(rows, columns=cols).astype(
        {c: "Int64" for c in ("events_e", "n_e", "events_c", "n_c")}
    )
