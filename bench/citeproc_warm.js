// citeproc-js, warm: the same request as tools/citeproc-js/render.js ("each": one entry per
// item, as `harvester cite ID ...` prints them), rendered twice by one engine; prints the CPU
// milliseconds of the second pass and of the whole process so far (bench/cite.py).
"use strict";
const fs = require("fs");
const path = require("path");
const CSL = require(path.join(__dirname, "..", "tools", "citeproc-js", "node_modules", "citeproc"));

const request = JSON.parse(fs.readFileSync(0, "utf8"));
const styleXml = fs.readFileSync(request.style, "utf8");
const byId = new Map(request.items.map((item) => [String(item.id), item]));
const sys = {
  retrieveLocale: (l) => {
    const file = path.join(request.locales, `locales-${l}.xml`);
    return fs.existsSync(file) ? fs.readFileSync(file, "utf8") : false;
  },
  retrieveItem: (id) => byId.get(String(id)),
};
const e = new CSL.Engine(sys, styleXml, request.lang || "en-US", true);
e.setOutputFormat(request.format || "text");
const ids = request.items.map((item) => String(item.id));

function pass() {
  const out = [];
  for (const id of ids) {
    e.updateItems([id]);
    const result = e.makeBibliography();
    out.push(result ? result[1][0].trim() : "");
  }
  return out;
}

const cpuMs = (u) => (u.user + u.system) / 1000;
pass();
const before = process.cpuUsage();
const entries = pass();
const warm = cpuMs(process.cpuUsage(before));
process.stdout.write(JSON.stringify({ warm_ms: warm, total_ms: cpuMs(process.cpuUsage()), entries }));
