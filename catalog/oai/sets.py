"""OAI-PMH sets: the setSpec scheme and the membership table behind it.

setSpec scheme (documented in docs/oai-pmh.md; setSpecs are public identifiers, so
the mapping below must stay stable):

    type                      every record with a document type
    type:<slug>               Type, e.g. type:cable
    language                  every record with an original language
    language:<code>           original language, ISO 639-3 (language:rus); a slug of
                              the name when the language has no code
    archive                   every record with an original archive
    archive:<slug>            original archive
    subject                   every record with a subject
    subject:<slug>            subject, e.g. subject:korean-war-1950-1953

<slug> is the value folded to ASCII, lower-cased, runs of other characters turned
into "-". When folding loses letters (non-Latin scripts, e.g. "Холодная война") or the
slug is cut at 60 characters, "-" and 8 hex digits of the SHA-1 of the case-folded
value are appended, so different values never share a set by accident while values
that differ only in case, accents or punctuation do.

Membership is not kept here: the sets are the OAI families of the catalog's facet
index (`catalog.index`), which every store backend writes inside the unit of work that
writes the record. A `set=` harvest is then an indexed keyset range like an unfiltered
one. This module keeps the scheme: which facet families are sets, and their names.
"""

from __future__ import annotations

from dataclasses import dataclass

from catalog.index import FAMILIES, PARENT_FAMILIES, facets, slug
from catalog.model import CatalogRecord

__all__ = ["PARENTS", "OaiSet", "is_set_spec", "record_sets", "slug"]

# Top-level sets: (setSpec, setName). Each value set is a child of one of these.
PARENTS: dict[str, str] = {family: FAMILIES[family] for family in PARENT_FAMILIES}


@dataclass(frozen=True)
class OaiSet:
    spec: str
    name: str


def is_set_spec(spec: str) -> bool:
    """A setSpec of this scheme (other facet families are not offered as OAI sets)."""
    return spec.split(":", 1)[0] in PARENTS


def record_sets(record: CatalogRecord) -> list[OaiSet]:
    """Every set `record` belongs to, parents included, in a stable order."""
    return [OaiSet(f.key, f.label) for f in facets(record) if f.family in PARENTS]
