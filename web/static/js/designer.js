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
  var decisions = designerDecisions();
  var forms = designerForms();
  var panel = designerPanel();

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
    var payload = { metadata: metadata.value };
    // Until the server answers, the last save's "enregistré" is no longer what is on screen.
    status.textContent = "Enregistrement en cours…";
    return Promise.all([
      modeler.saveXML({ format: true }),
      decisions.xml(),
      Promise.resolve(forms.changed()),
      Promise.resolve(panel.changed())
    ]).then(function (results) {
      if (results[3] !== null) {
        payload.settings = results[3];
      }
      payload.bpmn = results[0].xml;
      if (results[1] !== null) {
        payload.dmn = results[1];
      }
      if (results[2] !== null) {
        payload.forms = results[2];
      }
      return fetch(container.getAttribute("data-save-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": container.getAttribute("data-csrf") },
        body: JSON.stringify(payload)
      });
    }).then(function (response) {
      if (!response.ok && response.status !== 413 && response.status !== 422) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    }).then(function (answer) {
      if (answer.saved && (payload.forms || payload.settings)) {
        metadata.value = answer.metadata;  // forms and settings are now the metadata's
        forms.saved();
        panel.saved();
      }
      if (answer.saved && answer.forms) {
        forms.offer(answer.forms);
      }
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

  // For scripted checks (the browser tests) and the console: the editors and the save.
  window.portailDesigner = {
    modeler: modeler, save: save, decisions: decisions, forms: forms, panel: panel
  };

  // The decision tables (dmn-js): opened when the draft has some, or when asked for.
  function designerDecisions() {
    var box = document.getElementById("designer-decisions");
    var addButton = document.getElementById("designer-dmn-ajouter");
    var viewsBox = document.getElementById("designer-dmn-vues");
    var choice = document.getElementById("designer-dmn-choix");
    var source = document.getElementById("designer-dmn-xml");
    var dmn = null;
    var STARTER = '<?xml version="1.0" encoding="UTF-8"?>' +
      '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="decisions" ' +
      'name="Tables de décision" namespace="https://portail-famille.example/dmn">' +
      '<decision id="decision_1" name="Nouvelle décision">' +
      '<decisionTable id="table_1" hitPolicy="UNIQUE">' +
      '<input id="entree_1" label="Quotient familial"><inputExpression id="expression_1" typeRef="number">' +
      '<text>quotient</text></inputExpression></input>' +
      '<output id="sortie_1" label="Tranche" name="tranche" typeRef="string" />' +
      '</decisionTable></decision></definitions>';

    function showViews() {
      var tables = dmn.getViews().filter(function (view) { return view.type === "decisionTable"; });
      choice.textContent = "";
      tables.forEach(function (view, index) {
        var option = document.createElement("option");
        option.value = String(index);
        option.textContent = view.name || view.id;
        choice.appendChild(option);
      });
      viewsBox.hidden = tables.length < 2;
      if (tables.length) {
        dmn.open(tables[0]);
      }
      choice.onchange = function () { dmn.open(tables[Number(choice.value)]); };
    }

    function open(xml) {
      if (!box || typeof window.DmnJS !== "function") {
        return Promise.resolve(null);
      }
      dmn = new window.DmnJS({ container: box });
      return dmn.importXML(xml).then(function () {
        showViews();
        box.setAttribute("data-ready", "true");
        if (addButton) {
          addButton.hidden = true;
        }
      }).catch(function (error) {
        box.setAttribute("data-import-error", error.message);
      });
    }

    var initial = source ? JSON.parse(source.textContent) : "";
    if (initial) {
      open(initial);
    }
    if (addButton) {
      addButton.addEventListener("click", function () { open(STARTER); });
    }
    return {
      // The tables as XML, or null when none were opened (the draft keeps its own).
      xml: function () {
        if (!dmn) {
          return Promise.resolve(null);
        }
        return dmn.saveXML({ format: true }).then(function (result) { return result.xml; });
      },
      modeler: function () { return dmn; }
    };
  }

  // The forms (form-js): one editor, the form chosen in the list; only the forms changed
  // are sent, and the server turns them into the metadata's fields.
  function designerForms() {
    var box = document.getElementById("designer-formulaire");
    var choice = document.getElementById("designer-formulaire-choix");
    var source = document.getElementById("designer-formulaires");
    var none = {
      changed: function () { return null; }, saved: function () {}, offer: function () {},
      editor: function () { return null; }
    };
    if (!box || !source || !window.FormEditor) {
      return none;
    }
    var schemas = {};
    JSON.parse(source.textContent).forEach(function (form) { schemas[form.key] = form.schema; });
    var current = choice.value;
    var dirty = {};
    var importing = true;
    var editor = new window.FormEditor.FormEditor({ container: box });
    editor.on("changed", function () {
      if (!importing) {
        dirty[current] = true;
      }
    });
    function show(key) {
      importing = true;
      current = key;
      return editor.importSchema(schemas[key]).then(function () {
        importing = false;
        box.setAttribute("data-form", key);
        box.setAttribute("data-ready", "true");
      });
    }
    show(current);
    choice.addEventListener("change", function () {
      if (dirty[current]) {
        schemas[current] = editor.saveSchema();
      }
      show(choice.value);
    });
    return {
      changed: function () {
        if (dirty[current]) {
          schemas[current] = editor.saveSchema();
        }
        var keys = Object.keys(dirty);
        if (!keys.length) {
          return null;
        }
        var changed = {};
        keys.forEach(function (key) { changed[key] = schemas[key]; });
        return changed;
      },
      saved: function () { dirty = {}; },
      // The forms of the saved draft: a step drawn since the page opened is added to the list.
      offer: function (list) {
        list.forEach(function (form) {
          if (form.key in schemas) {
            return;
          }
          schemas[form.key] = form.schema;
          var option = document.createElement("option");
          option.value = form.key;
          option.textContent = form.label;
          choice.appendChild(option);
        });
      },
      editor: function () { return editor; }
    };
  }

  // The properties panel: a lane's service, a step's deadlines (kept for the metadata and
  // sent with the save), a flow's condition and a timer (written into the diagram).
  function designerPanel() {
    var box = document.getElementById("designer-proprietes");
    var source = document.getElementById("designer-reglages");
    var none = { changed: function () { return null; }, saved: function () {} };
    if (!box || !source) {
      return none;
    }
    var known = JSON.parse(source.textContent);
    known.ends = known.ends || {};
    var changed = { lanes: {}, tasks: {}, ends: {} };
    var selected = null;
    var title = document.getElementById("designer-proprietes-element");
    var inputs = {
      service: document.getElementById("designer-prop-service"),
      sla: document.getElementById("designer-prop-sla"),
      delai: document.getElementById("designer-prop-delai"),
      condition: document.getElementById("designer-prop-condition"),
      minuterie: document.getElementById("designer-prop-minuterie"),
      fin: document.getElementById("designer-prop-fin"),
      collection: document.getElementById("designer-prop-collection"),
      decision: document.getElementById("designer-prop-decision")
    };
    var SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core";
    var DECISION = "spiffworkflow:calledDecisionId";
    var STEPS = ["bpmn:UserTask", "bpmn:ManualTask", "bpmn:ReceiveTask"];

    function show(name, visible) {
      document.getElementById("designer-prop-" + name + "-groupe").hidden = !visible;
    }
    function timerOf(element) {
      var definitions = element.businessObject.eventDefinitions || [];
      return definitions.filter(function (d) { return d.$type === "bpmn:TimerEventDefinition"; })[0];
    }
    function isStep(element) {
      var bo = element.businessObject;
      if (STEPS.indexOf(element.type) >= 0) {
        return true;
      }
      return element.type === "bpmn:IntermediateCatchEvent" && (bo.eventDefinitions || [])
        .some(function (d) { return d.$type === "bpmn:MessageEventDefinition"; });
    }
    function multiInstance(element) {
      var loop = element.businessObject.loopCharacteristics;
      return loop && loop.$type === "bpmn:MultiInstanceLoopCharacteristics" ? loop : null;
    }
    function processOf(bo) {
      var parent = bo.$parent;
      while (parent && parent.$type !== "bpmn:Process") {
        parent = parent.$parent;
      }
      return parent;
    }
    function isEnd(element) {  // an end of the demande, not of a sub-process
      var parent = element.businessObject.$parent;
      return element.type === "bpmn:EndEvent" && Boolean(parent) && parent.$type === "bpmn:Process";
    }
    function decisionOf(bo) {
      var values = bo.extensionElements ? bo.extensionElements.values || [] : [];
      return values.filter(function (value) { return value.$type === DECISION; })[0];
    }
    function taskValue(id, key) {
      var own = changed.tasks[id];
      if (own && key in own) {
        return own[key];
      }
      var stored = known.tasks[id];
      return stored ? stored[key] : null;
    }
    function select(element) {
      selected = element || null;
      if (!element || element.type === "bpmn:Process" || element.type === "bpmn:Collaboration") {
        box.hidden = true;
        return;
      }
      var bo = element.businessObject;
      box.hidden = false;
      box.setAttribute("data-element", bo.id);
      title.textContent = (bo.name || bo.id);
      var lane = element.type === "bpmn:Lane";
      var step = isStep(element);
      var flow = element.type === "bpmn:SequenceFlow";
      var timer = timerOf(element);
      show("service", lane);
      show("sla", step);
      show("delai", step);
      show("condition", flow);
      show("minuterie", Boolean(timer));
      var end = isEnd(element);
      var loop = multiInstance(element);
      var rule = element.type === "bpmn:BusinessRuleTask";
      show("fin", end);
      show("collection", Boolean(loop));
      show("decision", rule);
      if (end) {
        inputs.fin.value = bo.id in changed.ends ? changed.ends[bo.id] : (known.ends[bo.id] || "");
      }
      if (loop) {
        inputs.collection.value = loop.loopDataInputRef ? loop.loopDataInputRef.id || "" : "";
      }
      if (rule) {
        var decision = decisionOf(bo);
        inputs.decision.value = decision ? decision.$body || "" : "";
      }
      if (lane) {
        var name = bo.name || "";
        inputs.service.value = name in changed.lanes ? changed.lanes[name] : (known.lanes[name] || "");
      }
      if (step) {
        inputs.sla.value = taskValue(bo.id, "sla_hours") || "";
        inputs.delai.value = taskValue(bo.id, "timeout_days") || "";
      }
      if (flow) {
        inputs.condition.value = bo.conditionExpression ? bo.conditionExpression.body || "" : "";
      }
      if (timer) {
        var expression = timer.timeDuration || timer.timeDate || timer.timeCycle;
        inputs.minuterie.value = expression ? expression.body || "" : "";
      }
    }
    function setTask(key, value) {
      var id = selected.businessObject.id;
      changed.tasks[id] = changed.tasks[id] || {};
      changed.tasks[id][key] = value === "" ? null : Number(value);
    }

    modeler.on("selection.changed", function (event) { select(event.newSelection[0]); });
    inputs.service.addEventListener("change", function () {
      changed.lanes[selected.businessObject.name || ""] = inputs.service.value;
    });
    inputs.sla.addEventListener("change", function () { setTask("sla_hours", inputs.sla.value); });
    inputs.delai.addEventListener("change", function () { setTask("timeout_days", inputs.delai.value); });
    inputs.condition.addEventListener("change", function () {
      var body = inputs.condition.value.trim();
      var expression = body ? modeler.get("moddle").create("bpmn:FormalExpression", { body: body }) : undefined;
      modeler.get("modeling").updateProperties(selected, { conditionExpression: expression });
    });
    inputs.minuterie.addEventListener("change", function () {
      var body = inputs.minuterie.value.trim();
      var timer = timerOf(selected);
      var expression = modeler.get("moddle").create("bpmn:FormalExpression", { body: body });
      var kind = /^R\d*\//.test(body) ? "timeCycle" : (/^\d{4}-\d{2}-\d{2}/.test(body) ? "timeDate" : "timeDuration");
      var properties = { timeDuration: undefined, timeDate: undefined, timeCycle: undefined };
      properties[kind] = expression;
      modeler.get("modeling").updateModdleProperties(selected, timer, properties);
    });
    inputs.fin.addEventListener("change", function () {
      changed.ends[selected.businessObject.id] = inputs.fin.value;
    });
    // The collection is named by a property of the process (modelers keep loopDataInputRef
    // only when it refers to an element); each item is named after it ("enfants": "enfant").
    inputs.collection.addEventListener("change", function () {
      var name = inputs.collection.value.trim();
      var moddle = modeler.get("moddle");
      var modeling = modeler.get("modeling");
      var loop = multiInstance(selected);
      if (!name) {
        modeling.updateModdleProperties(selected, loop, { loopDataInputRef: undefined, inputDataItem: undefined });
        return;
      }
      var process = processOf(selected.businessObject);
      var properties = (process.properties || []).slice();
      var property = properties.filter(function (p) { return p.id === name; })[0];
      if (!property) {
        property = moddle.create("bpmn:Property", { id: name, name: name });
        properties.push(property);
        modeling.updateModdleProperties(selected, process, { properties: properties });
      }
      // The item's id is the variable a step reads (SpiffWorkflow's data references).
      var item = /s$/.test(name) ? name.slice(0, -1) : name + "_element";
      var current = loop.inputDataItem;
      if (!(current && current.id === item) && moddle.ids && moddle.ids.assigned(item)) {
        item = item + "_" + selected.businessObject.id;
      }
      modeling.updateModdleProperties(selected, loop, {
        loopDataInputRef: property,
        inputDataItem: moddle.create("bpmn:DataInput", { id: item, name: item })
      });
    });
    inputs.decision.addEventListener("change", function () {
      var id = inputs.decision.value.trim();
      var moddle = modeler.get("moddle");
      var modeling = modeler.get("modeling");
      var bo = selected.businessObject;
      var others = (bo.extensionElements ? bo.extensionElements.values || [] : [])
        .filter(function (value) { return value.$type !== DECISION; });
      if (id) {
        others.push(moddle.createAny(DECISION, SPIFF, { $body: id }));
      }
      if (bo.extensionElements) {
        modeling.updateModdleProperties(selected, bo.extensionElements, { values: others });
      } else {
        modeling.updateProperties(selected, {
          extensionElements: moddle.create("bpmn:ExtensionElements", { values: others })
        });
      }
    });
    var documents = designerDocuments(known);
    return {
      changed: function () {
        var any = Object.keys(changed.lanes).length || Object.keys(changed.tasks).length ||
          Object.keys(changed.ends).length;
        var listed = documents.changed();
        if (listed) {
          return Object.assign({}, changed, { documents: listed });
        }
        return any ? changed : null;
      },
      saved: function () {
        Object.keys(changed.lanes).forEach(function (name) { known.lanes[name] = changed.lanes[name]; });
        Object.keys(changed.tasks).forEach(function (id) {
          known.tasks[id] = Object.assign({}, known.tasks[id] || {}, changed.tasks[id]);
        });
        Object.keys(changed.ends).forEach(function (id) { known.ends[id] = changed.ends[id]; });
        documents.saved();
        changed = { lanes: {}, tasks: {}, ends: {} };
      },
      // By id: an element of the diagram shown, or a step of a called procedure (drawn on a
      // diagram of its own), whose deadlines are the procedure's too.
      select: function (id) {
        var element = modeler.get("elementRegistry").get(id);
        select(element || { type: "bpmn:UserTask", businessObject: { id: id, name: id } });
      }
    };
  }

  // The required documents: one row per document, its type chosen among the vault's, an
  // alternative, its age, whether it is the child's and still valid at the season's start.
  // The whole list is sent once changed and replaces the metadata's.
  function designerDocuments(known) {
    var section = document.getElementById("designer-justificatifs-section");
    var box = document.getElementById("designer-justificatifs");
    var addButton = document.getElementById("designer-justificatif-ajouter");
    var none = { changed: function () { return null; }, saved: function () {} };
    if (!section || !box || !Array.isArray(known.documents)) {
      return none;
    }
    var types = known.document_types || [];
    var rows = known.documents.map(function (d) { return Object.assign({}, d); });
    var dirty = false;
    section.hidden = false;

    function field(kind, id, label) {
      var group = document.createElement("div");
      group.className = kind === "checkbox" ? "fr-checkbox-group fr-mb-1w" :
        (kind === "select" ? "fr-select-group" : "fr-input-group");
      var input = document.createElement(kind === "select" ? "select" : "input");
      input.id = id;
      if (kind === "select") {
        input.className = "fr-select";
      } else if (kind === "checkbox") {
        input.type = "checkbox";
      } else {
        input.className = "fr-input";
        input.type = "number";
        input.min = "1";
        input.max = "120";
      }
      var text = document.createElement("label");
      text.className = "fr-label";
      text.htmlFor = id;
      text.textContent = label;
      if (kind === "checkbox") {
        group.appendChild(input);
        group.appendChild(text);
      } else {
        group.appendChild(text);
        group.appendChild(input);
      }
      return { group: group, input: input };
    }
    function options(select, empty) {
      if (empty) {
        select.appendChild(new Option(empty, ""));
      }
      types.forEach(function (type) { select.appendChild(new Option(type[1], type[0])); });
    }
    function changed() {
      dirty = true;
    }
    function render() {
      box.textContent = "";
      rows.forEach(function (row, index) {
        var prefix = "designer-justificatif-" + index + "-";
        var set = document.createElement("fieldset");
        set.className = "fr-fieldset designer-justificatif";
        var legend = document.createElement("legend");
        legend.className = "fr-fieldset__legend fr-text--md";
        legend.textContent = "Justificatif n° " + (index + 1);
        set.appendChild(legend);
        var type = field("select", prefix + "type", "Type de document");
        options(type.input, rows[index].type ? null : "Choisir");
        type.input.value = row.type || "";
        type.input.addEventListener("change", function () { row.type = type.input.value; changed(); });
        var other = field("select", prefix + "ou", "Ou bien, à sa place (facultatif)");
        options(other.input, "Aucun autre");
        other.input.value = (row.any_of || [])[0] || "";
        other.input.addEventListener("change", function () {
          var rest = (row.any_of || []).slice(1);
          row.any_of = other.input.value ? [other.input.value].concat(rest) : rest;
          changed();
        });
        var age = field("number", prefix + "age", "Émis depuis moins de, en mois (facultatif)");
        age.input.value = row.max_age_months || "";
        age.input.addEventListener("change", function () {
          row.max_age_months = age.input.value ? Number(age.input.value) : null;
          changed();
        });
        var child = field("checkbox", prefix + "enfant", "Celui de l'enfant concerné par la demande");
        child.input.checked = row.member === "child";
        child.input.addEventListener("change", function () {
          row.member = child.input.checked ? "child" : null;
          changed();
        });
        var season = field("checkbox", prefix + "saison", "Encore valable au début de la saison");
        season.input.checked = row.valid_until_season === true;
        season.input.addEventListener("change", function () {
          row.valid_until_season = season.input.checked;
          changed();
        });
        var remove = document.createElement("button");
        remove.type = "button";
        remove.className = "fr-btn fr-btn--sm fr-btn--tertiary";
        remove.textContent = "Retirer le justificatif n° " + (index + 1);
        remove.addEventListener("click", function () {
          rows.splice(index, 1);
          changed();
          render();
        });
        [type, other, age, child, season, { group: remove }].forEach(function (f) {
          var element = document.createElement("div");
          element.className = "fr-fieldset__element";
          element.appendChild(f.group);
          set.appendChild(element);
        });
        box.appendChild(set);
      });
    }
    addButton.addEventListener("click", function () {
      rows.push({ type: "", count: 1, any_of: [], max_age_months: null, member: null,
                  valid_until_season: false });
      changed();
      render();
      document.getElementById("designer-justificatif-" + (rows.length - 1) + "-type").focus();
    });
    render();
    return {
      changed: function () { return dirty ? rows : null; },
      saved: function () { dirty = false; }
    };
  }
})();
