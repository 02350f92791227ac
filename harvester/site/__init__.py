"""Reading the Wilson Center Digital Archive's pages.

One module per concept, all markup knowledge in `selectors` (the one table):

- `challenge`: is this answer a bot-protection challenge (read by the fetcher too: no bs4 there);
- `decode`:    bytes -> text (charset), element text, Cloudflare e-mails;
- `index`:     one pass over a page's elements (kept by its tree builder) that answers every
               selector of the table (checked against soupsieve by a property test);
- `scope`:     the document's own region and the exclusion zones (teasers, cards, furniture);
- `fields`:    one small extractor per field, each trying the table's ordered alternatives;
- `page`:      `parse_page`: the document page -> `ParsedPage` (or "not a document page");
- `listing`:   the search listing -> slugs and the result counter;
- `check`:     `harvester check-site`: live pages against the known field values (`known_values.json`).

Nothing is imported here, so `import harvester.site.decode` stays cheap.
"""
