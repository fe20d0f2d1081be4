"""Published datasets shared by several test files (copied from R's metafor 3.8-1)."""

from __future__ import annotations

import pandas as pd

# dat.bcg: events_e = tpos, n_e = tpos + tneg, events_c = cpos, n_c = cpos + cneg
BCG = pd.DataFrame(
    [
        ("Aronson", 4, 123, 11, 139, "random"),
        ("Ferguson & Simes", 6, 306, 29, 303, "random"),
        ("Rosenthal et al", 3, 231, 11, 220, "random"),
        ("Hart & Sutherland", 62, 13598, 248, 12867, "random"),
        ("Frimodt-Moller et al", 33, 5069, 47, 5808, "alternate"),
        ("Stein & Aronson", 180, 1541, 372, 1451, "alternate"),
        ("Vandiviere et al", 8, 2545, 10, 629, "random"),
        ("TPT Madras", 505, 88391, 499, 88391, "random"),
        ("Coetzee & Berjak", 29, 7499, 45, 7277, "random"),
        ("Rosenthal et al", 17, 1716, 65, 1665, "systematic"),
        ("Comstock et al", 186, 50634, 141, 27338, "systematic"),
        ("Comstock & Webster", 5, 2498, 3, 2341, "systematic"),
        ("Comstock et al", 27, 16913, 29, 17854, "systematic"),
    ],
    columns=["study", "events_e", "n_e", "events_c", "n_c", "alloc"],
)
