"""OAI-PMH 2.0 for the catalog: a live repository (`app`) and a Static Repository (`static`).

Set membership is the store's facet index, written with every record by every writer.
See docs/oai-pmh.md for what comes from the `oaipmh` package and what is ours.
"""

from __future__ import annotations
