/* The session stats panel: every number from the server state; the session time from its timer. */
(function () {
  "use strict";
  var el = {};
  ["time", "deaths", "dealt", "taken", "rooms", "kills"].forEach(function (k) {
    el[k] = document.getElementById("stat-" + k);
  });
  var timer = null;

  function num(x) { var n = Number(x); return isFinite(n) ? n : 0; }
  function count(x) { return DXBus.formatCount(num(x)); }  // 12,345.6: grouped, one decimal at most
  function tick() { DXBus.setText(el.time, DXBus.formatTime(DXBus.timer(timer))); }

  function render(state) {
    DXBus.setText(el.deaths, count((state.deaths || {}).session));
    DXBus.setText(el.dealt, count((state.damage || {}).dealt));
    DXBus.setText(el.taken, count((state.damage || {}).taken));
    DXBus.setText(el.kills, count(state.enemies_killed));
    DXBus.setText(el.rooms, count((state.scene || {}).rooms_visited));
    timer = (state.timers || {}).session || null;
    tick();
  }

  DXBus.connect({ types: [], render: render });
  DXBus.every(500, tick);
})();
