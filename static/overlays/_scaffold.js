/*
 * Your overlay __NAME__ (made by `dxbus overlay new __NAME__`): it renders the bus's state.
 *
 * `render(state, info)` gets what `GET /api/state` serves plus `segments`, `practice` and `timers`,
 * pushed by the bus: a full state on connect, then only what changed, drawn as it arrives (at a busy
 * moment, with the next animation frame).
 * Never count events here: the bus has already done it (deaths, fights, rooms, bests), so every
 * overlay, the text files and the alerts agree. Timers are drawn with `DXBus.timer(state.timers.X)`
 * (fight, room, session): the server's clock reading plus this page's time since; they stop, and the
 * page gets the `dx-stale` class, while the bus is away.
 */
(function () {
  "use strict";
  var S = DXBus.settings;  // this overlay's settings (the manifest's [settings], as the URL set them)
  var deaths = document.getElementById("mine-deaths");
  var room = document.getElementById("mine-room");
  var boss = document.getElementById("mine-boss");
  var fight = document.getElementById("mine-fight");
  var fightTimer = null;

  function tick() { DXBus.setText(fight, DXBus.formatTime(DXBus.timer(fightTimer), S.tenths)); }

  DXBus.connect({
    types: [],  // the state alone; name event types to get them too: `on: {combat_damage: fn}`
    render: function (state) {
      DXBus.setText(deaths, (state.deaths || {}).session || 0);  // text, never HTML
      DXBus.setText(room, (state.scene || {}).current || "\u2014");
      DXBus.setText(boss, (state.boss || {}).current || "Fight");
      fightTimer = (state.timers || {}).fight || null;
      tick();
    },
  });
  DXBus.every(S.tenths ? 50 : 250, function () { if (fightTimer && fightTimer.running) tick(); });
})();
