// Gas points on the floor plan and the alarm banner with its sound.
// The live stream sends the board's frame (every point and the standing alarms, gas/board.py) once a second
// and right after each alarm change, one JSON shared by every screen (issue 14). Where no frame comes (a
// role without the event log, the stream reconnecting), the two lists are fetched every 2 s instead.
(function () {
  "use strict";
  var banner = document.getElementById("alarm-banner");
  var points = {}, audio = null;
  var lang = document.documentElement.lang;

  function fmt(v) { return v === null || v === undefined ? "—" : v.toFixed(1); }
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    });
  }

  var silenced = {};   // alarm id -> the level it had when 消音 was pressed (a fault counts as 0.5)
  var sound = "";      // what the horn plays now: alarm2 | alarm1 | fault | "" (GB 16808: distinct signals)
  var silenceBtn = document.getElementById("silence");

  function weight(a) { return a.kind === "fault" ? 0.5 : a.level; }

  // A point's notes on the plan: the O₂ side, over-range, the delay-on countdown, a fault beside an alarm.
  function note(p) {
    var out = [];
    if (p.over_range) out.push(Live.text("alarm.over_range"));
    if (p.gas === "O2" && p.level && p.direction) out.push(Live.text("alarm." + p.direction));
    if (p.state !== "fault" && p.fault) out.push(Live.text("alarm.fault"));
    if (p.waiting) {
      var s = Math.max(0, Math.ceil((p.waiting.until - Date.now()) / 1000));
      out.push(Live.text("alarm.waiting", { level_name: Live.text("alarm.level" + p.waiting.level), s: s }));
    }
    return out.join(" · ");
  }

  function refreshPoints() {
    return getJSON("/api/v1/points").then(function (j) { showPoints(j.points); });
  }

  function showPoints(list) {
    list.forEach(function (p) {
      points[p.id] = p;
      var g = document.querySelector('[data-point="' + p.id + '"]');
      if (!g) return;
      g.setAttribute("class", "point st-" + p.state + (p.shelved_until ? " shelved" : "") +
        (p.over_range ? " over-range" : "") + (p.waiting ? " waiting" : "") +
        (p.state !== "fault" && p.fault ? " faulted" : "") + (p.direction ? " side-" + p.direction : ""));
      g.querySelector(".point-value").textContent =
        p.over_range && p.range_high !== null ? ">" + p.range_high : fmt(p.value);
      var n = g.querySelector(".point-note");
      if (n) n.textContent = note(p);
    });
  }

  function label(a) {
    var p = points[a.point] || {};
    var name = (lang === "en" ? p.name_en : p.name) || a.point;
    var what = a.kind === "fault" ? Live.text("alarm.fault") : Live.text("alarm.level" + a.level);
    if (a.kind === "gas" && p.gas === "O2" && a.direction) what += "（" + Live.text("alarm." + a.direction) + "）";
    var state = a.acked_at ? Live.text("alarm.acked") : (a.cleared_at ? Live.text("alarm.cleared") : Live.text("alarm.unacked"));
    var value = a.kind === "fault" ? (a.reason || "") : fmt(p.value) + " " + (p.unit || "");
    var parts = [what, name, value];
    if (a.over_range) parts.push(Live.text("alarm.over_range"));
    if (a.kind === "gas" && p.fault && !a.cleared_at) parts.push(Live.text("alarm.fault") + "：" + p.fault);
    if (a.kind === "gas" && p.controller !== null && p.controller !== undefined && p.controller !== p.condition) {
      parts.push(Live.text("alarm.controller", { level: p.controller ? Live.text("alarm.level" + p.controller) : "—" }));
    }
    parts.push(state);
    return parts.join(" · ");
  }

  // The horn follows the worst audible alarm: unacknowledged, not shelved, not silenced at its level.
  function updateSound(alarms) {
    var worst = 0, any = false;
    alarms.forEach(function (a) {
      var p = points[a.point];
      if (a.acked_at || (p && p.shelved_until)) return;
      any = true;
      if (silenced[a.id] !== undefined && silenced[a.id] >= weight(a)) return;
      worst = Math.max(worst, weight(a));
    });
    // a silence covers only the alarms it heard: forget those that are gone
    var ids = {};
    alarms.forEach(function (a) { ids[a.id] = true; });
    Object.keys(silenced).forEach(function (id) { if (!ids[id]) delete silenced[id]; });
    sound = worst >= 2 ? "alarm2" : worst >= 1 ? "alarm1" : worst > 0 ? "fault" : "";
    document.body.dataset.sound = sound;
    if (silenceBtn) {
      silenceBtn.hidden = !any;
      silenceBtn.classList.toggle("silenced", any && !sound);
      silenceBtn.textContent = any && !sound ? Live.text("alarm.silenced") : Live.text("alarm.silence");
    }
    return alarms;
  }

  if (silenceBtn) {
    // 消音 stops the horn for the alarms standing now; it acknowledges nothing (that needs a person at the
    // tablet), and any new alarm, or a rise in level, sounds again.
    silenceBtn.addEventListener("click", function () {
      lastAlarms.forEach(function (a) { silenced[a.id] = weight(a); });
      updateSound(lastAlarms);
    });
  }
  var lastAlarms = [];

  function refreshAlarms() {
    if (!banner) return Promise.resolve();
    return getJSON("/api/v1/alarms?active=1").then(function (j) { showAlarms(j.alarms); });
  }

  function showAlarms(list) {
    if (!banner) return;
    var alarms = list.slice().sort(function (x, y) {
      return (!!x.acked_at - !!y.acked_at) || (weight(y) - weight(x));
    });
    lastAlarms = alarms;
    banner.innerHTML = "";
    banner.hidden = alarms.length === 0;
    // Flood guard: one leak sets off every detector around it. The three most severe alarms stay on
    // their own lines; the rest are summed per area, so one burst cannot bury a second emergency.
    var shown = alarms.length > 4 ? 3 : alarms.length;
    alarms.slice(0, shown).forEach(function (a) {
      var div = document.createElement("div");
      var shelved = points[a.point] && points[a.point].shelved_until;
      div.className = "alarm " + (a.kind === "fault" ? "fault" : "level" + a.level) + (a.acked_at ? " acked" : " unacked") +
        (a.over_range ? " over-range" : "");
      div.dataset.alarm = a.id;
      if (a.direction) div.dataset.direction = a.direction;
      div.textContent = label(a) + (shelved ? " · " + Live.text("alarm.shelved") : "");
      banner.appendChild(div);
    });
    var perArea = {};
    alarms.slice(shown).forEach(function (a) {
      var area = (points[a.point] || {}).area || "";
      perArea[area] = (perArea[area] || 0) + 1;
    });
    Object.keys(perArea).forEach(function (area) {
      var more = document.createElement("div");
      var labelEl = document.querySelector("#area-" + area + " .area-label");
      more.className = "alarm more";
      more.textContent = (labelEl ? labelEl.textContent + " · " : "") + Live.text("alarm.more", { n: perArea[area] });
      banner.appendChild(more);
    });
    updateSound(alarms);
    // The risk map's live overlay: areas with a gas alarm whose condition stands (acked or not).
    var gas = {};
    alarms.forEach(function (a) {
      var area = (points[a.point] || {}).area;
      if (a.kind !== "gas" || a.cleared_at || !area) return;
      var o = gas[area] = gas[area] || { count: 0, level: 0 };
      o.count += 1;
      o.level = Math.max(o.level, a.level);
    });
    if (window.RiskMap) RiskMap.overlay("gas", gas);
  }

  // At most one refresh in flight per list; what asks during it gets one more afterwards. A leak is a
  // burst of events and 50 screens each fetching both lists per event made a herd (issue 14).
  function coalesced(work) {
    var busy = false, again = false;
    return function run() {
      if (busy) { again = true; return; }
      busy = true;
      work().catch(function () {}).then(function () {
        busy = false;
        if (again) { again = false; run(); }
      });
    };
  }
  var refresh = coalesced(function () { return refreshPoints().then(refreshAlarms); });

  // Three signals a control room tells apart by ear (GB 16808-2008 §4.3: alarm and fault signals
  // distinct): level 2 a fast high siren, continuous; level 1 a slower two-tone every 2 s; a fault one
  // low tone every 5 s. The kiosk's Chromium starts with --autoplay-policy=no-user-gesture-required.
  var PATTERNS = {
    alarm2: { every: 1, tones: [[1250, 0.12], [950, 0.12], [1250, 0.12], [950, 0.12]] },
    alarm1: { every: 4, tones: [[800, 0.3], [600, 0.3]] },
    fault: { every: 10, tones: [[440, 0.4]] }
  };
  var tickN = 0;
  function horn() {
    tickN += 1;
    var pat = PATTERNS[sound];
    if (!pat || tickN % pat.every) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var t = audio.currentTime;
      pat.tones.forEach(function (tone) {
        var o = audio.createOscillator(), g = audio.createGain();
        o.frequency.value = tone[0]; g.gain.value = 0.2;
        o.connect(g); g.connect(audio.destination);
        o.start(t); o.stop(t + tone[1] - 0.02);
        t += tone[1];
      });
    } catch (e) { /* no audio device: the banner still shows */ }
  }

  // The four-colour risk map changes when the register does.
  var refreshRisk = coalesced(function () {
    return getJSON("/api/v1/risk/map").then(function (j) {
      j.areas.forEach(function (a) {
        var g = document.querySelector('[data-area-id="' + a.area_id + '"]');
        if (!g) return;
        g.setAttribute("class", g.getAttribute("class").replace(/\s*risk-\d/g, "") + (a.level ? " risk-" + a.level : ""));
        var badge = g.querySelector(".hazard-badge");
        if (badge) {
          if (a.open_hazards) badge.removeAttribute("display"); else badge.setAttribute("display", "none");
          badge.querySelector("text").textContent = "⚠" + a.open_hazards;
        }
      });
    });
  });

  // The frame: what the lists would say, pushed. While frames come, nothing is fetched.
  var lastFrame = 0;
  function framesFlowing() { return Date.now() - lastFrame < 5000; }
  document.addEventListener("live-frame", function (e) {
    if (e.detail.name !== "board") return;
    lastFrame = Date.now();
    showPoints(e.detail.data.points);
    showAlarms(e.detail.data.alarms);
  });
  document.addEventListener("live-event", function (e) {
    var t = e.detail.type;
    // the frame that follows an alarm change comes right after its event; without frames, fetch
    if ((t.indexOf("alarm.") === 0 || t.indexOf("point.") === 0) && !framesFlowing()) refresh();
    if (t.indexOf("risk.") === 0 || t.indexOf("hazard.") === 0) refreshRisk();
  });
  setTimeout(function () { if (!framesFlowing()) refresh(); }, 800);
  setInterval(function () { if (!framesFlowing()) refresh(); }, 2000);
  setInterval(horn, 500);
  // the delay-on countdown moves every second without waiting for the next poll
  setInterval(function () { Object.keys(points).forEach(function (id) {
    var n = document.querySelector('[data-point="' + id + '"] .point-note');
    if (n && points[id].waiting) n.textContent = note(points[id]);
  }); }, 1000);
})();
