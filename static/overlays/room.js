/* The room overlay: area, room and time in the room, all from the server state (`state.scene`,
   `state.timers.room`); the time is drawn from the server's clock, never counted here. */
(function () {
  "use strict";
  var areaEl = document.getElementById("room-area");
  var nameEl = document.getElementById("room-name");
  var timeEl = document.getElementById("room-time");
  var box = document.getElementById("room");
  var timer = null;

  function tick() { DXBus.setText(timeEl, DXBus.formatTime(DXBus.timer(timer))); }

  function render(state) {
    var sc = state.scene || {};
    var name = sc.current ? String(sc.current) : null;
    box.classList.toggle("dx-hidden", !name);  // nothing to show before the first room
    DXBus.setText(nameEl, name || "");
    DXBus.setText(areaEl, sc.area || "");
    box.dataset.scene = name || "";
    timer = (state.timers || {}).room || null;
    tick();
  }

  DXBus.connect({ types: [], render: render });
  DXBus.every(250, tick);
})();
