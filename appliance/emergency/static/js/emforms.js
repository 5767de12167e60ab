// Emergency forms (class "em-form"): JSON to the API with the CSRF token, one request at a time (a double
// click submits once), the outcome in #form-status; then open the new record (data-open) or reload. The
// muster roll reloads on each emergency.* event of its stream so a tap shows within a second.
(function () {
  "use strict";
  var I18N = JSON.parse(document.getElementById("i18n").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var statusEl = document.getElementById("form-status");

  function show(ok, msg) {
    statusEl.className = "form-status " + (ok ? "ok" : "error");
    statusEl.textContent = msg;
  }

  function collect(form) {
    var body = {};
    if (form.classList.contains("investigation")) {
      body.why = []; body.fishbone = {};
      form.querySelectorAll("[data-why]").forEach(function (el) { if (el.value.trim()) body.why.push(el.value.trim()); });
      form.querySelectorAll("[data-fish]").forEach(function (el) { if (el.value.trim()) body.fishbone[el.dataset.fish] = el.value.trim(); });
    }
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled || el.value === "") return;
      var t = el.dataset.type;
      body[el.name] = t === "int" ? parseInt(el.value, 10) : t === "number" ? parseFloat(el.value)
                    : t === "ms" ? new Date(el.value).getTime() : el.value;
    });
    return body;
  }

  document.querySelectorAll("form.em-form").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (form.dataset.busy) return;
      form.dataset.busy = "1";
      var buttons = form.querySelectorAll("button");
      buttons.forEach(function (b) { b.disabled = true; });
      fetch(form.dataset.api, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(collect(form))
      }).then(function (r) {
        return r.json().then(function (j) {
          if (!r.ok) throw new Error((j.error && j.error.message) || r.statusText);
          return j;
        });
      }).then(function (j) {
        show(true, I18N.saved);
        var rec = form.dataset.openKey ? j[form.dataset.openKey] : j;
        setTimeout(function () {
          if (form.dataset.open && rec && rec.id) location.href = form.dataset.open + rec.id;
          else location.reload();
        }, 400);
      }).catch(function (err) {
        show(false, I18N.error.replace("{message}", err.message));
        delete form.dataset.busy;
        buttons.forEach(function (b) { b.disabled = false; });
      });
    });
  });

  // the muster roll follows the stream: a tap at the assembly point shows at once
  var roll = document.getElementById("em-roll");
  if (roll && window.EventSource) {
    var src = new EventSource("/api/v1/stream?last_event_id=" + encodeURIComponent(roll.dataset.head || ""));
    src.onmessage = function (m) {
      var ev; try { ev = JSON.parse(m.data); } catch (x) { return; }
      if (ev.type && /^emergency\.(mustered|muster_started|incident_closed|incident_opened)/.test(ev.type)) {
        src.close(); location.reload();
      }
    };
  }
})();
