// Contractor forms (class "ct-form") and action buttons ("ct-button"), on the shared SafetyForms
// (kiosk_ui forms.js: one submission at a time, an Idempotency-Key, data-confirm dialogs, photo upload).
// What is contractors' own: ticked checkboxes become arrays (data-type="int" → numbers) and the pressed
// submit button's name and value are sent too (approve / reject). Success reloads the page.
(function () {
  "use strict";
  var F = window.SafetyForms;
  var I18N = JSON.parse(document.getElementById("i18n").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;

  function value(el) {
    return el.dataset.type === "int" ? parseInt(el.value, 10)
         : el.dataset.type === "bool" ? el.value === "true" : el.value;
  }
  function collect(form, submitter, hashes) {
    var body = {};
    hashes.forEach(function (h) { body[h[0]] = h[1]; });
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
  function send(url, method, body, idem) {
    return fetch(url, { method: method, credentials: "same-origin", body: JSON.stringify(body),
                        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Idempotency-Key": idem } })
      .then(function (r) {
        if (r.status === 204) return {};
        return r.json().then(function (j) {
          if (!r.ok) throw new Error((j.error && j.error.message) || r.statusText);
          return j;
        });
      }).then(function (j) {
        F.show(true, I18N.saved);
        F.reloadSoon(500);
        return j;
      });
  }
  function photos(form) {
    return Promise.all(Array.prototype.filter.call(form.querySelectorAll("input[type=file]"), function (el) {
      return el.files && el.files.length;
    }).map(F.upload));
  }

  document.querySelectorAll("form.ct-form").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var submitter = e.submitter;
      F.guarded(form, function () {
        return photos(form).then(function (hashes) {
          return send(form.dataset.api, form.dataset.method || "POST", collect(form, submitter, hashes), F.key(form));
        });
      });
    });
  });
  // the face check's enrolment: the photo goes to the enrolment itself (multipart), never to the photo
  // store, and is not kept once the template is made
  document.querySelectorAll("form.ct-face").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      F.guarded(form, function () {
        var data = new FormData(form);
        return fetch(form.dataset.api, { method: "POST", credentials: "same-origin", body: data,
                                         headers: { "X-CSRF-Token": csrf, "Idempotency-Key": F.key(form) } })
          .then(function (r) {
            return r.json().then(function (j) {
              if (!r.ok) throw new Error((j.error && j.error.message) || r.statusText);
              F.show(true, I18N.saved);
              F.reloadSoon(500);
              return j;
            });
          });
      });
    });
  });
  document.querySelectorAll("button.ct-button").forEach(function (b) {
    b.addEventListener("click", function () {
      F.guarded(b, function () {
        return send(b.dataset.api, b.dataset.method || "POST", b.dataset.body ? JSON.parse(b.dataset.body) : {}, F.key(b));
      });
    });
  });
})();
