"""Counted nouns for messages: "1 error", "2 errors", "1 analysis", "3 analyses"."""

from __future__ import annotations

# Plurals that are not the noun plus "s".
_IRREGULAR = {"analysis": "analyses", "study": "studies", "discrepancy": "discrepancies", "entry": "entries"}


def counted(count: int, noun: str, many: str | None = None) -> str:
    """`count` with `noun` in the right number: counted(1, "error") == "1 error"."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {many or _IRREGULAR.get(noun) or noun + 's'}"
