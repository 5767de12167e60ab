// Permit forms (class "pm-form") on the shared SafetyForms (kiosk_ui forms.js): one submission at a time
// (the buttons disabled while it is in flight), an Idempotency-Key kept until it succeeds (a resend is the
// same permit, the same approval), data-confirm in the shared dialog, the apply form's draft (data-draft)
// kept over a reload and cleared once sent. What is the permits' own: the JSON shape (lists, numbers, the
// measures checklist, a gas sample, the JSA rows), opening the new permit, the grade list and the blinding
// fields following the work type, countdowns and the live state. Pages with a [data-watch] state reload when
// the permit's state changes (the live interlock suspends it).
(function () {
  "use strict";
  var F = window.SafetyForms;
  var I18N = JSON.parse(document.getElementById("i18n").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;

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
    if (form.querySelector(".jsa-rows")) body.jsa_rows = jsaRows(form);
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled || el.name === "draft_extra") return;
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

  var leaving = false;   // this page is already going to the next one

  function send(form) {
    return fetch(form.dataset.api, {
      method: form.dataset.method || "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Idempotency-Key": F.key(form) },
      body: JSON.stringify(collect(form))
    }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) throw new Error((j.error && j.error.message) || r.statusText);
        return j;
      });
    }).then(function (j) {
      F.show(true, I18N.saved);
      if (form.id === "permit-apply") clearExtra();
      var go = form.dataset.then === "detail" && j.id ? "/tablet/permits/" + j.id : null;
      if (!go) document.documentElement.dataset.reloading = "1";   // forms.js: saved, this page reloads
      // once: a resend answered from the kept answer must not start a second navigation that aborts the first
      setTimeout(function () {
        if (leaving) return;
        leaving = true;
        if (go) { location.href = go; } else { F.reload(); }
      }, 400);
      return j;
    });
  }

  document.querySelectorAll("form.pm-form").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      F.guarded(form, function () { return send(form); });   // F.done(form) follows a success
    });
  });

  // ---- the JSA rows (作业危害分析): add and remove steps; kept in the draft with the people picked
  var apply = document.getElementById("permit-apply");
  var rowsEl = apply && apply.querySelector(".jsa-rows");
  var extra = document.getElementById("pm-draft-extra");

  function jsaRows(form) {
    return Array.prototype.map.call(form.querySelectorAll(".jsa-row"), function (li) {
      var r = {};
      li.querySelectorAll("[data-jsa]").forEach(function (el) { r[el.dataset.jsa] = el.value.trim(); });
      return r;
    }).filter(function (r) { return r.step || r.hazards || r.measures || r.responsible; });
  }
  function addRow(values) {
    var li = document.getElementById("pm-jsa-row").content.firstElementChild.cloneNode(true);
    li.querySelectorAll("[data-jsa]").forEach(function (el) { el.value = (values || {})[el.dataset.jsa] || ""; });
    li.querySelector(".jsa-remove").addEventListener("click", function () { li.remove(); keep(); });
    rowsEl.appendChild(li);
    return li;
  }
  function picked(name) {
    var el = apply.querySelector("select[name=" + name + "]");
    return el ? Array.prototype.filter.call(el.options, function (o) { return o.selected; })
      .map(function (o) { return o.value; }) : [];
  }
  // the rows and the multiple choices go into the draft's textarea before forms.js saves the draft (capture)
  function keep() {
    if (!extra) return;
    extra.value = JSON.stringify({ jsa: jsaRows(apply), workers: picked("workers"), cameras: picked("cameras") });
    apply.dispatchEvent(new Event("input", { bubbles: true }));
  }
  function clearExtra() {
    try { localStorage.removeItem("draft:" + location.pathname + ":" + apply.dataset.draft); } catch (e) { /* none */ }
  }
  if (rowsEl) {
    var saved = null;
    try { saved = JSON.parse(extra.value || "null"); } catch (e) { saved = null; }   // forms.js restored it
    (saved && saved.jsa && saved.jsa.length ? saved.jsa : [null]).forEach(addRow);
    if (saved) {
      ["workers", "cameras"].forEach(function (name) {
        var el = apply.querySelector("select[name=" + name + "]");
        if (el && saved[name]) Array.prototype.forEach.call(el.options, function (o) { o.selected = saved[name].indexOf(o.value) >= 0; });
      });
    }
    document.getElementById("pm-jsa-add").addEventListener("click", function () {
      addRow().querySelector("[data-jsa=step]").focus();
      keep();
    });
    apply.addEventListener("input", function (e) { if (e.target !== apply) keep(); }, true);
    apply.addEventListener("change", function (e) { if (e.isTrusted && e.target.tagName === "SELECT") keep(); }, true);
  }

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
  // the blinding permit's line conditions: shown and required for 盲板抽堵 only; the JSA marked required
  // for the types and grades that need one (chain.JSA_REQUIRED)
  var blind = document.getElementById("pm-blind");
  var needJsa = apply ? JSON.parse(apply.dataset.jsaRequired || "{}") : {};
  function follow() {
    if (blind) {
      var on = type.value === "blinding";
      blind.hidden = !on;
      blind.querySelectorAll("input").forEach(function (el) { el.required = on; el.disabled = !on; });
    }
    var req = document.getElementById("pm-jsa-req");
    if (req) req.hidden = (needJsa[type.value] || []).indexOf(grade.value) < 0 &&
                          !(type.value === "blinding" && grade.value === "-" && needJsa.blinding);
  }
  if (type && grade) {
    type.addEventListener("change", function () { grades(); follow(); });
    grade.addEventListener("change", follow);
    grades(); follow();
  }

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
