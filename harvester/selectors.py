"""Every CSS selector and label the page parser relies on, in one table.

When the site's markup changes, this is the file to edit. The choices follow
../shared/wilson-page-anatomy.md: only the classes and labels that working scrapers
of the live site relied on, never Drupal field wrappers (shown not to exist) and
never one exact nesting, since the real markup differs from any reconstruction.
"""

from __future__ import annotations

from typing import Final

SELECTORS: Final[dict[str, str]] = {
    # The document's own title; a bare `.title` is NOT the title (the header has an empty one).
    "title": "h1.title",
    "title_any": "h1",
    # The block that holds the title, with the date, credit line, text tabs and summary.
    "content_block": ".content-block",
    "date": ".date",
    "credit": ".donated",
    "tabs": "#documentTabs",
    "tab_pane": ".tab-pane",
    "summary": ".text-block",
    # Pill sections: a heading with class `title`, pills in its next sibling or its `.pill-block`.
    "section_heading": "h2.title, h3.title, h4.title",
    "pill_block": ".pill-block",
    "pill": ".pill",
    "pill_name": ".name",
    # Document Information: one block per field, an h3.sub-title label and a value.
    "info_block": ".information-block",
    "info_label": ".sub-title",
    "info_text": ".text",
    # Scan and download.
    "pdf_preview": ".pdf-preview",
    "download_link": "a[href]",
    # Head and settings.
    "drupal_settings": 'script[data-drupal-selector="drupal-settings-json"]',
    "canonical": 'link[rel="canonical"]',
    "shortlink": 'link[rel="shortlink"]',
    # Cloudflare's e-mail obfuscation in the Rights block.
    "cf_email": "[data-cfemail]",
    # Regions that are never the document (teasers, menus, related blocks).
    "not_document": "header, footer, nav, aside",
}

# Pill section headings (normalized: case-folded, trailing colon and extra spaces removed)
# -> record field. Matched exactly; "document contributor" is matched as a prefix,
# because only that substring is attested (the full heading is inferred).
SECTION_HEADINGS: Final[dict[str, str]] = {
    "author(s)": "authors",
    "authors": "authors",
    "author": "authors",
    "associated people & organizations": "people_and_organizations",
    "associated people and organizations": "people_and_organizations",
    "associated places": "places",
    "subjects discussed": "subjects",
    "associated topics": "subjects",  # the staging hosts' wording
}
SECTION_PREFIXES: Final[dict[str, str]] = {
    "document contributor": "contributors",
}

# Document Information labels, matched exactly after trimming ("Language" is a
# substring of other labels, so substring matching would be wrong).
INFO_LABELS: Final[dict[str, str]] = {
    "source": "source",
    "original archive": "original_archives",
    "original archives": "original_archives",
    "rights": "rights",
    "original uploaded date": "uploaded",
    "type": "types",
    "language": "original_languages",
    "languages": "original_languages",
    "record id": "record_id",
    "original classification": "classification",
    "donors": "donors",
    "donor": "donors",
}

# Signs of a bot-protection challenge instead of a page (Cloudflare and similar).
CHALLENGE_TITLES: Final[tuple[str, ...]] = ("just a moment", "attention required", "checking your browser")
CHALLENGE_MARKERS: Final[tuple[str, ...]] = ("/cdn-cgi/challenge-platform/", "cf-chl-", "_cf_chl_opt")
# A protection service's denial (not a challenge): Cloudflare's 1020 "Access denied" and 1015
# "You are being rate limited", Akamai, Imperva (Incapsula), Sucuri, DDoS-Guard. Known by the
# service's own headers or Server name, or by wording only such a service's error page uses
# (not Cloudflare's generic "cf-error-details", which its 5xx pages for a failing origin share).
PROTECTION_HEADERS: Final[dict[str, str]] = {"cf-ray": "Cloudflare", "cf-mitigated": "Cloudflare",
                                              "x-iinfo": "Imperva", "x-sucuri-id": "Sucuri",
                                              "x-sucuri-block": "Sucuri", "x-ddos-protection": "DDoS-Guard"}
PROTECTION_SERVERS: Final[dict[str, str]] = {"cloudflare": "Cloudflare", "akamaighost": "Akamai",
                                              "ddos-guard": "DDoS-Guard", "sucuri": "Sucuri"}
PROTECTION_MARKERS: Final[tuple[str, ...]] = (
    "error code: 1020", "error code: 1015", "error code: 1010", "error code: 1012", "error code: 1006",
    "error 1020", "error 1015", "you are being rate limited", "sorry, you have been blocked",
    "incapsula incident id", "request unsuccessful. incapsula", "sucuri website firewall",
    "access denied - sucuri", "ddos-guard", "reference&#32;&#35;",
)

# Tab labels: which kind of text a tab holds.
TEXT_KINDS: Final[dict[str, str]] = {
    "translation": "translation",
    "transcript": "transcript",
    "transcription": "transcript",
    "original": "original",
}

# Search listing (/search?page=N), anatomy §2. Tried in order; the first selector that
# yields any /document/ link wins. The generic last resort is scoped to the main content
# (never header, footer, nav or aside, whose links are menus, not results).
LISTING_SELECTORS: Final[dict[str, str]] = {
    # Each result is a `td.document.contextual-region`; `td.document` alone covers it and
    # survives the contextual-region class (a Drupal editing aid) being dropped.
    "result_link": "td.document a[href]",
    "views_row_link": ".views-row a[href*='/document/']",
    "any_document_link": "a[href*='/document/']",
}
# Where the generic last resort looks: the first of these that exists, else <body>.
LISTING_MAIN: Final[str] = "main, #main-content, [role='main']"
# The "1 - 10 of 43" counter; its element is unknown, so it is read from the page text.
LISTING_COUNTER: Final[str] = r"(\d[\d,]*)\s*-\s*(\d[\d,]*)\s+of\s+(\d[\d,]*)"
