/* The session stats panel: every number from the server state; the session time from its timer. */
(function () {
  "use strict";
  var el = {};
  ["time", "deaths", "dealt", "taken", "rooms", "kills"].forEach(function (k) {
    el[k] = document.getElementById("stat-" + k);
  });
  var timer = null;

  function num(x) { var n = Number(x); return isFinite(n) ? n : 0; }
  function round(x) { return String(Math.round(x * 10) / 10); }
  function tick() { DXBus.setText(el.time, DXBus.formatTime(DXBus.timer(timer))); }

  function render(state) {
    DXBus.setText(el.deaths, num((state.deaths || {}).session));
    DXBus.setText(el.dealt, round(num((state.damage || {}).dealt)));
    DXBus.setText(el.taken, round(num((state.damage || {}).taken)));
    DXBus.setText(el.kills, num(state.enemies_killed));
    DXBus.setText(el.rooms, num((state.scene || {}).rooms_visited));
    timer = (state.timers || {}).session || null;
    tick();
  }

  DXBus.connect({ types: [], render: render });
  DXBus.every(500, tick);
})();
