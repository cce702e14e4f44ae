/* The practice overlay: the target and its attempts from the server state (`state.practice`, pushed
   with the rest: no polling); the attempt clock is drawn from the server's clock. */
(function () {
  "use strict";
  var S = DXBus.settings;
  var box = document.getElementById("practice");
  var ids = ["target", "clock", "attempts", "cleared", "deaths", "best", "average", "damage", "history"];
  var el = {};
  ids.forEach(function (id) { el[id] = document.getElementById("practice-" + id); });
  var data = null;

  function time(t) { return t === null || t === undefined ? "\u2013" : DXBus.formatTime(t, S.tenths); }
  function live() { return data && data.current; }
  function attemptTimer() { return data && data.timers ? data.timers.attempt : null; }

  function render() {
    if (!data) return;
    var target = data.target;
    if (S.hide_when_off) box.classList.toggle("dx-hidden", !target);
    box.classList.toggle("live", !!live());
    el.target.classList.toggle("dx-hidden", !target);  // no "No target" placeholder on stream
    DXBus.setText(el.target, target ? target.name : "");
    DXBus.setText(el.attempts, DXBus.formatCount(data.attempts));
    DXBus.setText(el.cleared, DXBus.formatCount(data.cleared));
    DXBus.setText(el.deaths, DXBus.formatCount(data.deaths));
    DXBus.setText(el.best, time(data.best));
    DXBus.setText(el.average, time(data.average));
    DXBus.setText(el.damage, DXBus.formatCount(data.damage_taken));
    var items = data.history.slice(Math.max(0, data.history.length - S.history)).reverse().map(function (a) {
      var li = document.createElement("li");
      li.className = a.result;
      var result = document.createElement("span");
      result.className = "result";
      DXBus.setText(result, "#" + a.number + " " + a.result);
      var rest = document.createElement("span");
      DXBus.setText(rest, " " + time(a.time) + (S.show_damage ? " \u00b7 " + DXBus.formatCount(a.damage_taken) + " dmg" : ""));
      li.append(result, rest);
      return li;
    });
    el.history.replaceChildren.apply(el.history, S.history ? items : []);
    tick();
  }

  function tick() {
    DXBus.setText(el.clock, time(data ? DXBus.timer(attemptTimer()) : 0));
  }

  DXBus.connect({
    types: [],
    render: function (state) {
      data = state.practice || null;
      if (data && data.error) { console.warn("[dxbus] practice:", data.error); data = null; }
      render();
    },
  });
  DXBus.every(S.tenths ? 50 : 250, function () { if (live()) tick(); });
})();
