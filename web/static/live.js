// The live tail of a run page: follows /runs/ID/events (server-sent
// events) and appends each new line; the browser resumes a dropped
// connection from the last line it has (Last-Event-ID).
(function () {
  "use strict";
  var log = document.getElementById("log");
  if (!log || !log.dataset.events) {
    return;
  }
  var status = document.getElementById("live-status");
  var keep = 5000; // lines the page keeps; earlier ones stay on the log pages
  var say = function (text) { if (status) { status.textContent = text; } };
  var atBottom = function () {
    return window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
  };
  var es = new EventSource(log.dataset.events);
  es.onopen = function () { say("following the live log"); };
  es.onerror = function () {
    say(es.readyState === EventSource.CLOSED ?
      "the live log stopped (the server refused it): reload the page to follow it again" :
      "connection lost: reconnecting…");
  };
  es.addEventListener("log", function (e) {
    var l = JSON.parse(e.data);
    var follow = atBottom();
    var row = document.createElement("div");
    row.className = "line " + l.stream;
    row.id = "L" + l.seq;
    row.dataset.seq = l.seq;
    var n = document.createElement("a");
    n.className = "n";
    n.href = "#L" + l.seq;
    n.textContent = l.seq;
    var s = document.createElement("span");
    s.className = "s";
    s.textContent = l.step;
    var t = document.createElement("span");
    t.className = "t";
    t.textContent = l.text;
    row.append(n, s, t);
    log.appendChild(row);
    log.dataset.last = l.seq;
    while (log.childElementCount > keep) { log.removeChild(log.firstElementChild); }
    if (follow) { window.scrollTo(0, document.body.scrollHeight); }
  });
  es.addEventListener("gap", function (e) {
    var g = JSON.parse(e.data);
    var p = document.createElement("p");
    p.className = "gap";
    var a = document.createElement("a");
    a.href = log.dataset.log + "&after=" + g.after;
    a.textContent = "lines " + (g.after + 1) + "–" + (g.before - 1) + " are on the log pages";
    p.appendChild(a);
    log.appendChild(p);
  });
  es.addEventListener("step", function (e) {
    var st = JSON.parse(e.data);
    var row = document.getElementById("step-" + st.index);
    if (!row) { return; }
    var cell = row.querySelector(".step-state");
    if (cell) { cell.innerHTML = ""; var b = document.createElement("span"); b.className = "state " + st.state; b.textContent = st.state; cell.appendChild(b); }
    var d = row.querySelector(".step-duration");
    if (d && st.duration) { d.textContent = st.duration; }
  });
  es.addEventListener("state", function (e) {
    var st = JSON.parse(e.data);
    var el = document.getElementById("run-state");
    if (el) { el.className = "state " + st.state; el.textContent = st.state; }
    var why = document.getElementById("run-reason");
    if (why && st.reason) { why.textContent = st.reason; why.hidden = false; }
  });
  es.addEventListener("problem", function (e) { say(JSON.parse(e.data).message); });
  es.addEventListener("end", function () { es.close(); say("the run has ended"); });
}());
