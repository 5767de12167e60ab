// The emergency master-data screen (/tablet/emergency/setup): forms with rows (team members, plan steps,
// walk-graph edges) sent as JSON through SafetyForms (one request at a time, an Idempotency-Key per form
// until it succeeds); "edit" fills a form from its record; a refusal marks the field it names and says which
// (its label, and the row) beside the form; retiring is a forms.js api-button with the shared confirm dialog.
(function () {
  "use strict";
  var F = window.SafetyForms;
  var I18N = JSON.parse(document.getElementById("i18n").textContent);
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var en = (document.documentElement.lang || "").indexOf("en") === 0;

  function addRow(box, values) {
    var tpl = box.querySelector("template");
    var row = tpl.content.firstElementChild.cloneNode(true);
    box.appendChild(row);
    row.querySelector(".row-remove").addEventListener("click", function () { row.remove(); });
    Object.keys(values || {}).forEach(function (k) {
      var el = row.querySelector('[data-field="' + k + '"]');
      if (el && values[k] !== null && values[k] !== undefined) el.value = String(values[k]);
    });
    return row;
  }

  function rowsOf(box) { return box.querySelectorAll(".em-rowitem"); }

  function fill(form, rec) {
    form.reset();
    form.querySelectorAll("[data-rows]").forEach(function (box) {
      rowsOf(box).forEach(function (r) { r.remove(); });
      (rec[box.dataset.rows] || []).forEach(function (v) { addRow(box, v); });
      if (!rowsOf(box).length) addRow(box);
    });
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || !(el.name in rec) || rec[el.name] === null) return;
      el.value = String(rec[el.name]);
    });
    var key = form.querySelector("[data-key]");
    if (key) key.readOnly = !!rec[key.name];      // the code (or the team's name) is what an edit is keyed by
    clearErrors(form);
  }

  function value(el) {
    var t = el.dataset.type;
    return t === "int" ? parseInt(el.value, 10) : t === "number" ? parseFloat(el.value)
         : t === "bool" ? el.value === "true" : el.value;
  }

  function collect(form) {
    var body = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled || el.value === "") return;
      body[el.name] = value(el);
    });
    form.querySelectorAll("[data-rows]").forEach(function (box) {
      body[box.dataset.rows] = Array.prototype.map.call(rowsOf(box), function (row) {
        var o = {};
        row.querySelectorAll("[data-field]").forEach(function (el) { if (el.value !== "") o[el.dataset.field] = value(el); });
        return o;
      });
    });
    return body;
  }

  // "members.1.phone" / "edges[0].a" → the input, and how to name it: its label (and the row's number)
  function fieldFor(form, key) {
    var parts = key.replace(/\[(\d+)\]/g, ".$1").split(".");
    if (parts.length >= 2 && /^\d+$/.test(parts[1])) {
      var box = form.querySelector('[data-rows="' + parts[0] + '"]');
      var row = box && rowsOf(box)[parseInt(parts[1], 10)];
      var el = row && (parts[2] ? row.querySelector('[data-field="' + parts[2] + '"]') : row.querySelector("[data-field]"));
      return el ? { el: el, name: label(el) + I18N.row.replace("{n}", parseInt(parts[1], 10) + 1) } : null;
    }
    var top = form.querySelector('[name="' + parts[0] + '"]');
    if (top) return { el: top, name: label(top) };
    var rows = form.querySelector('[data-rows="' + parts[0] + '"]');
    return rows ? { el: rows, name: (rows.previousElementSibling || rows).textContent.trim() } : null;
  }

  function label(el) {
    var l = el.closest("label");
    if (!l) return el.name || el.dataset.field || "";
    var own = Array.prototype.filter.call(l.childNodes, function (n) { return n.nodeType === 3; })
      .map(function (n) { return n.textContent.trim(); }).join(" ").trim();
    return own || l.textContent.trim();
  }

  function clearErrors(form) {
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
    var box = form.querySelector(".em-form-error");
    if (box) box.textContent = "";
  }

  // the refusal in the page's language (the API answers in the browser's, which may differ)
  function pageText(j) {
    var e = j.error || {};
    return (e.messages && e.messages[en ? "en" : "zh-CN"]) || e.message || "";
  }

  function showErrors(form, j) {
    var details = (j.error && j.error.details) || [];
    var lines = details.map(function (d) {
      var f = d.key ? fieldFor(form, d.key) : null;
      if (f) { f.el.setAttribute("aria-invalid", "true"); }
      var msg = (en ? d.en : d.zh) || pageText(j);
      msg = msg.replace(/^[\w.\[\]]+[：:]\s*/, "");     // the key itself is replaced by the field's name
      return (f ? f.name + (en ? ": " : "：") : "") + msg;
    });
    if (!lines.length) lines = [pageText(j)];
    var box = form.querySelector(".em-form-error");
    if (box) box.textContent = lines.join(en ? "; " : "；");
    var first = form.querySelector("[aria-invalid]");
    if (first && first.focus) first.focus();
    return lines.join(en ? "; " : "；");
  }

  function post(form) {
    var headers = { "Content-Type": "application/json", "X-CSRF-Token": csrf, "Idempotency-Key": F.key(form) };
    return fetch(form.dataset.api, { method: form.dataset.method || "POST", credentials: "same-origin",
                                     headers: headers, body: JSON.stringify(collect(form)) })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (!r.ok) throw new Error(showErrors(form, j) || r.statusText);
          return j;
        });
      });
  }

  document.querySelectorAll("form.em-setup-form").forEach(function (form) {
    form.querySelectorAll("[data-rows]").forEach(function (box) {
      var start = form.dataset.json ? (JSON.parse(form.dataset.json)[box.dataset.rows] || []) : [];
      start.forEach(function (v) { addRow(box, v); });
      if (!start.length) addRow(box);
    });
    form.querySelectorAll("[data-add-row]").forEach(function (b) {
      b.addEventListener("click", function () {
        var row = addRow(form.querySelector('[data-rows="' + b.dataset.addRow + '"]'));
        var first = row.querySelector("input, select");
        if (first) first.focus();
      });
    });
    var fresh = form.querySelector("[data-new]");
    if (fresh) fresh.addEventListener("click", function () { fill(form, {}); F.done(form); });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      clearErrors(form);
      F.guarded(form, function () {
        return post(form).then(function () {
          F.show(true, I18N.saved);
          F.reloadSoon(400);
        });
      });
    });
  });

  document.querySelectorAll("button[data-edit]").forEach(function (b) {
    b.addEventListener("click", function () {
      var form = document.getElementById(b.dataset.edit);
      fill(form, JSON.parse(b.dataset.json));
      F.done(form);            // another record: a new key
      form.scrollIntoView({ block: "start" });
      var first = form.querySelector("input:not([readonly]):not([type=hidden]), select");
      if (first) first.focus();
    });
  });
})();
