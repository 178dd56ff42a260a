/* SaddleBench: problem ids contain ":" ("quad-saddle:medium"), which the search engine (lunr)
   reads as "field:term" and rejects as an invalid query. The search box turns ":" into a space
   as it is typed (before the theme reads the box), so an id is searched as its words: the
   section of that instance comes first. Capture phase on the document: runs before the theme's
   own listener on the box. */
(function () {
  "use strict";
  function fix(event) {
    var box = event.target;
    if (!box || !box.classList || !box.classList.contains("md-search__input")) return;
    if (box.value.indexOf(":") < 0) return;
    var at = box.selectionStart;
    box.value = box.value.replace(/:/g, " ");
    try { box.setSelectionRange(at, at); } catch (e) { /* not a text box */ }
  }
  document.addEventListener("input", fix, true);
  document.addEventListener("keyup", fix, true);
})();
