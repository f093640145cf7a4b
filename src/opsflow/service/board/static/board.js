// The board's behaviour beyond htmx: no inline script anywhere (the CSP forbids it).
"use strict";
(function () {
  // Countdowns: <time data-countdown datetime="ISO"> shows how far off it is ("in 3 hours",
  // "2 days ago"), in the page's language, refreshed every minute.
  var UNITS = [["day", 86400], ["hour", 3600], ["minute", 60]];
  function tick() {
    var lang = document.documentElement.lang || "en";
    var format = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
    document.querySelectorAll("time[data-countdown]").forEach(function (el) {
      var due = Date.parse(el.getAttribute("datetime"));
      if (isNaN(due)) return;
      var seconds = (due - Date.now()) / 1000;
      for (var i = 0; i < UNITS.length; i++) {
        var unit = UNITS[i];
        if (Math.abs(seconds) >= unit[1] * (i === UNITS.length - 1 ? 0 : 1.5)) {
          el.textContent = format.format(Math.round(seconds / unit[1]), unit[0]);
          return;
        }
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    setInterval(tick, 60000);
  });
  document.addEventListener("htmx:afterSettle", tick);
})();
