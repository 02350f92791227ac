// Progressive enhancement: "Copy citation" buttons. Without JavaScript the citations are plain
// text to select; with it, each button (hidden until this runs) copies its citation's text.
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
  document.addEventListener("DOMContentLoaded", function () {
    var status = document.getElementById("copy-status");
    var buttons = document.querySelectorAll("button[data-copy]");
    Array.prototype.forEach.call(buttons, function (button) {
      var target = document.getElementById(button.getAttribute("data-copy"));
      if (!target) { return; }
      button.hidden = false;
      button.addEventListener("click", function () {
        var text = target.textContent.replace(/\s+/g, " ").trim();
        copy(text).then(function () {
          document.body.setAttribute("data-copied", text);
          if (status) { status.textContent = "Citation copied to the clipboard."; }
        }, function () {
          if (status) { status.textContent = "Could not copy; select the citation and copy it by hand."; }
        });
      });
    });
  });
})();
