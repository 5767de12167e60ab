// Emergency forms (class "em-form"): JSON to the API with the CSRF token, one request at a time (a double
// click submits once; forms.js's SafetyForms guard when loaded), the outcome in #form-status; then open the
// new record (data-open) or reload. The muster roll reloads on each emergency.* event of its stream so a tap shows within a second.
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
    if (form.classList.contains("evaluation")) {
      // the drill's findings, one a line: each opens a corrective hazard (the API's findings list)
      var lines = form.querySelector("[data-findings]").value.split(/\r?\n/);
      body.findings = lines.map(function (l) { return l.trim(); }).filter(Boolean)
                           .map(function (l) { return { text: l }; });
    }
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled || el.value === "") return;
      var t = el.dataset.type;
      body[el.name] = t === "int" ? parseInt(el.value, 10) : t === "number" ? parseFloat(el.value)
                    : t === "ms" ? new Date(el.value).getTime() : t === "bool" ? el.value === "true" : el.value;
    });
    return body;
  }

  // one request at a time: forms.js's guard (window.SafetyForms: the buttons stay disabled while it is in
  // flight, an Idempotency-Key per form until it succeeds) when the page loads it, else a guard of our own
  var F = window.SafetyForms;

  function post(form, key) {
    var headers = { "Content-Type": "application/json", "X-CSRF-Token": csrf };
    if (key) headers["Idempotency-Key"] = key;
    return fetch(form.dataset.api, {
      method: "POST", credentials: "same-origin", headers: headers, body: JSON.stringify(collect(form))
    }).then(function (r) {
      return r.json().then(function (j) {
        // the refusal in the page's language (the API answers in the browser's, which may differ)
        var e = j.error || {}, en = (document.documentElement.lang || "").indexOf("en") === 0;
        if (!r.ok) throw new Error((e.messages && e.messages[en ? "en" : "zh-CN"]) || e.message || r.statusText);
        return j;
      });
    });
  }

  function after(form, j) {
    show(true, I18N.saved);
    var rec = form.dataset.openKey ? j[form.dataset.openKey] : j;
    if (form.dataset.open && rec && rec.id) setTimeout(function () { location.href = form.dataset.open + rec.id; }, 400);
    else if (window.SafetyForms) window.SafetyForms.reloadSoon(400);
    else setTimeout(function () { location.reload(); }, 400);
  }

  document.querySelectorAll("form.em-form").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (F) {
        F.guarded(form, function () { return post(form, F.key(form)).then(function (j) { after(form, j); }); });
        return;
      }
      if (form.dataset.busy) return;
      form.dataset.busy = "1";
      var buttons = form.querySelectorAll("button");
      buttons.forEach(function (b) { b.disabled = true; });
      post(form, null).then(function (j) { after(form, j); }).catch(function (err) {
        show(false, I18N.error.replace("{message}", err.message));
        delete form.dataset.busy;
        buttons.forEach(function (b) { b.disabled = false; });
      });
    });
  });

  // statutory countdowns (493号令, computed by the server's rules into data-until, UTC ms): the time left, or how
  // long overdue in red; the box's clock is the reference (a tablet's clock may be off), so the offset between
  // the page's data-now and this browser's clock at load is applied to every tick
  var clocks = document.querySelectorAll(".countdown[data-until]");
  if (clocks.length) {
    var holder = document.querySelector("[data-now]");
    var skew = holder ? parseInt(holder.dataset.now, 10) - Date.now() : 0;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    var span = function (ms) {
      var m = Math.floor(ms / 60000), d = Math.floor(m / 1440), h = Math.floor((m % 1440) / 60);
      var s = Math.floor((ms % 60000) / 1000);
      return (d ? d + I18N.days + " " : "") + pad(h) + ":" + pad(m % 60) + (d ? "" : ":" + pad(s));
    };
    var tick = function () {
      var now = Date.now() + skew;
      clocks.forEach(function (el) {
        var li = el.closest("li");
        if (li && li.classList.contains("met")) { el.textContent = ""; return; }
        var left = parseInt(el.dataset.until, 10) - now;
        el.classList.toggle("overdue", left < 0);
        if (li) li.classList.toggle("overdue", left < 0);
        el.textContent = left >= 0 ? I18N.left.replace("{t}", span(left)) : I18N.overdue.replace("{t}", span(-left));
      });
    };
    tick();
    setInterval(tick, 1000);
  }

  // the commander's incident page follows the stream: a wind change (typed elsewhere or followed from the
  // weather point) redraws the route, the wind line and the downwind areas in place; forms keep what is typed
  var head = document.querySelector("h1[data-incident][data-state=open]");
  if (head && window.EventSource) {
    var id = parseInt(head.dataset.incident, 10);
    var live = new EventSource("/api/v1/stream?last_event_id=" + encodeURIComponent(head.dataset.head || ""));
    var redraw = function () {
      fetch(location.href, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) return;
          var doc = new DOMParser().parseFromString(html, "text/html");
          ["em-route-live", "em-res"].forEach(function (k) {
            var now = document.getElementById(k), fresh = doc.getElementById(k);
            if (now && fresh) now.innerHTML = fresh.innerHTML;
          });
          // the wind box follows too, unless someone is typing in it (what they type is theirs)
          var box = document.querySelector("input[name=wind_from]"), nb = doc.querySelector("input[name=wind_from]");
          if (box && nb && box !== document.activeElement && box.value === box.defaultValue) {
            box.value = nb.value; box.defaultValue = nb.value;
          }
          ageTick();
        }).catch(function () { /* the next event tries again */ });
    };
    live.onmessage = function (m) {
      var ev; try { ev = JSON.parse(m.data); } catch (x) { return; }
      if (ev.type === "emergency.incident_updated" && ev.payload && ev.payload.id === id) redraw();
    };
  }

  // the weather point's last reading ages on the page between redraws
  var loaded = Date.now();
  function ageTick() {
    loaded = Date.now();
  }
  setInterval(function () {
    document.querySelectorAll(".em-age[data-age-s]").forEach(function (el) {
      var s = parseInt(el.dataset.ageS, 10) + Math.round((Date.now() - loaded) / 1000);
      el.textContent = el.dataset.text.replace("{m}", Math.floor(s / 60));
    });
  }, 10000);

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
