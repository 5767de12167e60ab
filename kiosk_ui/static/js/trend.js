// Trend of a point (1 h raw readings, 24 h / 7 d minute aggregates) in an overlay, drawn by the vendored
// ECharts. Click (or tap) any point on the floor plan; thresholds are drawn as lines. It opens on the last
// 24 h; a new system with less than that shows what it has with a note saying how much (issue 15 item 10),
// and before its first minute aggregate the last hour's readings.
(function () {
  "use strict";
  var box = document.getElementById("trend");
  if (!box || !window.echarts) return;
  var chartEl = document.getElementById("trend-chart"), titleEl = document.getElementById("trend-title");
  var chart = null, current = null, range = "24h";
  var noteEl = document.getElementById("trend-note");
  var HOURS = { "1h": 1, "24h": 24, "7d": 168 };
  var I18N = JSON.parse((document.getElementById("i18n") || {}).textContent || "{}");
  function text(key, values) {
    var s = I18N[key] || key;
    Object.keys(values || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(values[k])); });
    return s;
  }
  function note(msg) { noteEl.textContent = msg || ""; noteEl.hidden = !msg; }
  function pressed() {
    box.querySelectorAll("[data-range]").forEach(function (b) { b.setAttribute("aria-pressed", String(b.dataset.range === range)); });
  }
  var lang = document.documentElement.lang;
  var tz = (document.querySelector("[data-tz]") || { dataset: {} }).dataset.tz;  // the plant's zone, not the browser's
  function hhmm(v) {
    return new Intl.DateTimeFormat(lang, { timeZone: tz, month: "2-digit", day: "2-digit", hour: "2-digit",
                                           minute: "2-digit", hour12: false }).format(new Date(v));
  }

  function load(fallback) {
    var want = fallback || range;
    pressed();
    fetch("/api/v1/points/" + encodeURIComponent(current) + "/history?range=" + want, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        if (j.range !== "1h" && !j.series.length) { load("1h"); return; }   // no minute aggregate yet
        var span = j.series.length ? (Date.now() - j.series[0].at) / 3600000 : 0;
        if (fallback) {
          note(text("trend.none", { range: HOURS[range] }));
        } else if (j.range !== "1h" && span < HOURS[j.range] * 0.95) {
          note(text("trend.short", { range: HOURS[j.range], hours: span < 10 ? span.toFixed(1) : Math.floor(span) }));
        } else {
          note("");
        }
        var p = j.point;
        titleEl.textContent = (lang === "en" ? p.name_en : p.name) + " · " + p.unit;
        chart = chart || echarts.init(chartEl, document.body.classList.contains("kiosk") ? "dark" : null);
        var series;
        if (j.range === "1h") {
          var data = j.series.map(function (s) { return [s.at, s.value]; });
          // a reading holds until the next one (a deadband): draw the last one on to now, not a lone dot
          if (data.length) data.push([Math.max(Date.now(), data[data.length - 1][0]), data[data.length - 1][1]]);
          series = [{ name: p.unit, type: "line", step: "end", showSymbol: false, data: data }];
        } else {
          series = ["min", "avg", "max"].map(function (k) {
            return { name: k, type: "line", showSymbol: false, lineStyle: { width: k === "avg" ? 3 : 1 },
                     data: j.series.map(function (s) { return [s.at, s[k]]; }) };
          });
        }
        series[0].markLine = { symbol: "none", silent: true, data: p.thresholds.map(function (t) {
          return { yAxis: t.value, lineStyle: { color: t.level === 2 ? "#e5484d" : "#ffc53d", type: "dashed" },
                   label: { formatter: (t.direction === "low" ? "↓ " : "↑ ") + t.value } };
        }) };
        chart.setOption({ backgroundColor: "transparent", animation: false, tooltip: { trigger: "axis" },
                          xAxis: { type: "time", axisLabel: { formatter: hhmm } }, yAxis: { type: "value", scale: true }, series: series,
                          grid: { left: 60, right: 30, top: 30, bottom: 40 } }, true);
        chart.resize();
      });
  }

  document.addEventListener("click", function (e) {
    var g = e.target.closest && e.target.closest("[data-point]");
    if (g) { current = g.dataset.point; box.hidden = false; load(); }
  });
  box.querySelectorAll("[data-range]").forEach(function (b) {
    b.addEventListener("click", function () { range = b.dataset.range; load(); });
  });
  document.getElementById("trend-close").addEventListener("click", function () { box.hidden = true; current = null; });
  setInterval(function () { if (current && range === "1h") load(); }, 10000);
  pressed();
})();
