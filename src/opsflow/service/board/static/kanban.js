// The board per workflow: drag a card to another column to move it. The server decides
// (the same form the card's "Move to" list posts); this only carries the drop there and
// swaps in the board it answers with, refusal and reason included.
"use strict";
(function () {
  var dragged = null;

  function region() { return document.getElementById("board"); }

  function columnOf(el) { return el && el.closest ? el.closest(".kcol") : null; }

  function clearMarks() {
    document.querySelectorAll(".kcol").forEach(function (col) {
      col.classList.remove("drop-ok", "drop-no", "drop-over");
    });
  }

  function post(card, to) {
    var board = region();
    var body = new URLSearchParams();
    body.set("csrf_token", board.getAttribute("data-csrf"));
    body.set("case", card.getAttribute("data-case"));
    body.set("to", to);
    fetch(board.getAttribute("data-move"), {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-CSRF-Token": board.getAttribute("data-csrf"),
        "HX-Request": "true"
      },
      body: body.toString()
    }).then(function (answer) {
      var redirect = answer.headers.get("HX-Redirect");
      if (redirect) { window.location.assign(redirect); return null; }
      return answer.text();
    }).then(function (html) {
      if (html === null) return;
      var found = new DOMParser().parseFromString(html, "text/html").getElementById("board");
      if (!found) { window.location.reload(); return; }
      board.replaceWith(found);
      if (window.htmx) window.htmx.process(found);
      document.dispatchEvent(new CustomEvent("htmx:afterSettle"));
      var moved = document.getElementById("card-" + card.getAttribute("data-case"));
      var note = found.querySelector(".kanban-refused, .notice");
      if (note) note.focus();
      else if (moved) moved.querySelector("a").focus();
    }).catch(function () { window.location.reload(); });
  }

  // After the keyboard's "Move to" form (htmx), the outcome takes the focus: it is read out
  // and the next Tab goes on from the board.
  document.addEventListener("htmx:afterSettle", function (e) {
    var asked = e.detail && e.detail.pathInfo ? e.detail.pathInfo.requestPath || "" : "";
    var board = region();
    if (!board || !/\/move$/.test(asked)) return;
    var note = board.querySelector(".kanban-refused, .notice");
    if (note) note.focus();
  });

  document.addEventListener("dragstart", function (e) {
    var card = e.target.closest ? e.target.closest(".kcard") : null;
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    e.dataTransfer.effectAllowed = "move";
    e.dataTransfer.setData("text/plain", card.getAttribute("data-case"));
    var targets = (card.getAttribute("data-targets") || "").split(" ");
    var home = columnOf(card);
    document.querySelectorAll(".kcol").forEach(function (col) {
      if (col === home) return;
      col.classList.add(targets.indexOf(col.getAttribute("data-state")) >= 0 ? "drop-ok" : "drop-no");
    });
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    clearMarks();
  });

  document.addEventListener("dragover", function (e) {
    var col = columnOf(e.target);
    if (!dragged || !col || col === columnOf(dragged)) return;
    e.preventDefault();  // every other column takes the drop: the server says yes or why not
    e.dataTransfer.dropEffect = "move";
    document.querySelectorAll(".kcol.drop-over").forEach(function (c) {
      if (c !== col) c.classList.remove("drop-over");
    });
    col.classList.add("drop-over");
  });

  document.addEventListener("drop", function (e) {
    var col = columnOf(e.target);
    if (!dragged || !col || col === columnOf(dragged)) return;
    e.preventDefault();
    var card = dragged;
    clearMarks();
    post(card, col.getAttribute("data-state"));
  });
})();
