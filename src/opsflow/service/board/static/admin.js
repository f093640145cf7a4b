// The admin pages: confirm before a change that affects many or cannot be undone, and copy
// a new token. No inline script anywhere (the CSP forbids it).
"use strict";
(function () {
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-select-all]").forEach(function (field) {
      field.addEventListener("focus", function () { field.select(); });
    });
    if (!navigator.clipboard) return; // without it the field is selected for a manual copy
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var field = document.getElementById(button.getAttribute("data-copy"));
      if (!field) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(field.value).then(function () {
          button.textContent = button.getAttribute("data-copied");
        }, function () {
          field.focus();
          field.select();
        });
      });
    });
  });
})();
