// Hazard forms that forms.js cannot send (ticked checklists as arrays, numbers) — class "hz-form". The
// guard against double submits, the idempotency key and the draft are forms.js's (window.SafetyForms).
(function () {
  "use strict";
  var I18N = JSON.parse(document.getElementById("i18n").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var statusEl = document.getElementById("form-status");

  function show(ok, msg) {
    statusEl.className = "form-status " + (ok ? "ok" : "error");
    statusEl.textContent = msg;
  }

  function json(r) {
    if (r.status === 204) return {};
    return r.json().then(function (j) {
      if (!r.ok) throw new Error((j.error && j.error.message) || r.statusText);
      return j;
    });
  }

  function upload(el) {
    var fd = new FormData();
    fd.append("photo", el.files[0]);
    return fetch("/api/v1/photos", { method: "POST", credentials: "same-origin", body: fd,
                                     headers: { "X-CSRF-Token": csrf } })
      .then(json).then(function (j) { return [el.name, j.sha256]; });
  }

  function collect(form, hashes) {
    var body = {};
    hashes.forEach(function (h) { body[h[0]] = h[1]; });
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.type === "file" || el.disabled) return;
      if (el.type === "checkbox") {
        body[el.name] = body[el.name] || [];
        if (el.checked) body[el.name].push(el.value);
        return;
      }
      if (el.value === "") return;
      var v = el.dataset.type === "int" ? parseInt(el.value, 10)
            : el.dataset.type === "number" ? parseFloat(el.value)
            : el.dataset.type === "bool" ? el.value === "true" : el.value;
      var dot = el.name.indexOf(".");
      if (dot > 0) {
        var k = el.name.slice(0, dot);
        body[k] = body[k] || {};
        body[k][el.name.slice(dot + 1)] = v;
      } else {
        body[el.name] = v;
      }
    });
    return body;
  }

  var F = window.SafetyForms;   // forms.js: the in-flight guard, the idempotency key, drafts

  document.querySelectorAll("form.hz-form").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      F.guarded(form, function () {
        var files = Array.prototype.filter.call(form.querySelectorAll("input[type=file]"), function (el) {
          return el.files && el.files.length;
        });
        return Promise.all(files.map(upload)).then(function (hashes) {
          return fetch(form.dataset.api, { method: form.dataset.method || "POST", credentials: "same-origin",
                                           headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf,
                                                      "Idempotency-Key": F.key(form) },
                                           body: JSON.stringify(collect(form, hashes)) }).then(json);
        }).then(function () {
          show(true, I18N.saved);
          setTimeout(function () { location.reload(); }, 600);
        });
      });
    });
  });

  // The report form: a ticked 121号 item makes it a major hazard (the server forces it too), and a major
  // hazard shows the Art. 14 fields.
  var report = document.getElementById("hazard-report");
  if (report) {
    var grade = report.querySelector("select[name=grade]");
    var art14 = document.getElementById("art14-fields");
    var forced = document.getElementById("grade-forced");
    var update = function () {
      var ticked = report.querySelectorAll("input[name=checklist]:checked").length > 0;
      if (ticked) grade.value = "major";
      grade.querySelector("option[value=general]").disabled = ticked;
      forced.hidden = !ticked;
      art14.hidden = grade.value !== "major";
    };
    report.addEventListener("change", update);
    update();
  }
})();
