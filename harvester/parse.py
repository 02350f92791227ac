"""The page parser lives in `harvester.site` (decode, index, scope, fields, page, listing);
these names are kept here for the modules and tests that import them from `harvester.parse`."""

from harvester.site.bounds import MAX_DEPTH, MAX_ELEMENTS, MAX_VALUE_CHARS, MAX_VALUES
from harvester.site.challenge import is_challenge_html
from harvester.site.decode import block_text, clean, decode_cfemail, decode_html
from harvester.site.fields import ParsedPage, TabText
from harvester.site.page import PARSER_VERSION, parse_page

__all__ = ["MAX_DEPTH", "MAX_ELEMENTS", "MAX_VALUES", "MAX_VALUE_CHARS",
           "PARSER_VERSION", "ParsedPage", "TabText", "block_text", "clean", "decode_cfemail", "decode_html",
           "is_challenge_html", "parse_page"]
