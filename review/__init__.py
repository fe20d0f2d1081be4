"""review: systematic-review data extraction, validation, dual extraction and meta-analysis."""

__version__ = "0.1.0"
