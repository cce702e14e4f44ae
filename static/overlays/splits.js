/* The splits overlay: the route, the run and its rooms from the server state (`state.segments`, pushed
   with the rest: no polling); run and room clocks are drawn from the server's clock. */
(function () {
  "use strict";
  var S = DXBus.settings;
  var box = document.getElementById("splits");
  var list = document.getElementById("splits-list");
  var el = {
    route: document.getElementById("splits-route"), clock: document.getElementById("splits-clock"),
    room: document.getElementById("splits-room"), roomTime: document.getElementById("splits-room-time"),
    pb: document.getElementById("splits-pb"), sob: document.getElementById("splits-sob"),
  };
  var data = null;

  function time(t) { return t === null || t === undefined ? "\u2013" : DXBus.formatTime(t, S.tenths); }
  function delta(d) {
    if (d === null || d === undefined) return "";
    var sign = d < 0 ? "\u2212" : "+";
    var a = Math.abs(d);
    return sign + (a >= 60 ? DXBus.formatTime(a, S.tenths) : a.toFixed(S.tenths ? 1 : 0));
  }
  function running() { return !!(data && data.timers && data.timers.run && data.timers.run.running); }
  function elapsed() { return data && data.timers ? DXBus.timer(data.timers.run) : 0; }

  function row(split) {
    var li = document.createElement("li");
    li.className = split.status;
    li.dataset.index = split.index;
    var name = document.createElement("span");
    name.className = "name";
    DXBus.setText(name, split.name);
    var d = document.createElement("span");
    d.className = "delta";
    if (split.gold) d.classList.add("gold");
    else if (split.delta !== null) d.classList.add(split.delta <= 0 ? "ahead" : "behind");
    DXBus.setText(d, delta(split.delta));
    var t = document.createElement("span");
    t.className = "time";
    DXBus.setText(t, split.status === "done" ? time(split.time) : time(split.pb));
    li.append(name, d, t);
    return li;
  }

  function render() {
    if (!data) return;
    DXBus.setText(el.route, data.route.name);
    box.classList.toggle("running", running());
    // No "0:00.0" before the first run: the clock shows from the start of a run on.
    el.clock.classList.toggle("dx-hidden", data.run.phase === "idle" && !elapsed());
    var splits = data.splits;
    var at = data.run.phase === "idle" ? 0 : Math.min(data.run.index, splits.length - 1);
    var n = Math.min(S.visible, splits.length);
    var first = Math.max(0, Math.min(at - Math.floor(n / 2), splits.length - n));
    var rows = [];
    for (var i = first; i < first + n; i++) rows.push(row(splits[i]));
    list.replaceChildren.apply(list, rows);
    DXBus.setText(el.pb, time(data.bests.pb));
    DXBus.setText(el.sob, time(data.bests.sum_of_best));
    tick();
  }

  function tick() {
    DXBus.setText(el.clock, time(elapsed()));
    var rooms = data ? data.rooms : [];
    var room = rooms.length ? rooms[rooms.length - 1] : null;
    if (room && room.current) {
      var t = data.timers && data.timers.split_room ? DXBus.timer(data.timers.split_room) : Number(room.time);
      DXBus.setText(el.room, room.area ? room.area + " \u00b7 " + room.scene : room.scene);
      DXBus.setText(el.roomTime, time(t) + (room.best !== null ? " / " + time(room.best) : ""));
    } else {
      DXBus.setText(el.room, "");
      DXBus.setText(el.roomTime, "");
    }
  }

  DXBus.connect({
    types: [],
    render: function (state) {
      data = state.segments || null;
      if (data && data.error) { console.warn("[dxbus] splits:", data.error); data = null; }
      render();
    },
  });
  DXBus.every(S.tenths ? 50 : 250, function () { if (running()) tick(); });
})();
