// The case page: the History / Diagram tabs (the diagram's panel loads when first shown,
// by htmx's "intersect once"). No inline script anywhere: the CSP forbids it.
"use strict";
(function () {
  function select(tab) {
    var list = tab.closest("[role=tablist]");
    if (!list) return;
    list.querySelectorAll("[role=tab]").forEach(function (other) {
      var on = other === tab;
      other.setAttribute("aria-selected", on ? "true" : "false");
      other.tabIndex = on ? 0 : -1;
      var panel = document.getElementById(other.getAttribute("aria-controls"));
      if (panel) panel.hidden = !on;
    });
  }
  document.addEventListener("click", function (event) {
    var tab = event.target.closest && event.target.closest(".case-tabs [role=tab]");
    if (tab) select(tab);
  });
  document.addEventListener("keydown", function (event) {
    var tab = event.target.closest && event.target.closest(".case-tabs [role=tab]");
    if (!tab || (event.key !== "ArrowRight" && event.key !== "ArrowLeft")) return;
    var tabs = Array.prototype.slice.call(tab.parentNode.querySelectorAll("[role=tab]"));
    var step = event.key === "ArrowRight" ? 1 : -1;
    var next = tabs[(tabs.indexOf(tab) + step + tabs.length) % tabs.length];
    select(next);
    next.focus();
    event.preventDefault();
  });
  // After a change swaps the case in place, focus would fall back to <body> and a
  // keyboard user would start again at the top: move it to what the change answered (the
  // notice or the error), else to the case's heading.
  document.addEventListener("htmx:afterSettle", function (event) {
    var swapped = event.detail && event.detail.elt;
    if (!swapped || swapped.id !== "case") return;
    var answer = swapped.querySelector(".notice, [role=alert]") || swapped.querySelector("h1");
    if (!answer) return;
    if (!answer.hasAttribute("tabindex")) answer.setAttribute("tabindex", "-1");
    answer.focus();
  });
})();
