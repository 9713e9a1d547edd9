/* Deposit form, enhanced: upload with a progress bar, errors beside their field, and a
   drag-and-drop zone. Without this file the form is a plain POST that works the same. */
(function () {
  "use strict";

  var form = document.querySelector("form[data-depot]");
  if (!form || !window.FormData || !window.XMLHttpRequest) {
    return;
  }
  var input = form.querySelector("input[type=file]");
  var zone = form.querySelector("[data-depot-zone]");
  var status = form.querySelector("[data-depot-etat]");
  var progressParts = form.querySelectorAll("[data-depot-progression]");
  var progress = form.querySelector("progress[data-depot-progression]");
  var submit = form.querySelector("button[type=submit]");
  var maxBytes = parseInt(form.getAttribute("data-max-octets"), 10) || 0;
  var sending = false;

  function message(name) {
    return form.getAttribute("data-message-" + name) || "";
  }

  function groupOf(name) {
    return form.querySelector('[data-champ="' + name + '"]');
  }

  function setError(name, text) {
    var group = groupOf(name);
    if (!group) {
      return false;
    }
    var box = group.querySelector("[data-erreur]");
    var control = group.querySelector("input, select");
    var errorClass = group.getAttribute("data-classe-erreur");
    box.textContent = text;
    box.hidden = !text;
    group.classList.toggle(errorClass, Boolean(text));
    if (control) {
      if (text) {
        control.setAttribute("aria-invalid", "true");
      } else {
        control.removeAttribute("aria-invalid");
      }
    }
    return Boolean(text);
  }

  function clearErrors() {
    var groups = form.querySelectorAll("[data-champ]");
    for (var i = 0; i < groups.length; i += 1) {
      setError(groups[i].getAttribute("data-champ"), "");
    }
  }

  function showErrors(errors) {
    var first = null;
    Object.keys(errors).forEach(function (name) {
      if (setError(name, errors[name].join(" ")) && first === null) {
        first = groupOf(name).querySelector("input, select");
      }
    });
    status.textContent = message("erreurs");
    if (first) {
      first.focus();
    }
  }

  function showProgress(visible) {
    for (var i = 0; i < progressParts.length; i += 1) {
      progressParts[i].hidden = !visible;
    }
  }

  function finish() {
    sending = false;
    submit.disabled = false;
    showProgress(false);
  }

  function onLoad(xhr) {
    var body = null;
    try {
      body = JSON.parse(xhr.responseText);
    } catch (ignored) {
      body = null;
    }
    if (xhr.status >= 200 && xhr.status < 300 && body && body.redirect) {
      window.location.assign(body.redirect);
      return;
    }
    finish();
    if (body && body.errors) {
      showErrors(body.errors);
    } else if (xhr.status === 413) {
      setError(input.name, message("trop-gros"));
      status.textContent = message("trop-gros");
      input.focus();
    } else {
      status.textContent = message("echec");
    }
  }

  function send() {
    var xhr = new XMLHttpRequest();
    var announced = 0;
    xhr.open("POST", form.getAttribute("action") || window.location.href);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) {
        var percent = Math.floor((event.loaded / event.total) * 100);
        progress.value = percent;
        if (percent - announced >= 10) {
          // The status is a live region: say every tenth, not every event.
          announced = percent - (percent % 10);
          status.textContent = message("envoi").replace("{pourcent}", String(announced));
        }
      }
    });
    xhr.upload.addEventListener("load", function () {
      progress.value = 100;
      status.textContent = message("verification");
    });
    xhr.addEventListener("load", function () {
      onLoad(xhr);
    });
    xhr.addEventListener("error", function () {
      finish();
      status.textContent = message("echec");
    });
    sending = true;
    submit.disabled = true;
    progress.value = 0;
    status.textContent = message("envoi").replace("{pourcent}", "0");
    showProgress(true);
    xhr.send(new FormData(form));
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (sending) {
      return;
    }
    clearErrors();
    var file = input.files && input.files[0];
    if (file && maxBytes && file.size > maxBytes) {
      var errors = {};
      errors[input.name] = [message("trop-gros")];
      showErrors(errors);
      return;
    }
    send();
  });

  input.addEventListener("change", function () {
    setError(input.name, "");
  });

  if (zone && window.DataTransfer) {
    form.querySelector("[data-depot-glisser]").hidden = false;
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (event) {
        event.preventDefault();
        zone.classList.add("portail-depot-zone--survol");
      });
    });
    ["dragleave", "drop"].forEach(function (type) {
      zone.addEventListener(type, function () {
        zone.classList.remove("portail-depot-zone--survol");
      });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      var files = event.dataTransfer && event.dataTransfer.files;
      if (files && files.length) {
        input.files = files;
        input.dispatchEvent(new Event("change", { bubbles: true }));
        input.focus();
      }
    });
  }
})();
