"""Every CSS selector, label and markup rule the page parser relies on, in one table.

When the site's markup changes, this is the file to edit. The choices follow
../shared/wilson-page-anatomy.md and the live-site facts in docs/site.md: the classes and
labels that working scrapers of the live site relied on, never one exact nesting.

Each field has an ORDERED list of alternatives: the parser tries them in turn and records
the one that matched (in the record's provenance and in every run report), so a page where
"subjects came from fallback 2" is visible long before a field goes missing. An
alternative is a CSS selector and the scope it is looked for in:

- "block":  the `.content-block` that holds the document's title (skipped when there is none);
- "region": the document's own region (its `article`, else `main`…), exclusion zones left out;
- "item":   one Document Information block (for labels and values);
- "page":   the whole page (the head, settings), exclusion zones left out for the title.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

Scope = Literal["block", "region", "item", "page"]


@dataclass(frozen=True)
class Alt:
    """One way of finding a field: a CSS selector in a scope. `name` is what provenance records."""

    css: str
    scope: Scope
    note: str = ""

    @property
    def name(self) -> str:
        return f"{self.css}@{self.scope}"


# -- the document's title, block and region ---------------------------------------------------
# A bare `.title` is NOT the title (the header has an empty one); the first h1.title outside
# the exclusion zones is.
TITLE: Final = (Alt("h1.title", "page"), Alt("h1", "page", "no h1.title: a plain h1"))
# The block that holds the title, with the date, credit line, text tabs and summary.
CONTENT_BLOCK: Final = ".content-block"
# The document's region: the nearest ancestor of the title matching the first of these
# (in order), else <body>.
REGION: Final = ("article", "main", "[role='main']")

# -- where fields may NOT come from -----------------------------------------------------------
# Exclusion zones: page furniture, other documents' teasers (Related Documents, Popular
# Documents), person/region cards and cookie banners. An element inside one (or one itself)
# never gives a field, whatever classes it reuses (.date, .title, .text-block, .pill).
EXCLUDE: Final = (
    "header, footer, nav, aside, "
    ".related-documents, .popular-documents, .teaser, .node--view-mode-teaser, "
    ".person-card, .region-card, .card--person, .card--region, "
    ".cookie-banner, #sliding-popup, .eu-cookie-compliance-banner, [role='dialog']"
)
# A heading with one of these texts (case-folded, colon trimmed) opens an exclusion zone too:
# its parent element, or (when the parent also holds the title) everything after it.
EXCLUDE_HEADINGS_CSS: Final = "h2, h3, h4, .block-title"
EXCLUDE_HEADINGS: Final = frozenset({"related documents", "popular documents", "more documents", "related content"})

# -- fields of the title block, in order of preference -----------------------------------------
FIELDS: Final[dict[str, tuple[Alt, ...]]] = {
    "date": (Alt(".date", "block"), Alt("time[datetime]", "block"), Alt(".date", "region"),
             Alt("time[datetime]", "region")),
    "credit": (Alt(".donated", "block"), Alt(".donated", "region")),
    "summary": (Alt(".text-block", "block"), Alt(".text-block", "region")),
    "tab_panes": (Alt(".tab-pane", "block"), Alt(".tab-pane", "region")),
    # A text block without panes: #documentTabs itself may be the only holder of the text.
    "tab_holder": (Alt("#documentTabs", "block"), Alt("#documentTabs", "region")),
    "pdf": (Alt(".pdf-preview", "region"),),
    "download": (Alt("a[href]", "region"),),
    # Pill sections: a heading with class `title` (h2/h3/h4); a plain heading as the fallback.
    "section_heading": (Alt("h2.title, h3.title, h4.title", "region"), Alt("h2, h3, h4", "region")),
    # Document Information: one block per field.
    "info_block": (Alt(".information-block", "region"),),
    "info_label": (Alt(".sub-title", "item"), Alt("h3, h4", "item")),
    # The value of an information block, when it has no pills; after these, the block's
    # text minus its label ("label-minus-text", which works for any wrapper).
    "info_text": (Alt(".text", "item"), Alt(".field__item", "item")),
}
# The attribute a scan's URL sits in, in order.
PDF_ATTRS: Final = ("data", "src", "href")
# Tab labels: the nav item whose attribute points at the pane (Bootstrap 5, Bootstrap 4, plain
# links: "#<pane id>"), then ARIA (aria-controls="<pane id>"), then the pane's aria-labelledby.
TAB_LABEL_ATTRS: Final = ("data-bs-target", "data-target", "href")
TAB_LABEL_ARIA: Final = "aria-controls"
TAB_LABELLEDBY: Final = "aria-labelledby"
# Where a section's pills are, after its heading, in order.
SECTION_PILLS: Final = ("next-sibling", "pill-block")
PILL_BLOCK: Final = ".pill-block"
# A pill and its name: `.pill .name span` (people, places, archives), else `.name`
# (subjects, languages), else the pill's own text. Subject pills also carry `.pill-subject`.
PILL: Final = ".pill"
PILL_NAME: Final = ".name"
PILL_NAME_INNER: Final = "span"  # a tag name, the first inside `.name` (not an indexed selector)

# -- identifiers in the head and settings --------------------------------------------------------
DRUPAL_SETTINGS: Final = 'script[data-drupal-selector="drupal-settings-json"]'
CANONICAL: Final = 'link[rel="canonical"]'
SHORTLINK: Final = 'link[rel="shortlink"]'
# The node id: settings' path.currentPath, else the shortlink, else the download link.
NODE_ID_SOURCES: Final = ("drupal-settings", "shortlink", "download-link")
SETTINGS_NODE_PREFIX: Final = "node/"  # a currentPath of anything else (search, taxonomy/term/…) is not a document
NODE_PATH: Final = re.compile(r"^node/([0-9]{1,18})$")  # ASCII digits, at most 18 (an SQLite INTEGER)
SHORTLINK_PATH: Final = re.compile(r"/node/([0-9]{1,18})/?$")
DOWNLOAD_PATH: Final = re.compile(r"/document/([0-9]{1,18})/download/?$")
DOWNLOAD_HINT: Final = "/download"  # in every href whose path DOWNLOAD_PATH matches: other links skip urlparse

# -- donors ---------------------------------------------------------------------------------------
# From the Donors block; when there is none, from the credit line (a page shows a credit line
# exactly when it has a donor). The whole rest of the sentence is one donor: names such as
# "Chun & Jane Chiu Family Foundation" must not be split.
CREDIT_DONOR: Final = re.compile(r"made possible with (?:the )?(?:generous )?support (?:from|of) (.+?)\.?$", re.I)

# -- is this a document page at all? --------------------------------------------------------------
# Paths the site uses for other kinds of page; a Record ID that lands on one is "not a document page".
NOT_DOCUMENT_PATHS: Final = re.compile(r"^/(people|person|search|collection|collections|topics|regions?|taxonomy|"
                                       r"user|node/[0-9]+/edit)(/|$)")
# Drupal's body classes: a node page names its content type; search/people pages their path.
BODY_DOCUMENT_CLASS: Final = "page-node-type-document"
BODY_OTHER_CLASS: Final = re.compile(r"^(page-node-type-(?!document$)[\w-]+|path-(search|people|taxonomy|user))$")
# The document's own markers (at least one, besides the title): these, in the region...
DOCUMENT_MARKERS: Final = ("#documentTabs", ".tab-pane", ".pdf-preview", ".donated")
# ...or a Document Information block with a known label. (A title, a date and a summary are not
# enough: person and collection pages show them too.)

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
    "associated topics": "subjects",  # also seen on the live host (docs/site.md)
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
    "types": "types",
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

# -- the search listing (/search), anatomy §2 ------------------------------------------------------
# Tried in order; the first selector that yields any /document/ link wins. The generic last
# resort is scoped to the main content (never the exclusion zones, whose links are menus).
LISTING_SELECTORS: Final[dict[str, str]] = {
    # Each result is a `td.document.contextual-region`; `td.document` alone covers it and
    # survives the contextual-region class (a Drupal editing aid) being dropped.
    "result_link": "td.document a[href]",
    "views_row_link": ".views-row a[href*='/document/']",
    "any_document_link": "a[href*='/document/']",
}
# Where the generic last resort looks: the first of these that exists, else <body>.
LISTING_MAIN: Final[str] = "main, #main-content, [role='main']"
# The "11 - 20 of 99" counter. Live captures frame it as "Results: … Documents", some omit
# both words, so only the numbers are read, from the page text.
LISTING_COUNTER: Final[str] = r"(\d[\d,]*)\s*[-–]\s*(\d[\d,]*)\s+of\s+(\d[\d,]*)"
# Sent with every listing request, so the order never depends on the site's default.
LISTING_PARAMS: Final[dict[str, str]] = {"sort_by": "created", "sort_order": "DESC", "items_per_page": "10"}


def table_selectors() -> list[str]:
    """Every CSS selector of the table (what the selector index must answer exactly as soupsieve)."""
    found = [a.css for a in TITLE]
    found += [CONTENT_BLOCK, *REGION, EXCLUDE, EXCLUDE_HEADINGS_CSS, PILL_BLOCK, PILL, PILL_NAME,
              DRUPAL_SETTINGS, CANONICAL, SHORTLINK, *DOCUMENT_MARKERS]
    found += [a.css for alts in FIELDS.values() for a in alts]
    return list(dict.fromkeys(found))
