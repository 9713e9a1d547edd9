/* The family's form, enhanced: a field asked only for some answers to another one (the new
   address, for a move) is hidden until one of them is chosen. Without this file every field
   is shown, each saying when it is asked, and the server ignores those not asked. */
(function () {
  "use strict";

  var shown = document.querySelectorAll("[data-visible-when]");
  if (!shown.length) {
    return;
  }
  var form = shown[0].closest("form");

  function answer(name) {
    var fields = form.elements.namedItem(name);
    if (!fields) {
      return "";
    }
    if (fields.length !== undefined && fields.tagName !== "SELECT") {
      for (var i = 0; i < fields.length; i += 1) {
        if (fields[i].checked) {
          return fields[i].value;
        }
      }
      return "";
    }
    return fields.type === "radio" ? (fields.checked ? fields.value : "") : fields.value;
  }

  function update() {
    for (var i = 0; i < shown.length; i += 1) {
      var element = shown[i];
      var values = JSON.parse(element.getAttribute("data-visible-values"));
      element.hidden = values.indexOf(answer(element.getAttribute("data-visible-when"))) < 0;
    }
  }

  form.addEventListener("change", update);
  update();
})();
