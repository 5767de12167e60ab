// Contractor forms (class "ct-form") and action buttons ("ct-button"): sent to the JSON API with the CSRF
// token; ticked checkboxes become arrays (data-type="int" → numbers), the pressed submit button's name and
// value are sent too (approve / reject), a file input is uploaded first and its hash sent. A form's buttons
// stay disabled while its request is in flight (no double submit); success reloads the page.
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
  function value(el) {
    return el.dataset.type === "int" ? parseInt(el.value, 10)
         : el.dataset.type === "bool" ? el.value === "true" : el.value;
  }
  function collect(form, submitter) {
    var body = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.type === "file" || el.type === "submit" || el.tagName === "BUTTON" || el.disabled) return;
      if (el.type === "checkbox") {
        body[el.name] = body[el.name] || [];
        if (el.checked) body[el.name].push(value(el));
        return;
      }
      if (el.value === "") return;
      body[el.name] = value(el);
    });
    if (submitter && submitter.name) body[submitter.name] = submitter.value;
    return body;
  }
  function upload(form) {
    var files = Array.prototype.filter.call(form.querySelectorAll("input[type=file]"), function (el) {
      return el.files && el.files.length;
    });
    return Promise.all(files.map(function (el) {
      var fd = new FormData();
      fd.append("photo", el.files[0]);
      return fetch("/api/v1/photos", { method: "POST", credentials: "same-origin", body: fd,
                                       headers: { "X-CSRF-Token": csrf } })
        .then(json).then(function (j) { return [el.name, j.sha256]; });
    }));
  }
  function send(url, method, body) {
    return fetch(url, { method: method, credentials: "same-origin",
                        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
                        body: JSON.stringify(body) }).then(json);
  }
  function setBusy(buttons, on) {
    buttons.forEach(function (b) { b.disabled = on; });
  }
  function done() { show(true, I18N.saved); setTimeout(function () { location.reload(); }, 500); }
  function failed(buttons) {
    return function (e) { setBusy(buttons, false); show(false, I18N.error.replace("{message}", e.message)); };
  }

  document.querySelectorAll("form.ct-form").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (form.dataset.busy === "1") return;
      form.dataset.busy = "1";
      var buttons = Array.prototype.slice.call(form.querySelectorAll("button"));
      var submitter = e.submitter;
      setBusy(buttons, true);
      upload(form).then(function (hashes) {
        var body = collect(form, submitter);
        hashes.forEach(function (h) { body[h[0]] = h[1]; });
        return send(form.dataset.api, form.dataset.method || "POST", body);
      }).then(done).catch(function (err) { form.dataset.busy = ""; failed(buttons)(err); });
    });
  });
  document.querySelectorAll("button.ct-button").forEach(function (b) {
    b.addEventListener("click", function () {
      if (b.dataset.busy === "1") return;
      b.dataset.busy = "1";
      setBusy([b], true);
      send(b.dataset.api, b.dataset.method || "POST", b.dataset.body ? JSON.parse(b.dataset.body) : {})
        .then(done).catch(function (err) { b.dataset.busy = ""; failed([b])(err); });
    });
  });
})();
