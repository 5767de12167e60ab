// Tablet and admin forms: send to the JSON API with the CSRF token, show the outcome, reload on success.
(function () {
  "use strict";
  var I18N = JSON.parse(document.getElementById("i18n").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var statusEl = document.getElementById("form-status");

  function show(ok, msg) {
    statusEl.className = "form-status " + (ok ? "ok" : "error");
    statusEl.textContent = msg;
  }

  function send(url, method, body, onOk) {
    return fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      if (r.status === 204) return {};
      return r.json().then(function (j) {
        if (!r.ok) throw new Error((j.error && j.error.message) || r.statusText);
        return j;
      });
    }).then(function (j) { show(true, I18N.saved); (onOk || function () { setTimeout(function () { location.reload(); }, 600); })(j); })
      .catch(function (e) { show(false, I18N.error.replace("{message}", e.message)); });
  }

  // A photo (camera on a phone or tablet) is uploaded first; the form then sends the hash the server gave.
  function uploadPhotos(form) {
    var files = Array.prototype.filter.call(form.querySelectorAll("input[type=file]"), function (el) {
      return el.files && el.files.length;
    });
    return Promise.all(files.map(function (el) {
      var fd = new FormData();
      fd.append("photo", el.files[0]);
      return fetch("/api/v1/photos", { method: "POST", credentials: "same-origin", body: fd,
                                       headers: { "X-CSRF-Token": csrf } })
        .then(function (r) { return r.json().then(function (j) {
          if (!r.ok) throw new Error((j.error && j.error.message) || r.statusText);
          return [el.name, j.sha256];
        }); });
    }));
  }

  document.querySelectorAll("form.api-form").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      uploadPhotos(form).then(function (hashes) { submit(form, hashes); })
        .catch(function (err) { show(false, I18N.error.replace("{message}", err.message)); });
    });
  });

  function submit(form, hashes) {
      var body = {};
      hashes.forEach(function (h) { body[h[0]] = h[1]; });
      Array.prototype.forEach.call(form.elements, function (el) {
        if (!el.name || el.value === "" || el.type === "file") return;
        var v = el.dataset.type === "int" ? parseInt(el.value, 10)
              : el.dataset.type === "bool" ? el.value === "true" : el.value;
        var dot = el.name.indexOf(".");             // "plan.target" → body.plan.target
        if (dot > 0) {
          var k = el.name.slice(0, dot);
          body[k] = body[k] || {};
          body[k][el.name.slice(dot + 1)] = v;
        } else {
          body[el.name] = v;
        }
      });
      var onOk;
      if (form.dataset.show) {
        onOk = function (j) { show(true, form.dataset.showPrefix + j[form.dataset.show]); };
      }
      send(form.dataset.api, form.dataset.method, body, onOk);
  }

  document.querySelectorAll("button.api-button").forEach(function (b) {
    b.addEventListener("click", function () {
      send(b.dataset.api, b.dataset.method, b.dataset.body ? JSON.parse(b.dataset.body) : undefined);
    });
  });
})();
