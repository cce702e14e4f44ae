// The session report's charts: small inline SVG, drawn from the JSON the page embeds
// (<script id="report-data">). No library: each chart is a function of its data.
// Every chart sets data-points (how many marks it drew) so a test can see it has data.
// Live pages (/report, body[data-live]) re-fetch themselves and redraw.
(function () {
  "use strict";
  var NS = "http://www.w3.org/2000/svg";
  var W = 960;
  var AREA_COLORS = ["#7fb7ff", "#f2a65a", "#8ef08e", "#d68cff", "#5fd3c8", "#ffd24a", "#ff8fb1",
    "#a8d672", "#9aa7ff", "#e0b089", "#6fd0ff", "#ffb3ff"];

  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (parent) parent.appendChild(node);
    return node;
  }

  function tip(node, text) {
    el("title", {}, node).textContent = text;
    return node;
  }

  function label(parent, x, y, text, anchor) {
    var t = el("text", { x: x, y: y, "text-anchor": anchor || "start" }, parent);
    t.textContent = text;
    return t;
  }

  function clock(seconds) {
    var s = Math.round(seconds);
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var sec = s % 60;
    var mm = h ? String(m).padStart(2, "0") : String(m);
    return (h ? h + ":" : "") + mm + ":" + String(sec).padStart(2, "0");
  }

  function niceStep(span, count) {
    var raw = span / Math.max(1, count);
    var steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200];
    for (var i = 0; i < steps.length; i++) if (steps[i] >= raw) return steps[i];
    return Math.ceil(raw / 3600) * 3600;
  }

  function svg(figure, height, width) {
    figure.textContent = "";
    return el("svg", { viewBox: "0 0 " + (width || W) + " " + height, role: "img" }, figure);
  }

  function none(figure, height, text) {
    var s = svg(figure, height);
    var t = label(s, W / 2, height / 2, text || "No data yet", "middle");
    t.setAttribute("class", "none");
    figure.dataset.points = "0";
  }

  function timeAxis(s, x, duration, top, bottom) {
    var step = niceStep(duration, 10);
    for (var t = 0; t <= duration + 1e-9; t += step) {
      el("line", { x1: x(t), x2: x(t), y1: top, y2: bottom, stroke: "#ffffff14" }, s);
      label(s, x(t), bottom + 14, clock(t), "middle");
    }
  }

  function stepPath(points, x, y, close, base) {
    if (!points.length) return "";
    var d = "M" + x(points[0][0]).toFixed(1) + "," + y(points[0][1]).toFixed(1);
    for (var i = 1; i < points.length; i++) {
      d += "H" + x(points[i][0]).toFixed(1) + "V" + y(points[i][1]).toFixed(1);
    }
    if (close) {
      d += "H" + x(close).toFixed(1) + "V" + base.toFixed(1) + "H" + x(points[0][0]).toFixed(1) + "Z";
    }
    return d;
  }

  // A step series holds its last value to the end of the session.
  function extend(points, duration) {
    if (!points.length) return points;
    var last = points[points.length - 1];
    return last[0] < duration ? points.concat([[duration, last[1]]]) : points;
  }

  // -- charts -------------------------------------------------------------------------------------
  // Two lanes on one time axis: masks (filled) above, silk below; deaths, fights, benches across both.
  function health(figure, s) {
    var d = s.series;
    if (!d.health.length && !d.silk.length) return none(figure, 240);
    var H = 290, L = 44, R = W - 12, T = 14, B1 = 170, T2 = 190, B = H - 26;
    var duration = Math.max(d.duration, 1);
    var topHp = Math.max(d.health_max || 0, 1), topSilk = Math.max(d.silk_max || 0, 1);
    var x = function (t) { return L + (R - L) * t / duration; };
    var y = function (v) { return B1 - (B1 - T) * v / topHp; };
    var ys = function (v) { return B - (B - T2) * v / topSilk; };
    var g = svg(figure, H);
    timeAxis(g, x, duration, T, B);
    for (var v = 0; v <= topHp; v += Math.max(1, Math.ceil(topHp / 5))) label(g, L - 6, y(v) + 4, String(v), "end");
    label(g, L - 6, ys(0) + 4, "0", "end");
    label(g, L - 6, ys(topSilk) + 8, String(topSilk), "end");
    label(g, L + 4, T2 + 10, "silk");
    label(g, L + 4, T + 10, "masks");
    d.fights.forEach(function (f) {
      var color = f[3] === "defeated" ? "#8ef08e" : f[3] === "died" ? "#ff7a70" : "#9a94a8";
      tip(el("rect", { x: x(f[0]), y: T, width: Math.max(1.5, x(f[1]) - x(f[0])), height: B - T,
        fill: color, "fill-opacity": 0.16 }, g), f[2] + ": " + (f[3] || "in progress") + " at " + clock(f[0]));
    });
    var hp = extend(d.health, duration);
    var silk = extend(d.silk, duration);
    el("path", { d: stepPath(hp, x, y, duration, B1), fill: "#f5f1e8", "fill-opacity": 0.25 }, g);
    el("path", { d: stepPath(hp, x, y), fill: "none", stroke: "#f5f1e8", "stroke-width": 1.4 }, g);
    el("path", { d: stepPath(silk, x, ys, duration, B), fill: "#b9a6f2", "fill-opacity": 0.22 }, g);
    el("path", { d: stepPath(silk, x, ys), fill: "none", stroke: "#b9a6f2", "stroke-width": 1.1 }, g);
    d.deaths.forEach(function (death) {
      var line = el("line", { x1: x(death[0]), x2: x(death[0]), y1: T, y2: B, stroke: "#ff3b30",
        "stroke-width": 1.5 }, g);
      tip(line, "Death at " + clock(death[0]) + " in " + death[1] + (death[2] ? " (" + death[2] + ")" : ""));
    });
    d.benches.forEach(function (b) {
      tip(el("path", { d: "M" + x(b[0]) + "," + (B1 + 2) + "l5,8h-10z", fill: "#5fd37a" }, g),
        "Bench in " + b[1] + " at " + clock(b[0]));
    });
    legend(figure, [["#f5f1e8", "masks"], ["#b9a6f2", "silk"], ["#ff3b30", "death"],
      ["#8ef08e", "boss won"], ["#ff7a70", "boss lost"], ["#5fd37a", "bench"]]);
    figure.dataset.points = String(hp.length + silk.length + d.deaths.length + d.fights.length);
  }

  function damage(figure, s) {
    var d = s.series.damage;
    var n = d.taken.length;
    var total = d.taken.concat(d.dealt).reduce(function (a, b) { return a + b; }, 0);
    if (!total) return none(figure, 200, "No damage yet");
    var H = 220, L = 44, R = W - 12, T = 12, B = H - 26, M = (T + B) / 2;
    var maxUp = Math.max.apply(null, d.dealt.concat([1]));
    var maxDown = Math.max.apply(null, d.taken.concat([1]));
    var duration = n * d.width;
    var x = function (t) { return L + (R - L) * t / duration; };
    var g = svg(figure, H);
    timeAxis(g, x, duration, T, B);
    var bw = Math.max(1, (R - L) / n - 1);
    var drawn = 0;
    for (var i = 0; i < n; i++) {
      var t0 = clock(i * d.width);
      if (d.dealt[i]) {
        var hu = (M - T) * d.dealt[i] / maxUp;
        tip(el("rect", { x: x(i * d.width), y: M - hu, width: bw, height: hu, fill: "#ffe14a" }, g),
          d.dealt[i] + " dealt from " + t0);
        drawn++;
      }
      if (d.taken[i]) {
        var hd = (B - M) * d.taken[i] / maxDown;
        tip(el("rect", { x: x(i * d.width), y: M, width: bw, height: hd, fill: "#ff4040" }, g),
          d.taken[i] + " taken from " + t0);
        drawn++;
      }
    }
    el("line", { x1: L, x2: R, y1: M, y2: M, stroke: "#ffffff40" }, g);
    label(g, L - 6, T + 10, String(maxUp), "end");
    label(g, L - 6, B, String(maxDown), "end");
    legend(figure, [["#ffe14a", "dealt per minute (max " + maxUp + ")"],
      ["#ff4040", "taken per minute (max " + maxDown + ")"]]);
    figure.dataset.points = String(drawn);
  }

  function heat(f) {
    // Blue (short) to red (long), as the guide's coolwarm colour map.
    var r = Math.round(59 + f * (220 - 59)), gr = Math.round(76 + (1 - Math.abs(f - 0.5) * 2) * 110);
    var b = Math.round(192 - f * (192 - 60));
    return "rgb(" + r + "," + gr + "," + b + ")";
  }

  function bars(figure, rows, value, name, color, title, width) {
    if (!rows.length) return none(figure, 80);
    width = width || W;
    var rowH = 20, L = width < W ? 190 : 300, R = width - 50, T = 6;
    var H = T + rows.length * rowH + 6;
    var max = Math.max.apply(null, rows.map(value).concat([1e-9]));
    var g = svg(figure, H, width);
    rows.forEach(function (row, i) {
      var yy = T + i * rowH;
      var w = Math.max(1, (R - L) * value(row) / max);
      tip(el("rect", { x: L, y: yy + 2, width: w, height: rowH - 5, rx: 3, fill: color(row) }, g), title(row));
      label(g, L - 8, yy + 14, name(row), "end");
      label(g, L + w + 6, yy + 14, String(title(row).split(": ").pop()));
    });
    figure.dataset.points = String(rows.length);
  }

  function rooms(figure, s) {
    var rows = s.rooms.slice(0, 25);
    var maxAvg = Math.max.apply(null, rows.map(function (r) { return r.avg_seconds; }).concat([1e-9]));
    bars(figure, rows, function (r) { return r.seconds; },
      function (r) { return r.room + (r.area ? " · " + r.area : ""); },
      function (r) { return heat(r.avg_seconds / maxAvg); },
      function (r) { return r.room + ", " + r.visits + " visits, avg " + clock(r.avg_seconds) + ": " + clock(r.seconds); });
  }

  function deathsRoom(figure, s) {
    bars(figure, s.deaths.by_room.slice(0, 15), function (r) { return r.deaths; },
      function (r) { return r.room + (r.area ? " · " + r.area : ""); },
      function () { return "#ff7a70"; },
      function (r) { return "Deaths in " + r.room + ": " + r.deaths; }, W / 2);
  }

  function deathsCause(figure, s) {
    bars(figure, s.deaths.by_cause.slice(0, 15), function (r) { return r.deaths; },
      function (r) { return r.cause; },
      function () { return "#ff3b30"; },
      function (r) { return "Killed by " + r.cause + ": " + r.deaths; }, W / 2);
  }

  function boss(figure, s, index) {
    var b = s.bosses[index];
    var list = b.list.filter(function (a) { return a.time != null; });
    if (!list.length) return none(figure, 160, "No fight times");
    var BW = 560, H = 190, L = 44, R = BW - 12, T = 12, B = H - 24;
    var max = Math.max.apply(null, list.map(function (a) { return a.time; }).concat([1]));
    var g = svg(figure, H, BW);
    var bw = Math.min(60, (R - L) / b.list.length - 4);
    var y = function (v) { return B - (B - T) * v / max; };
    for (var v = 0; v <= max; v += niceStep(max, 4)) label(g, L - 6, y(v) + 4, clock(v), "end");
    b.list.forEach(function (a, i) {
      var xx = L + 4 + i * (bw + 4);
      var color = a.result === "defeated" ? "#8ef08e" : a.result === "died" ? "#ff7a70" : "#9a94a8";
      if (a.time != null) {
        tip(el("rect", { x: xx, y: y(a.time), width: bw, height: B - y(a.time), rx: 2, fill: color }, g),
          "Attempt " + a.n + ": " + a.result + " after " + a.time + " s, " + a.damage_taken + " taken, " +
          a.heals + " heals");
      }
      if (bw > 14) label(g, xx + bw / 2, B + 14, String(a.n), "middle");
    });
    if (b.best_time != null) {
      el("line", { x1: L, x2: R, y1: y(b.best_time), y2: y(b.best_time), stroke: "#8ef08e",
        "stroke-dasharray": "5 4" }, g);
    }
    figure.dataset.points = String(list.length);
  }

  function route(figure, s, index) {
    var r = s.routes[index];
    var H = 220, L = 44, R = W / 2 - 12, T = 12, B = H - 28;
    var xs = r.list.map(function (a) { return a.avg_speed; });
    var ys = r.list.map(function (a) { return a.damage_taken; });
    var maxX = Math.max.apply(null, xs.concat([1])) * 1.1, maxY = Math.max.apply(null, ys.concat([1])) * 1.15;
    var x = function (v) { return L + (R - L) * v / maxX; };
    var y = function (v) { return B - (B - T) * v / maxY; };
    figure.textContent = "";
    var g = el("svg", { viewBox: "0 0 " + (W / 2) + " " + H, role: "img" }, figure);
    el("line", { x1: L, x2: R, y1: B, y2: B, stroke: "#ffffff30" }, g);
    el("line", { x1: L, x2: L, y1: T, y2: B, stroke: "#ffffff30" }, g);
    label(g, (L + R) / 2, H - 4, "average speed (units/s)", "middle");
    label(g, L - 6, T + 8, String(Math.round(maxY)), "end");
    label(g, L - 6, B, "0", "end");
    label(g, R, B + 14, String(Math.round(maxX)), "end");
    var t = label(g, 12, (T + B) / 2, "damage taken", "middle");
    t.setAttribute("transform", "rotate(-90 12 " + (T + B) / 2 + ")");
    var names = r.clusters.map(function (c) { return c.name; });
    r.list.forEach(function (a) {
      var color = AREA_COLORS[names.indexOf(a.route) % AREA_COLORS.length];
      var c = el("circle", { cx: x(a.avg_speed), cy: y(a.damage_taken), r: 6, fill: color, "fill-opacity": 0.85,
        stroke: a.route === r.best ? "#fff" : "none", "stroke-width": 2 }, g);
      tip(c, "Attempt " + a.n + " (route " + a.route + "): " + a.avg_speed + " units/s, " + a.damage_taken +
        " taken, " + a.abilities + " abilities, " + a.seconds + " s");
    });
    legend(figure, r.clusters.map(function (c, i) {
      return [AREA_COLORS[i % AREA_COLORS.length], "route " + c.name + (c.name === r.best ? " (best)" : "") +
        ": " + c.description];
    }));
    figure.dataset.points = String(r.list.length);
  }

  function path(figure, s) {
    var visits = s.path;
    if (!visits.length) return none(figure, 90);
    var H = 70, L = 10, R = W - 10, T = 8, B = 40;
    var duration = Math.max(s.series.duration, 1);
    var x = function (t) { return L + (R - L) * t / duration; };
    var g = svg(figure, H);
    var areas = [];
    visits.forEach(function (v) {
      var area = v.area || "Unknown area";
      if (areas.indexOf(area) < 0) areas.push(area);
      var color = AREA_COLORS[areas.indexOf(area) % AREA_COLORS.length];
      tip(el("rect", { x: x(v.t), y: T, width: Math.max(0.8, x(v.t + v.seconds) - x(v.t)), height: B - T,
        fill: color }, g), v.room + " (" + area + "), " + clock(v.t) + " for " + clock(v.seconds) +
        (v.deaths ? ", " + v.deaths + " death" + (v.deaths > 1 ? "s" : "") : ""));
      if (v.deaths) el("circle", { cx: x(v.t + v.seconds), cy: B + 6, r: 2.5, fill: "#ff3b30" }, g);
    });
    var step = niceStep(duration, 10);
    for (var t = 0; t <= duration + 1e-9; t += step) label(g, x(t), H - 4, clock(t), t ? "middle" : "start");
    legend(figure, areas.map(function (a, i) { return [AREA_COLORS[i % AREA_COLORS.length], a]; }));
    figure.dataset.points = String(visits.length);
  }

  function legend(figure, items) {
    var box = document.createElement("div");
    box.className = "legend";
    items.forEach(function (item) {
      var span = document.createElement("span");
      var swatch = document.createElement("i");
      swatch.style.background = item[0];
      span.appendChild(swatch);
      span.appendChild(document.createTextNode(item[1]));
      box.appendChild(span);
    });
    figure.appendChild(box);
  }

  var CHARTS = { health: health, damage: damage, rooms: rooms, "deaths-room": deathsRoom,
    "deaths-cause": deathsCause, boss: boss, route: route, path: path };

  function drawAll() {
    var data = JSON.parse(document.getElementById("report-data").textContent);
    document.querySelectorAll("figure[data-chart]").forEach(function (figure) {
      var session = data.sessions[Number(figure.dataset.session)];
      CHARTS[figure.dataset.chart](figure, session, Number(figure.dataset.index || 0));
    });
  }

  // Live: fetch this page again every few seconds, swap in the new report, redraw.
  function refresh() {
    fetch(location.href, { cache: "no-store" }).then(function (reply) {
      if (!reply.ok) throw new Error("HTTP " + reply.status);
      return reply.text();
    }).then(function (html) {
      var doc = new DOMParser().parseFromString(html, "text/html");
      document.getElementById("report").replaceWith(doc.getElementById("report"));
      document.getElementById("report-data").textContent = doc.getElementById("report-data").textContent;
      drawAll();
    }).catch(function () { /* the bus stopped or restarted: keep what is shown, try again */ })
      .then(function () { setTimeout(refresh, 3000); });
  }

  drawAll();
  if (document.body.dataset.live) setTimeout(refresh, 3000);
})();
