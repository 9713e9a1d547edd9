// The attendance sheet on a site's slow connection: each tap is sent in the background; a tap
// that cannot leave waits in this browser (localStorage) and is sent again once back online.
// The server records the same tap twice only once, so a resend never counts a child twice.
(function () {
  "use strict";
  var KEY = "portail-pointages";
  var sheet = document.querySelector("[data-feuille]");
  if (!sheet || !window.fetch || !window.localStorage) {
    return; // the plain forms work without this script
  }

  function pending() {
    try {
      return JSON.parse(localStorage.getItem(KEY) || "[]");
    } catch (error) {
      return [];
    }
  }

  function save(queue) {
    localStorage.setItem(KEY, JSON.stringify(queue));
  }

  function show(row, present, waiting) {
    var state = row.querySelector("[data-etat]");
    state.textContent = present ? sheet.dataset.present : sheet.dataset.absent;
    state.className = "fr-badge fr-badge--sm " + (present ? "fr-badge--success" : "fr-badge--error");
    var note = row.querySelector("[data-attente]");
    note.hidden = !waiting;
    row.querySelectorAll("button[name=action]").forEach(function (button) {
      var chosen = (button.value === "present") === present;
      button.classList.toggle("fr-btn--secondary", !chosen);
      button.setAttribute("aria-pressed", chosen ? "true" : "false");
    });
  }

  function send(tap) {
    var body = new URLSearchParams(tap.fields);
    return fetch(tap.url, { method: "POST", body: body, credentials: "same-origin" }).then(
      function (response) {
        if (!response.ok) {
          throw new Error("refused");
        }
      }
    );
  }

  function flush() {
    var queue = pending();
    if (!queue.length || !navigator.onLine) {
      return Promise.resolve();
    }
    var tap = queue[0];
    return send(tap).then(
      function () {
        save(pending().slice(1));
        var row = document.getElementById("enfant-" + tap.fields.enfant);
        if (row && tap.url === window.location.pathname) {
          show(row, tap.fields.action === "present", false);
        }
        return flush();
      },
      function () {
        // still offline, or refused (the sheet was closed meanwhile): the page says so on reload
      }
    );
  }

  sheet.querySelectorAll("form[data-pointage]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (!button || !button.value) {
        return;
      }
      event.preventDefault();
      var fields = {};
      new FormData(form).forEach(function (value, name) {
        fields[name] = value;
      });
      fields.action = button.value;
      var tap = { url: form.getAttribute("action"), fields: fields };
      var row = form.closest("li");
      show(row, button.value === "present", true);
      save(pending().concat([tap]));
      flush();
    });
  });

  window.addEventListener("online", flush);
  flush();
})();
