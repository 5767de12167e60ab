// Gas points on the floor plan and the alarm banner with its sound.
// Values are polled every 2 s (readings are not events); any alarm or point event refreshes at once.
(function () {
  "use strict";
  var banner = document.getElementById("alarm-banner");
  var points = {}, unackedAudible = false, audio = null;
  var lang = document.documentElement.lang;

  function fmt(v) { return v === null || v === undefined ? "—" : v.toFixed(1); }
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    });
  }

  function refreshPoints() {
    return getJSON("/api/v1/points").then(function (j) {
      j.points.forEach(function (p) {
        points[p.id] = p;
        var g = document.querySelector('[data-point="' + p.id + '"]');
        if (!g) return;
        g.setAttribute("class", "point st-" + p.state + (p.shelved_until ? " shelved" : ""));
        g.querySelector(".point-value").textContent = fmt(p.value);
      });
    });
  }

  function label(a) {
    var p = points[a.point] || {};
    var name = (lang === "en" ? p.name_en : p.name) || a.point;
    var what = a.kind === "fault" ? Live.text("alarm.fault") : Live.text("alarm.level" + a.level);
    var state = a.acked_at ? Live.text("alarm.acked") : (a.cleared_at ? Live.text("alarm.cleared") : Live.text("alarm.unacked"));
    var value = a.kind === "fault" ? (a.reason || "") : fmt(p.value) + " " + (p.unit || "");
    return what + " · " + name + " · " + value + " · " + state;
  }

  function refreshAlarms() {
    if (!banner) return Promise.resolve();
    return getJSON("/api/v1/alarms?active=1").then(function (j) {
      var alarms = j.alarms.sort(function (x, y) {
        return (!!x.acked_at - !!y.acked_at) || ((y.kind === "gas" ? y.level : 0.5) - (x.kind === "gas" ? x.level : 0.5));
      });
      banner.innerHTML = "";
      banner.hidden = alarms.length === 0;
      unackedAudible = false;
      // Flood guard: one leak sets off every detector around it. The three most severe alarms stay on
      // their own lines; the rest are summed per area, so one burst cannot bury a second emergency.
      var shown = alarms.length > 4 ? 3 : alarms.length;
      alarms.slice(0, shown).forEach(function (a) {
        var div = document.createElement("div");
        var shelved = points[a.point] && points[a.point].shelved_until;
        div.className = "alarm " + (a.kind === "fault" ? "fault" : "level" + a.level) + (a.acked_at ? " acked" : " unacked");
        div.dataset.alarm = a.id;
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
      alarms.forEach(function (a) {
        var p = points[a.point];
        if (!a.acked_at && !(p && p.shelved_until)) unackedAudible = true;
      });
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
    });
  }

  function refresh() { refreshPoints().then(refreshAlarms).catch(function () {}); }

  // The horn: two tones each second while an unacknowledged, unshelved alarm stands. The kiosk's
  // Chromium starts with --autoplay-policy=no-user-gesture-required so this plays without a click.
  function beep() {
    if (!unackedAudible) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      [880, 660].forEach(function (f, i) {
        var o = audio.createOscillator(), g = audio.createGain();
        o.frequency.value = f; g.gain.value = 0.2;
        o.connect(g); g.connect(audio.destination);
        o.start(audio.currentTime + i * 0.25); o.stop(audio.currentTime + i * 0.25 + 0.22);
      });
    } catch (e) { /* no audio device: the banner still shows */ }
  }

  // The four-colour risk map changes when the register does.
  function refreshRisk() {
    getJSON("/api/v1/risk/map").then(function (j) {
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
    }).catch(function () {});
  }

  document.addEventListener("live-event", function (e) {
    var t = e.detail.type;
    if (t.indexOf("alarm.") === 0 || t.indexOf("point.") === 0) refresh();
    if (t.indexOf("risk.") === 0 || t.indexOf("hazard.") === 0) refreshRisk();
  });
  refresh();
  setInterval(refresh, 2000);
  setInterval(beep, 1000);
})();
