// Live connection to /api/v1/stream (Server-Sent Events) that never gives up.
// EventSource resends Last-Event-ID by itself on a dropped connection; when the server answers with an
// error status the browser closes the source for good, so we reopen it ourselves from the last seq seen.
(function () {
  "use strict";
  var I18N = JSON.parse((document.getElementById("i18n") || {}).textContent || "{}");

  function text(key, values) {
    var s = I18N[key] || key;
    Object.keys(values || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(values[k])); });
    return s;
  }

  function setState(state) {
    var el = document.getElementById("live-state");
    if (!el) return;
    el.className = "live " + state;
    el.textContent = text("live." + state);
  }

  // frames: names of live state the page shows (e.g. ["board"]: the points and standing alarms); each one
  // arrives as a "live-frame" document event {name, data} when it changes, and at once on (re)connect.
  function connect(startSeq, onEvent, frames) {
    var last = startSeq, source = null, retry = null;
    frames = frames || [];
    function open() {
      // the page's language: the names the stream sends with each event are in it
      source = new EventSource("/api/v1/stream?last_event_id=" + encodeURIComponent(last) +
                               "&lang=" + encodeURIComponent(document.documentElement.lang || "zh-CN") +
                               (frames.length ? "&frames=" + encodeURIComponent(frames.join(",")) : ""));
      frames.forEach(function (name) {
        source.addEventListener(name, function (m) {
          var data;
          try { data = JSON.parse(m.data); } catch (e) { return; }
          document.dispatchEvent(new CustomEvent("live-frame", { detail: { name: name, data: data } }));
        });
      });
      source.onopen = function () { setState("connected"); };
      source.onmessage = function (m) {
        var ev;
        try { ev = JSON.parse(m.data); } catch (e) { return; }
        if (ev.seq <= last) return;          // already shown (replayed after a reconnect)
        last = ev.seq;
        onEvent(ev);
      };
      // The log behind the appliance is older than what this page saw (a restored backup): start over.
      source.addEventListener("reset", function () { location.reload(); });
      source.onerror = function () {
        setState("reconnecting");
        if (source.readyState === EventSource.CLOSED && !retry) {
          retry = setTimeout(function () { retry = null; open(); }, 3000);
        }
      };
    }
    open();
    return { last: function () { return last; } };
  }

  function clock(el, tz) {
    if (!el) return;
    var f = new Intl.DateTimeFormat(document.documentElement.lang, {
      timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
    function tick() { el.textContent = f.format(new Date()); }
    tick(); setInterval(tick, 1000);
  }

  function timeOf(ms, tz) {
    return new Intl.DateTimeFormat(document.documentElement.lang, { timeZone: tz, hour: "2-digit",
      minute: "2-digit", second: "2-digit", hour12: false }).format(new Date(ms));
  }

  function describe(ev) {
    // ids in the payload (a login, a reader, a camera) give way to the names the stream sends with it
    var key = "ev." + ev.type, values = Object.assign({}, ev.payload || {}, ev.names || {});
    if (typeof values.level === "number") values.level_name = text("alarm.level" + values.level);
    if (typeof values.result === "number") values.result_name = text("patrol.check" + values.result);
    if (typeof values.bucket === "string") values.bucket_name = text("patrol.b." + values.bucket);
    return I18N[key] ? text(key, values) : ev.type;
  }

  window.Live = { connect: connect, clock: clock, text: text, timeOf: timeOf, describe: describe };
})();
