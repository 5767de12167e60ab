// Permit forms (class "pm-form"): send JSON to the API with the CSRF token, one request at a time (a double
// click submits once), show the outcome in #form-status, reload (or open the new permit) on success. Pages
// with a [data-watch] state reload when the permit's state changes (the live interlock suspends it).
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
    if (form.classList.contains("measures")) {
      var by = form.querySelector("input[name=by]").value.trim();
      body.measures = {};
      form.querySelectorAll("input[data-measure]").forEach(function (el) {
        body.measures[el.dataset.measure] = { applies: el.checked, by: by };
      });
      return body;
    }
    if (form.classList.contains("analysis")) {
      var s = {};
      form.querySelectorAll("[data-sample]").forEach(function (el) { s[el.dataset.sample] = el.value; });
      s.value = parseFloat(s.value);
      body.samples = [s];
    }
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled) return;
      var t = el.dataset.type;
      if (t === "int-list" || t === "str-list") {
        var picked = Array.prototype.filter.call(el.options, function (o) { return o.selected; })
          .map(function (o) { return t === "int-list" ? parseInt(o.value, 10) : o.value; });
        if (t === "str-list" && !picked.length) return;   // none chosen: the server's default
        body[el.name] = picked;
        return;
      }
      if (el.value === "") return;
      body[el.name] = t === "int" ? parseInt(el.value, 10) : t === "ms" ? new Date(el.value).getTime()
                    : t === "number" ? parseFloat(el.value) : el.value;
    });
    return body;
  }

  document.querySelectorAll("form.pm-form").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (form.dataset.busy) return;
      form.dataset.busy = "1";
      var buttons = form.querySelectorAll("button");
      buttons.forEach(function (b) { b.disabled = true; });
      fetch(form.dataset.api, {
        method: form.dataset.method || "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(collect(form))
      }).then(function (r) {
        return r.json().then(function (j) {
          if (!r.ok) throw new Error((j.error && j.error.message) || r.statusText);
          return j;
        });
      }).then(function (j) {
        show(true, I18N.saved);
        var go = form.dataset.then === "detail" && j.id ? "/tablet/permits/" + j.id : null;
        setTimeout(function () { if (go) { location.href = go; } else { location.reload(); } }, 400);
      }).catch(function (err) {
        show(false, I18N.error.replace("{message}", err.message));
        form.dataset.busy = "";
        buttons.forEach(function (b) { b.disabled = false; });
      });
    });
  });

  // the grade list follows the work type
  var type = document.getElementById("pm-type"), grade = document.getElementById("pm-grade");
  function grades() {
    var first = null;
    Array.prototype.forEach.call(grade.options, function (o) {
      o.hidden = o.disabled = o.dataset.type !== type.value;
      if (!o.disabled && !first) first = o;
    });
    if (grade.selectedOptions[0] && grade.selectedOptions[0].disabled && first) first.selected = true;
  }
  if (type && grade) { type.addEventListener("change", grades); grades(); }

  // countdowns to expiry and re-analysis
  function countdowns() {
    document.querySelectorAll(".countdown[data-until]").forEach(function (el) {
      var s = Math.round((parseInt(el.dataset.until, 10) - Date.now()) / 1000);
      var sign = s < 0 ? "-" : "";
      s = Math.abs(s);
      el.textContent = "(" + sign + Math.floor(s / 3600) + ":" + ("0" + Math.floor(s % 3600 / 60)).slice(-2) + ")";
    });
  }
  countdowns();
  setInterval(countdowns, 1000);

  // live state: reload when a watched permit's state changes
  var watched = document.querySelectorAll("[data-watch]");
  if (watched.length) {
    setInterval(function () {
      watched.forEach(function (el) {
        fetch("/api/v1/permits/" + el.dataset.watch, { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (j) {
            var busy = document.querySelector("form[data-busy='1']");
            var ppe = el.dataset.ppe === undefined ? null : parseInt(el.dataset.ppe, 10);
            var more = j && ppe !== null && (j.violations || []).length > ppe;
            if (more && navigator.vibrate) navigator.vibrate([300, 100, 300]);   // the guardian's phone
            if (j && (j.state !== el.dataset.state || more) && !busy) location.reload();
          }).catch(function () {});
      });
    }, 2000);
  }

  // the list refreshes live: on each permit.* event (SSE, for roles that read the event log) or every 5 s,
  // the list is re-read from the page and swapped in; the apply form below it keeps what is typed
  var listEl = document.getElementById("permits");
  if (listEl) {
    var pendingList = null;
    var reloadList = function () {
      pendingList = null;
      fetch(location.pathname, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) return;
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("permits");
          if (fresh && fresh.innerHTML !== listEl.innerHTML) listEl.innerHTML = fresh.innerHTML;
          listEl.dataset.refreshed = String(Date.now());
        }).catch(function () {});
    };
    var later = function () { if (!pendingList) pendingList = setTimeout(reloadList, 200); };
    if (listEl.dataset.live !== "" && window.Live) {
      Live.connect(parseInt(listEl.dataset.live, 10) || 0, function (ev) {
        if (ev.type.indexOf("permit.") === 0) later();
      });
      setInterval(later, 30000);
    } else {
      setInterval(later, 5000);
    }
  }
})();
