"""Counted nouns in messages: singular for one, plural otherwise."""

from review.issues import ERROR, WARNING, Issue, Report
from review.words import counted


def test_counted_nouns():
    assert [counted(n, "error") for n in (0, 1, 2)] == ["0 errors", "1 error", "2 errors"]
    assert counted(1, "analysis") == "1 analysis" and counted(3, "analysis") == "3 analyses"
    assert counted(1, "discrepancy") == "1 discrepancy" and counted(2, "study") == "2 studies"


def test_report_summary_says_one_error():
    report = Report([Issue(ERROR, "not-a-number", "x"), Issue(WARNING, "extra-spaces", "y")])
    assert "1 error, 1 warning" in report.summary()
