// Progressive enhancement: "Copy citation" buttons, and the citations a record page links to.
// Without JavaScript the citations are plain text to select, and a style the page did not render
// is a link to a page showing it; with it, each such link is replaced by the citation fetched
// from that page, and each button (hidden until its citation is there) copies its citation's text.
(function () {
  "use strict";
  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "absolute";
    area.style.left = "-9999px";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok ? Promise.resolve() : Promise.reject(new Error("copy refused"));
  }
  function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      return navigator.clipboard.writeText(text).catch(function () { return fallbackCopy(text); });
    }
    return fallbackCopy(text);
  }
  // The citation of `target` (a placeholder with data-load), taken from the page it links to:
  // that page holds the same element (same id), rendered. Resolves to the element now in place.
  function load(target) {
    var url = target.getAttribute("data-load");
    target.setAttribute("aria-busy", "true");
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.text();
      })
      .then(function (text) {
        var found = new DOMParser().parseFromString(text, "text/html").getElementById(target.id);
        if (!found) { throw new Error("no citation in the answer"); }
        var made = document.importNode(found, true);  // our own markup: escaped values, no scripts
        target.parentNode.replaceChild(made, target);
        return made;
      })
      .catch(function (error) {
        target.removeAttribute("aria-busy");  // the link stays: it still shows the citation
        throw error;
      });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var status = document.getElementById("copy-status");
    var buttons = document.querySelectorAll("button[data-copy]");
    Array.prototype.forEach.call(buttons, function (button) {
      var target = document.getElementById(button.getAttribute("data-copy"));
      if (!target) { return; }
      var ready = target.hasAttribute("data-load") ? load(target) : Promise.resolve(target);
      ready.then(function (shown) {
        if (!shown.classList.contains("citation-text")) {  // the style cannot render this record
          button.parentNode.removeChild(button);
          return;
        }
        button.hidden = false;
        button.addEventListener("click", function () {
          var text = shown.textContent.replace(/\s+/g, " ").trim();
          copy(text).then(function () {
            document.body.setAttribute("data-copied", text);
            if (status) { status.textContent = "Citation copied to the clipboard."; }
          }, function () {
            if (status) { status.textContent = "Could not copy; select the citation and copy it by hand."; }
          });
        });
      }, function () { /* the button stays hidden; the link shows the citation */ });
    });
  });
})();
