/* Task inbox, enhanced: "select all" for the bulk assignment, and the "/" key to jump to the
   search field. Without this file every control still works on its own. */
(function () {
  "use strict";

  var all = document.querySelector("[data-tout-cocher]");
  if (all) {
    var boxes = document.querySelectorAll("input[name=taches]");
    all.addEventListener("change", function () {
      for (var i = 0; i < boxes.length; i += 1) {
        boxes[i].checked = all.checked;
      }
    });
  }

  var search = document.querySelector("[data-recherche]");
  if (search) {
    document.addEventListener("keydown", function (event) {
      var target = event.target;
      var typing = target && (target.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(target.tagName));
      if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        search.focus();
      }
    });
  }
})();
