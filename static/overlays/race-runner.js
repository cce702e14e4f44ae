/* The race-runner overlay: one runner's box (HP, room, deaths, last split) for restream layouts. */
(function () {
  "use strict";
  var S = DXBus.settings;
  var R = window.DXRace;
  var box = document.getElementById("box");
  var ids = ["place", "name", "hp", "room", "deaths", "status", "split"];
  var els = {};
  ids.forEach(function (id) { els[id] = document.getElementById(id); });

  function render(state) {
    var row = (S.runner && R.runner(state, S.runner)) || (S.runner ? null : state.runners[0]);
    if (!row) return;
    box.dataset.status = row.status;
    DXBus.setText(els.place, "#" + row.place);
    DXBus.setText(els.name, row.runner);
    DXBus.setText(els.hp, row.hp === null || row.hp === undefined ? "" : "HP " + row.hp + "/" + (row.hp_max || row.hp));
    DXBus.setText(els.room, row.area || row.room || "");
    DXBus.setText(els.deaths, "Deaths " + DXBus.formatCount(row.deaths));
    DXBus.setText(els.status, row.status === "running" ? "" : row.status);
    var text = "";
    if (row.finish_text) text = "Finished " + row.finish_text;
    else if (row.last_split) text = row.last_split.name + " " + (row.delta_text || R.clock(row.last_split.game));
    DXBus.setText(els.split, text);
  }

  R.follow(S.race, render);
})();
