/* SaddleBench: sort any content table by clicking its header (no dependencies, works offline).
   Numbers sort numerically (1,234 / 12% / 1.5e3); empty cells and "—" sort last either way. */
(function () {
  "use strict";
  function key(cell) {
    var text = (cell.getAttribute("data-sort") || cell.textContent || "").trim();
    if (text === "" || text === "—" || text === "-" || text === "nan") return null;
    // a leading number decides ("1,234", "12%", "1.5e3", "1,234–2,000", "3/4")
    var m = text.match(/^[-+]?[\d,]*\.?\d+(e[-+]?\d+)?/i);
    if (m) return parseFloat(m[0].replace(/,/g, ""));
    return text.toLowerCase();
  }
  function compare(a, b, dir) {
    if (a === null && b === null) return 0;
    if (a === null) return 1;          // missing values last
    if (b === null) return -1;
    if (typeof a === "number" && typeof b === "number") return dir * (a - b);
    return dir * String(a).localeCompare(String(b), undefined, {numeric: true});
  }
  function sortBy(table, th, col) {
    var body = table.tBodies[0];
    if (!body) return;
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (r1, r2) { return compare(key(r1.cells[col]), key(r2.cells[col]), dir); });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
  }
  function init() {
    var tables = document.querySelectorAll(".md-typeset table:not(.no-sort)");
    Array.prototype.forEach.call(tables, function (table) {
      if (!table.tHead || table.dataset.sortable) return;
      table.dataset.sortable = "1";
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
        th.classList.add("sortable");
        th.title = "Click to sort";
        th.addEventListener("click", function () { sortBy(table, th, col); });
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
