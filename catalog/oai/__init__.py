"""OAI-PMH 2.0 for the catalog: a live repository (`app`) and a Static Repository (`static`).

Importing this package registers the set-membership write hook on `SQLiteStore`, so
every process that serves or writes through it keeps `oai_set_member` current.
See docs/oai-pmh.md for what comes from the `oaipmh` package and what is ours.
"""

from __future__ import annotations

from catalog.oai import sets as _sets  # noqa: F401  (registers the write hook)
