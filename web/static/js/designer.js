/* The procedure designer (admin/procedure_designer.html): the bpmn-js modeler on the draft,
   "save the draft" as JSON with the CSRF token header, the problems listed beside the diagram
   with their element highlighted, the SVG export. Without this file the metadata form still
   saves (the diagram is then kept as it was). */
(function () {
  "use strict";

  var container = document.getElementById("designer-canvas");
  if (!container || typeof window.BpmnJS !== "function") {
    return;
  }
  var MARKER = "designer-erreur";
  var modeler = new window.BpmnJS({ container: container });
  var problemsBox = document.getElementById("designer-problemes");
  var status = document.getElementById("designer-etat");
  var draftForm = document.getElementById("designer-brouillon");
  var publishForm = document.getElementById("designer-publier");
  var metadata = document.getElementById("designer-metadonnees");
  var svgButton = document.getElementById("designer-svg");
  var marked = [];

  function highlight(ids) {
    var canvas = modeler.get("canvas");
    var registry = modeler.get("elementRegistry");
    marked.forEach(function (id) {
      if (registry.get(id)) {
        canvas.removeMarker(id, MARKER);
      }
    });
    marked = ids.filter(function (id) { return id && registry.get(id); });
    marked.forEach(function (id) { canvas.addMarker(id, MARKER); });
  }

  function problemList(problems, className) {
    var list = document.createElement("ul");
    list.className = className;
    problems.forEach(function (problem) {
      var item = document.createElement("li");
      item.textContent = problem.message;
      item.setAttribute("data-element", problem.element_id || "");
      list.appendChild(item);
    });
    return list;
  }

  // The draft's own problems, then what the policy check would refuse at publication.
  function showProblems(problems, beforePublishing) {
    beforePublishing = beforePublishing || [];
    problemsBox.textContent = "";
    if (!problems.length) {
      var none = document.createElement("p");
      none.textContent = "Aucun problème trouvé.";
      problemsBox.appendChild(none);
    } else {
      problemsBox.appendChild(problemList(problems, "designer-problemes"));
    }
    if (beforePublishing.length) {
      var heading = document.createElement("h3");
      heading.className = "fr-h6 fr-mt-2w";
      heading.textContent = "À corriger avant de publier";
      problemsBox.appendChild(heading);
      problemsBox.appendChild(problemList(beforePublishing, "designer-problemes designer-avant-publication"));
    }
    highlight(problems.concat(beforePublishing).map(function (problem) { return problem.element_id; }));
  }

  function problemsOnPage() {
    var items = problemsBox.querySelectorAll("li[data-element]");
    return Array.prototype.map.call(items, function (item) { return item.getAttribute("data-element"); });
  }

  function save() {
    return modeler.saveXML({ format: true }).then(function (result) {
      return fetch(container.getAttribute("data-save-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": container.getAttribute("data-csrf") },
        body: JSON.stringify({ bpmn: result.xml, metadata: metadata.value })
      });
    }).then(function (response) {
      if (!response.ok && response.status !== 413) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    }).then(function (answer) {
      showProblems(answer.problems || [], answer.before_publishing || []);
      status.textContent = answer.saved
        ? "Brouillon enregistré le " + answer.saved_at + "."
        : "Le brouillon n'a pas été enregistré.";
      return answer;
    }).catch(function (error) {
      status.textContent = "Le brouillon n'a pas pu être enregistré (" + error.message + ").";
      throw error;
    });
  }

  function download(name, text, type) {
    var link = document.createElement("a");
    link.href = URL.createObjectURL(new Blob([text], { type: type }));
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  draftForm.addEventListener("submit", function (event) {
    event.preventDefault();
    save().catch(function () { return null; });
  });
  publishForm.addEventListener("submit", function (event) {
    event.preventDefault();
    save().then(function () { publishForm.submit(); }).catch(function () { return null; });
  });
  svgButton.addEventListener("click", function () {
    modeler.saveSVG().then(function (result) {
      download(container.getAttribute("data-code") + ".svg", result.svg, "image/svg+xml");
    });
  });

  fetch(container.getAttribute("data-xml-url"), { credentials: "same-origin" })
    .then(function (response) { return response.text(); })
    .then(function (xml) { return modeler.importXML(xml); })
    .then(function (result) {
      // What bpmn-js could not draw (unknown elements, broken references): a count on the
      // canvas for scripted checks, the messages in the console for whoever investigates.
      var warnings = (result && result.warnings) || [];
      container.setAttribute("data-import-warnings", String(warnings.length));
      warnings.forEach(function (warning) { console.warn("bpmn-js : " + warning.message); });
      modeler.get("canvas").zoom("fit-viewport", "auto");
      highlight(problemsOnPage());
      svgButton.disabled = false;
      container.setAttribute("data-ready", "true");
    })
    .catch(function (error) {
      container.setAttribute("data-import-error", error.message);
      status.textContent = "Le diagramme ne peut pas être affiché : " + error.message;
    });

  // For scripted checks (the browser tests) and the console: the modeler and the save.
  window.portailDesigner = { modeler: modeler, save: save };
})();
