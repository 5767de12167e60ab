// Tablet and admin forms: send to the JSON API with the CSRF token, show the outcome, reload on success.
//
// Shared by every page (window.SafetyForms, also used by the domains' own form scripts):
// - a submit stays disabled while its request is in flight (a double tap sends once);
// - each submission carries an Idempotency-Key generated here once per form and kept until it succeeds,
//   so a resend after a lost answer is recognised by the server as the same report;
// - a form with data-draft keeps what was typed in localStorage until it is sent (a reload loses nothing);
// - a form or button with data-confirm asks first, in a dialog with glove-sized buttons.
(function () {
  "use strict";
  var I18N = JSON.parse((document.getElementById("i18n") || {}).textContent || "{}");
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var statusEl = document.getElementById("form-status");

  function show(ok, msg) {
    if (!statusEl) return;
    statusEl.className = "form-status " + (ok ? "ok" : "error");
    statusEl.textContent = msg;
  }

  // The outcome survives the reload that follows a save: a user who looked away for the 600 ms it was
  // shown still reads "已保存" on the reloaded page (sessionStorage: this tab only, removed once shown).
  var FLASH = "form-flash:" + location.pathname;
  function flashThenReload(msg) {
    if (!msg && statusEl && statusEl.classList.contains("ok")) msg = statusEl.textContent;
    try { if (msg) sessionStorage.setItem(FLASH, msg); } catch (e) { /* no storage: the reload still shows the record */ }
    location.reload();
  }
  // A save that reloads the page to show its record: marked on <html data-reloading> until it does, so what
  // watches the page (a test, an assistive tool) can tell "saved, page about to change" from "saved, done".
  function reloadSoon(ms) {
    document.documentElement.dataset.reloading = "1";
    setTimeout(function () { flashThenReload(); }, ms);
  }
  // A new submission starts with no outcome shown: the "已保存" of the save before it (kept across the reload)
  // must not read as this one's. Capture phase: before any form's own submit handler (the domains' scripts).
  function clearOk() {
    if (statusEl && statusEl.classList.contains("ok")) { statusEl.className = "form-status"; statusEl.textContent = ""; }
  }
  document.addEventListener("submit", clearOk, true);
  (function showFlash() {
    var msg = null;
    try { msg = sessionStorage.getItem(FLASH); sessionStorage.removeItem(FLASH); } catch (e) { return; }
    if (msg) show(true, msg);
  })();

  function errorText(e) { return (I18N.error || "{message}").replace("{message}", e.message); }

  // A field the browser refuses on submit (required and empty, a pattern, a range): its own bubble fades and
  // names no field, so the status line names them by their labels, in the page's language ("请填写：角色").
  // The browser fires `invalid` on each refused field of the form in one go: they are gathered, then shown.
  var refused = null;
  function fieldName(el) {
    var label = el.closest("label") || (el.id && document.querySelector('label[for="' + el.id + '"]'));
    var text = "";
    if (label) Array.prototype.forEach.call(label.childNodes, function (n) { if (n.nodeType === 3) text += n.textContent; });
    return text.trim() || el.getAttribute("aria-label") || el.name;
  }
  document.addEventListener("invalid", function (e) {
    var el = e.target;
    if (!el.form || !statusEl) return;
    if (!refused) {
      refused = { missing: [], wrong: [] };
      setTimeout(function () {
        var r = refused, parts = [];
        refused = null;
        var body = document.body.dataset, sep = /^en/.test(document.documentElement.lang) ? ", " : "、";
        if (r.missing.length) parts.push((body.textMissing || "{fields}").replace("{fields}", r.missing.join(sep)));
        if (r.wrong.length) parts.push((body.textInvalid || "{fields}").replace("{fields}", r.wrong.join(sep)));
        show(false, parts.join(" "));
      }, 0);
    }
    (el.validity.valueMissing ? refused.missing : refused.wrong).push(fieldName(el));
  }, true);

  // crypto.randomUUID needs a secure context; the plant LAN is plain http, getRandomValues is not restricted
  function newKey() {
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    return "f-" + Array.prototype.map.call(b, function (x) { return ("0" + x.toString(16)).slice(-2); }).join("");
  }

  function key(form) {
    if (!form.dataset.idemKey) form.dataset.idemKey = newKey();
    return form.dataset.idemKey;
  }

  function controls(el) {
    return el.tagName === "FORM" ? el.querySelectorAll("button[type=submit], button:not([type])") : [el];
  }

  function busy(el, on) {
    if (on) clearOk();   // a new request: the last one's "已保存" is not its outcome
    el.dataset.busy = on ? "1" : "";
    el.setAttribute("aria-busy", on ? "true" : "false");
    Array.prototype.forEach.call(controls(el), function (b) { b.disabled = on; });
  }

  // ---- drafts (localStorage; a private browser window may refuse: then there is simply no draft)
  function draftKey(form) { return "draft:" + location.pathname + ":" + form.dataset.draft; }

  function saveDraft(form) {
    var data = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.type === "file" || el.type === "hidden") return;
      if (el.type === "checkbox") {
        data[el.name] = data[el.name] || [];
        if (el.checked) data[el.name].push(el.value);
      } else if (el.value !== "") {
        data[el.name] = el.value;
      }
    });
    try { localStorage.setItem(draftKey(form), JSON.stringify(data)); } catch (e) { /* no storage */ }
  }

  function restoreDraft(form) {
    var data;
    try { data = JSON.parse(localStorage.getItem(draftKey(form)) || "null"); } catch (e) { data = null; }
    if (!data) return false;
    var any = false;
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || !(el.name in data) || el.type === "file" || el.type === "hidden") return;
      if (el.type === "checkbox") el.checked = data[el.name].indexOf(el.value) >= 0;
      else el.value = data[el.name];
      any = true;
    });
    if (any) {
      form.dispatchEvent(new Event("change", { bubbles: true }));
      var note = form.querySelector(".draft-note");
      if (note) note.hidden = false;
    }
    return any;
  }

  function clearDraft(form) {
    if (!form.dataset.draft) return;
    try { localStorage.removeItem(draftKey(form)); } catch (e) { /* no storage */ }
  }

  // a submission that went through: the next one is a new report with a new key, the draft is spent
  function done(form) {
    delete form.dataset.idemKey;
    clearDraft(form);
  }

  // ---- the confirm dialog (a <dialog>: modal, Esc cancels; the texts come with the page)
  function confirmDialog(message) {
    return new Promise(function (resolve) {
      var d = document.createElement("dialog");
      d.className = "confirm-dialog";
      var p = document.createElement("p");
      p.textContent = message;
      var row = document.createElement("div");
      row.className = "dialog-actions";
      var cancel = document.createElement("button");
      cancel.type = "button";
      cancel.textContent = document.body.dataset.textCancel;
      var ok = document.createElement("button");
      ok.type = "button";
      ok.className = "danger confirm-ok";
      ok.textContent = document.body.dataset.textConfirm;
      row.appendChild(cancel); row.appendChild(ok);
      d.appendChild(p); d.appendChild(row);
      document.body.appendChild(d);
      function close(v) { d.close(); d.remove(); resolve(v); }
      ok.addEventListener("click", function () { close(true); });
      cancel.addEventListener("click", function () { close(false); });
      d.addEventListener("cancel", function (e) { e.preventDefault(); close(false); });
      d.showModal();
      cancel.focus();
    });
  }

  function confirmed(el) {
    return el.dataset.confirm ? confirmDialog(el.dataset.confirm) : Promise.resolve(true);
  }

  function send(url, method, body, onOk, idem) {
    var headers = { "Content-Type": "application/json", "X-CSRF-Token": csrf };
    if (idem) headers["Idempotency-Key"] = idem;
    return fetch(url, {
      method: method, credentials: "same-origin", headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      if (r.status === 204) return {};
      return r.json().then(function (j) {
        if (!r.ok) throw new Error((j.error && j.error.message) || r.statusText);
        return j;
      });
    }).then(function (j) {
      show(true, I18N.saved);
      (onOk || function () { reloadSoon(600); })(j);
      return j;
    });
  }

  // A photo (camera on a phone or tablet) is uploaded first; the form then sends the hash the server gave.
  function upload(el) {
    var fd = new FormData();
    fd.append("photo", el.files[0]);
    return fetch("/api/v1/photos", { method: "POST", credentials: "same-origin", body: fd,
                                     headers: { "X-CSRF-Token": csrf } })
      .then(function (r) { return r.json().then(function (j) {
        if (!r.ok) throw new Error((j.error && j.error.message) || r.statusText);
        return [el.name, j.sha256];
      }); });
  }

  function uploadPhotos(form) {
    return Promise.all(Array.prototype.filter.call(form.querySelectorAll("input[type=file]"), function (el) {
      return el.files && el.files.length;
    }).map(upload));
  }

  // Run one submission of `form` (`work` returns a promise): once at a time, after the confirmation.
  function guarded(form, work) {
    if (form.dataset.busy) return;
    busy(form, true);             // at once, before the dialog: a second tap meanwhile does nothing
    confirmed(form).then(function (yes) {
      if (!yes) { busy(form, false); return null; }
      return work().then(function () { done(form); }, function (err) {
        busy(form, false);        // failed: the buttons come back, the key stays for the resend
        show(false, errorText(err));
      });
    });
  }

  function collect(form, hashes, omit) {
    var body = {};
    hashes.forEach(function (h) { body[h[0]] = h[1]; });
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.value === "" || el.type === "file" || el.disabled) return;
      if (omit && omit.indexOf(el.name) >= 0) return;
      var v = el.dataset.type === "int" ? parseInt(el.value, 10)
            : el.dataset.type === "number" ? parseFloat(el.value)
            : el.dataset.type === "bool" ? el.value === "true"
            : el.dataset.type === "json" ? JSON.parse(el.value) : el.value;
      var dot = el.name.indexOf(".");             // "plan.target" → body.plan.target
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

  // Wire the forms and buttons under `root` (the page, or a part a live page just put in): each once.
  function bind(root) {
    root = root || document;
    function each(sel, flag, fn) {
      Array.prototype.forEach.call(root.querySelectorAll(sel), function (el) {
        if (el.dataset[flag]) return;
        el.dataset[flag] = "1";
        fn(el);
      });
    }
    each("form[data-draft]", "boundDraft", function (form) {
      restoreDraft(form);
      form.addEventListener("input", function () { saveDraft(form); });
      form.addEventListener("change", function (e) { if (e.isTrusted) saveDraft(form); });
    });

    each("form.api-form", "boundSubmit", function (form) {
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        // a form with two outcomes (confirm / reject) sends to its pressed button's own data-api, leaving
        // out the fields that button names in data-omit
        var sub = e.submitter && e.submitter.dataset.api ? e.submitter : null;
        var api = sub ? sub.dataset.api : form.dataset.api;
        var omit = sub && sub.dataset.omit ? sub.dataset.omit.split(" ") : [];
        guarded(form, function () {
          return uploadPhotos(form).then(function (hashes) {
            var onOk;
            if (form.dataset.show) {
              onOk = function (j) { show(true, form.dataset.showPrefix + j[form.dataset.show]); busy(form, false); };
            } else if (form.dataset.stay) {   // a live page updates itself: no reload
              onOk = function () { form.reset(); busy(form, false); };
            }
            return send(api, form.dataset.method, collect(form, hashes, omit), onOk, key(form));
          });
        });
      });
    });

    each("button.api-button", "boundClick", function (b) {
      b.addEventListener("click", function () {
        guarded(b, function () {
          return send(b.dataset.api, b.dataset.method, b.dataset.body ? JSON.parse(b.dataset.body) : undefined,
                      undefined, key(b));
        });
      });
    });
  }
  bind(document);

  window.SafetyForms = { key: key, busy: busy, done: done, guarded: guarded, show: show, upload: upload,
                         confirm: confirmDialog, clearDraft: clearDraft, bind: bind,
                         reload: flashThenReload, reloadSoon: reloadSoon };
})();
