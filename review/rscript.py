"""The R files of a run: per analysis a CSV in metafor's column names and one in meta's, and analyses.R, which
pools each again with metafor (rma, rma.mh, rma.peto) and writes pooled_metafor.csv to set beside pooled.csv.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from .csvs import write_csv
from .files import write_text
from .tables import count_columns

if TYPE_CHECKING:  # imported for annotations only: export sits at the end of the pipeline
    from .project import Analysis

# metafor's and meta's argument names
_METAFOR = {
    "events_e": "ai",
    "n_e": "n1i",
    "events_c": "ci",
    "n_c": "n2i",
    "events": "xi",
    "n": "ni",
    "mean_e": "m1i",
    "sd_e": "sd1i",
    "mean_c": "m2i",
    "sd_c": "sd2i",
    "yi": "yi",
    "vi": "vi",
}
_META = {
    "events_e": "event.e",
    "n_e": "n.e",
    "events_c": "event.c",
    "n_c": "n.c",
    "events": "event",
    "n": "n",
    "mean_e": "mean.e",
    "sd_e": "sd.e",
    "mean_c": "mean.c",
    "sd_c": "sd.c",
}


# predict()'s back-transformation to the natural scale per measure: metafor's transf functions, as pooled.csv
_R_TRANSF = {
    "OR": ", transf=exp",
    "RR": ", transf=exp",
    "HR": ", transf=exp",
    "RD": "",
    "PR": "",
    "PLO": ", transf=transf.ilogit",
    "PAS": ", transf=transf.iarcsin",
    "PFT": ", transf=transf.ipft.hm, targs=list(ni=dat$ni)",
    "PETO": ", transf=exp",
    "MD": "",
    "SMD": "",
    "GEN": "",
}


def r_exports(analyses: list[Analysis], datasets: Mapping[str, pd.DataFrame], folder: Path) -> list[Path]:
    """Per analysis a metafor CSV and a meta CSV, plus analyses.R that pools them the way the toolkit did."""
    written, script = (
        [],
        [
            "# Written by review: pools each analysis with metafor exactly as the toolkit did.",
            "# Run from this folder: Rscript analyses.R (writes pooled_metafor.csv to compare with pooled.csv)",
            "library(metafor)",
            "results <- list()",
            "summarise <- function(name, res, pred) {",
            "  field <- function(x) if (is.null(x)) NA_real_ else as.numeric(x)[1]",
            "  data.frame(analysis = name, k = res$k, theta = as.numeric(res$beta)[1], se = res$se,",
            "             estimate = field(pred$pred), ci_low = field(pred$ci.lb), ci_high = field(pred$ci.ub),",
            "             pi_low = field(pred$pi.lb), pi_high = field(pred$pi.ub), tau2 = field(res$tau2),",
            "             i2 = field(res$I2))",
            "}",
        ],
    )
    for a in analyses:
        data = datasets[a.slug]
        counts = count_columns(data)
        usable = data.dropna(subset=counts)
        if len(usable) == 0:  # nothing to pool: pooled.csv says why
            continue
        groups = [] if a.outcome is not None else ["outcome", "grade", "timepoint"]
        metafor = usable.rename(columns=_METAFOR)[[*groups, "study_id", *[_METAFOR[c] for c in counts]]]
        metafor = metafor.rename(columns={"outcome": "term"})
        if a.measure == "HR":  # meta's metagen takes the log HR and its standard error
            meta = usable.assign(seTE=usable["vi"] ** 0.5).rename(
                columns={"study_id": "studlab", "yi": "TE"}
            )[["studlab", "TE", "seTE"]]
        else:
            meta = usable.rename(columns={**_META, "study_id": "studlab"})[
                [*groups, "studlab", *[_META[c] for c in counts]]
            ].rename(columns={"outcome": "term"})
        written.append(
            write_csv(metafor.rename(columns={"study_id": "study"}), folder / f"{a.slug}_metafor.csv")
        )
        written.append(write_csv(meta, folder / f"{a.slug}_meta.csv"))
        if usable.empty:
            script += ["\n# " + " ".join(a.name.split()) + ": no study with usable data, nothing to pool"]
            continue
        args = ", ".join(f"{v}={v}" for v in (_METAFOR[c] for c in counts))
        call = "rma.mh" if a.method == "MH" else "rma.peto" if a.method == "PETO" else "rma"
        extra = "" if call != "rma" else f', method="{a.method}", test="{a.test}"'
        measure = "" if call == "rma.peto" or a.measure == "HR" else f'measure="{a.measure}", '
        options = "".join(
            f", {k}={v}"
            for k, v in (
                ("level", f"{a.level:g}" if a.level != 95 else None),
                ("add", f"{a.add:g}" if a.add is not None else None),
                ("to", f'"{a.to}"' if a.to != "only0" else None),
                ("drop00", str(a.drop00).upper() if a.drop00 is not None else None),
            )
            if v is not None
        )
        if groups:  # every term x grade: one fit per group, as the toolkit pooled them (safety.csv)
            script += [
                f"\n# {a.name}: one analysis per term x grade",
                f'dat <- read.csv("{a.slug}_metafor.csv", na.strings = "")',
                'dat$timepoint[is.na(dat$timepoint)] <- ""; dat$grade[is.na(dat$grade)] <- ""',
                "for (d in split(dat, list(dat$term, dat$grade, dat$timepoint), drop = TRUE)) {",
                f"  res <- {call}({measure}{args}, data=d, slab=study{extra}{options})",
                '  cat(d$term[1], d$grade[1], d$timepoint[1], ": k =", res$k, " estimate", coef(res), " se", res$se, "\\n")',
                "}",
            ]
            continue
        script += [
            "\n# " + " ".join(a.name.split()),  # one comment line: a newline in a name must not start R code
            f'dat <- read.csv("{a.slug}_metafor.csv")',
            f"res <- {call}({measure}{args}, data=dat, slab=study{extra}{options})",
            "print(res)",
            f"pred <- predict(res{_R_TRANSF[a.measure]})  # on the natural scale, as pooled.csv",
            "print(pred)",
            f"results[[length(results) + 1]] <- summarise({json.dumps(a.name)}, res, pred)",
        ]
    script += [
        "\n# Every analysis in one table with pooled.csv's columns and scale",
        "if (length(results)) {",
        "  results <- do.call(rbind, results)",
        "  print(results, digits = 10)",
        '  write.csv(results, "pooled_metafor.csv", row.names = FALSE)',
        "}",
    ]
    written.append(folder / "analyses.R")
    write_text(folder / "analyses.R", "\n".join(script) + "\n")
    return written
