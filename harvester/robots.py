"""robots.txt for the sync: fetched once per run, obeyed for every URL, Crawl-delay honoured.

Protego parses it. The text is kept in the run's row, so a resumed run obeys the same
rules without fetching robots.txt again. Following RFC 9309: a 4xx (no robots.txt)
allows everything; a 5xx or an unreachable site means we cannot know, so the run
must not crawl (the caller stops it).
"""

from __future__ import annotations

from dataclasses import dataclass

from protego import Protego

from catalog.errors import AskedToWait, Blocked, FetchError, Gone, NotFound, OutOfTime, UnexpectedStatus
from harvester.http import Fetcher


@dataclass
class RobotsRules:
    text: str  # "" when the site has none
    parser: Protego

    @classmethod
    def from_text(cls, text: str) -> RobotsRules:
        return cls(text, Protego.parse(text))

    def allows(self, url: str, user_agent: str) -> bool:
        return bool(self.parser.can_fetch(url, user_agent))

    def crawl_delay(self, user_agent: str) -> float | None:
        delay = self.parser.crawl_delay(user_agent)
        return float(delay) if delay is not None else None


class RobotsUnavailable(Exception):
    """robots.txt answered 5xx or could not be fetched: crawling is not allowed now."""


def fetch_robots(fetcher: Fetcher) -> str:
    """The robots.txt text ("" if the site has none). Blocked, AskedToWait and OutOfTime pass through."""
    url = f"{fetcher.base_url}/robots.txt"
    try:
        result = fetcher.get(url)
    except (NotFound, Gone):
        return ""
    except UnexpectedStatus as exc:
        if exc.status is not None and 400 <= exc.status < 500:
            return ""  # 401/403 and the like: RFC 9309 treats them as "no rules"
        raise RobotsUnavailable(str(exc)) from exc
    except (Blocked, AskedToWait, OutOfTime):
        raise
    except FetchError as exc:
        raise RobotsUnavailable(str(exc)) from exc
    return result.response.body.decode("utf-8", errors="replace")


def apply_crawl_delay(fetcher: Fetcher, rules: RobotsRules) -> float | None:
    """Slow the shared rate limiter to the site's Crawl-delay if that is slower than ours.

    The caller refuses a Crawl-delay over sync.max_crawl_delay first; every wait it causes is
    still bounded by the run's time budget (the limiter will not sleep past fetcher.deadline).
    """
    delay = rules.crawl_delay(fetcher.user_agent)
    # Only ever slower: a Crawl-delay never speeds us past http.rate_limit. With a catalog's
    # shared budget it is recorded there and slows every worker (None clears an old one).
    fetcher.limiter.obey_crawl_delay(delay)
    return delay
