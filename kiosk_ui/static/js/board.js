// Wall board and tablet home: prepend each live event to the feed, newest first.
(function () {
  "use strict";
  var board = document.querySelector(".board");
  var tz = board.dataset.tz, feed = document.getElementById("feed");
  var MAX = 40;
  Live.clock(document.getElementById("clock"), tz);
  Live.connect(parseInt(board.dataset.head, 10) || 0, function (ev) {
    if (!feed) return;
    var empty = feed.querySelector(".empty");
    if (empty) empty.remove();
    var li = document.createElement("li");
    li.dataset.seq = ev.seq;
    li.className = "fresh";
    var t = document.createElement("time");
    t.textContent = Live.timeOf(ev.recorded_at, tz);
    var s = document.createElement("span");
    s.textContent = Live.describe(ev);
    li.appendChild(t); li.appendChild(s);
    feed.insertBefore(li, feed.firstChild);
    while (feed.children.length > MAX) feed.removeChild(feed.lastChild);
  });
})();
