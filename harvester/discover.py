"""The search listing (`/search`): which documents the site lists, newest first.

The sync recognises a known document by its slug (the catalog's `record.slug`) and fetches
only unknown slugs, reading the Record ID from the page itself. Reading a listing page is
`harvester.site.listing`; deciding what is new is the sync's job.
"""

from __future__ import annotations

from harvester.site.listing import Listing, listing_url, parse_listing, slug_of

__all__ = ["Listing", "document_url", "listing_url", "parse_listing", "slug_of"]


def document_url(base_url: str, slug: str) -> str:
    return f"{base_url}/document/{slug}"
