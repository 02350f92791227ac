// Progressive enhancement: a record's texts (one section per tab of the archive's page) become
// tabs, as on the archive (WAI-ARIA tabs: arrow keys, Home and End move between them). Without
// JavaScript every text is shown, one after the other, with links to each.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var box = document.querySelector(".texts");
    var list = box && box.querySelector(".text-tabs");
    var panels = box ? box.querySelectorAll("section.text") : [];
    if (!list || panels.length < 2) { return; }
    var tablist = document.createElement("div");
    tablist.className = "tablist";
    tablist.setAttribute("role", "tablist");
    tablist.setAttribute("aria-labelledby", "texts-heading");
    var tabs = [];
    function select(index, focus) {
      tabs.forEach(function (tab, i) {
        var on = i === index;
        tab.setAttribute("aria-selected", on ? "true" : "false");
        tab.tabIndex = on ? 0 : -1;
        panels[i].hidden = !on;
      });
      if (focus) { tabs[index].focus(); }
    }
    Array.prototype.forEach.call(panels, function (panel, i) {
      var tab = document.createElement("button");
      tab.type = "button";
      tab.id = panel.id + "-tab";
      tab.setAttribute("role", "tab");
      tab.setAttribute("aria-controls", panel.id);
      tab.textContent = panel.querySelector("h3").textContent.replace(/\s+/g, " ").trim();
      tab.addEventListener("click", function () { select(i, false); });
      panel.setAttribute("role", "tabpanel");
      panel.setAttribute("aria-labelledby", tab.id);
      panel.tabIndex = 0;
      tablist.appendChild(tab);
      tabs.push(tab);
    });
    tablist.addEventListener("keydown", function (event) {
      var now = tabs.indexOf(document.activeElement);
      if (now < 0) { return; }
      var next = {ArrowRight: now + 1, ArrowLeft: now - 1, Home: 0, End: tabs.length - 1}[event.key];
      if (next === undefined) { return; }
      event.preventDefault();
      select((next + tabs.length) % tabs.length, true);
    });
    list.parentNode.replaceChild(tablist, list);
    var wanted = 0;
    Array.prototype.forEach.call(panels, function (panel, i) { if ("#" + panel.id === location.hash) { wanted = i; } });
    select(wanted, false);
  });
})();
