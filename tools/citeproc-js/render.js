// Render CSL-JSON items with citeproc-js (the processor inside Zotero), for the agreement
// test (tests/export/test_citeproc_js.py). Reads one JSON request on stdin:
//   {"style": "<path to .csl>", "locales": "<dir with locales-xx-XX.xml>", "lang": "en-US",
//    "format": "text"|"html", "items": [CSL-JSON items], "each": true}
// and writes {"bibliography": [...], "notes": [...]} on stdout: with "each", one entry per
// item, each rendered by a fresh processor (as `harvester cite ID` does); without, one
// bibliography of all items (sorted and disambiguated by the style).
"use strict";
const fs = require("fs");
const path = require("path");
const CSL = require("citeproc");

const request = JSON.parse(fs.readFileSync(0, "utf8"));
const styleXml = fs.readFileSync(request.style, "utf8");
const lang = request.lang || "en-US";

function engine(items) {
  const byId = new Map(items.map((item) => [String(item.id), item]));
  const sys = {
    retrieveLocale: (l) => {
      const file = path.join(request.locales, `locales-${l}.xml`);
      return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : false;
    },
    retrieveItem: (id) => byId.get(String(id)),
  };
  const e = new CSL.Engine(sys, styleXml, lang, true);
  e.setOutputFormat(request.format || "text");
  return e;
}

// One engine (parsing a style is the slow part); each item is registered alone before it is
// rendered, so nothing (disambiguation, subsequent-author substitution) carries over.
const e = engine(request.items);
const isNote = e.cslXml.dataObj.attrs.class === "note";

function bibliography(ids) {
  e.updateItems(ids);
  const result = e.makeBibliography();
  return result ? result[1].map((s) => s.trim()) : [];
}

function note(id) {
  if (!isNote) return null;
  e.updateItems([id]);
  const citation = { citationItems: [{ id }], properties: { noteIndex: 1 } };
  return e.previewCitationCluster(citation, [], [], request.format || "text");
}

const out = { bibliography: [], notes: [] };
const ids = request.items.map((item) => String(item.id));
if (request.each) {
  for (const id of ids) {
    out.bibliography.push(bibliography([id])[0] || "");
    out.notes.push(note(id));
  }
} else {
  out.bibliography = bibliography(ids);
}
process.stdout.write(JSON.stringify(out));
