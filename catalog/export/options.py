"""Settings a format's output depends on (config `[export]`), apart from the serializers.

Stdlib only: the format registry, the export command and stored-rendering keys read these
without importing the serializer modules (catalog.export.common imports the language
tables and the record model); `catalog.export.common` re-exports both names.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FormatOptions:
    """Settings a format's output depends on, beyond the record (config `[export]`)."""

    # A rights-statement URI (rightsstatements.org or Creative Commons) printed beside the
    # archive's rights text; aggregators (DPLA, Europeana) want one machine-readable URI.
    rights_uri: str | None = None
    # MARC 524 (preferred citation) is the house citation, one citeproc-py rendering per
    # record: ~90 % of a marcxml export's time. False leaves 524 out for big catalogue loads.
    marc_citation: bool = True


DEFAULT_OPTIONS = FormatOptions()
