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
          F.reloadSoon(600);
        });
      });
    });
  });

  // "重复 / Duplicate" on a reported hazard: open its picker, filled once with the likely originals (same
  // area and category, reported within a few days: rules.duplicate_candidates). Sending is forms.js's
  // api-form: the shared confirm dialog first, one request at a time, an idempotency key.
  function fill(form) {
    var select = form.querySelector("select[name=duplicate_of]");
    return fetch("/api/v1/hazards/" + form.dataset.hazard + "/duplicate-candidates", { credentials: "same-origin" })
      .then(json).then(function (j) {
        j.hazards.forEach(function (h) {
          var o = document.createElement("option");
          o.value = h.id;
          o.textContent = "#" + h.id + " · " + (I18N.states[h.state] || h.state) + " · " + h.description.slice(0, 40);
          select.appendChild(o);
        });
        form.querySelector(".dup-none").hidden = j.hazards.length > 0;
        if (j.hazards.length === 1) select.value = String(j.hazards[0].id);
        select.dispatchEvent(new Event("change"));
      }, function (e) { show(false, (I18N.error || "{message}").replace("{message}", e.message)); });
  }

  document.querySelectorAll("button.dup-open").forEach(function (b) {
    var form = document.getElementById(b.getAttribute("aria-controls"));
    var select = form.querySelector("select[name=duplicate_of]");
    select.addEventListener("change", function () {   // the dialog names the original chosen
      if (select.value) {
        form.dataset.confirm = I18N.dup_confirm.replace("{id}", form.dataset.hazard).replace("{original}", select.value);
      }
    });
    b.addEventListener("click", function () {
      var open = form.hidden;
      form.hidden = !open;
      b.setAttribute("aria-expanded", open ? "true" : "false");
      if (open && !form.dataset.filled) {
        form.dataset.filled = "1";
        fill(form);
      }
      if (open) select.focus();
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
