"""The selector table lives in `harvester.site.selectors`; this name is kept for old imports."""

from harvester.site.selectors import *  # noqa: F403
from harvester.site.selectors import (  # noqa: F401  (names `import *` would not re-export to mypy)
    CHALLENGE_MARKERS,
    CHALLENGE_TITLES,
    INFO_LABELS,
    LISTING_COUNTER,
    LISTING_MAIN,
    LISTING_SELECTORS,
    SECTION_HEADINGS,
    SECTION_PREFIXES,
    TEXT_KINDS,
)
