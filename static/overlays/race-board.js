/* The race-board overlay: the hub's standings, rendered from pushed race_state (static/race.js). */
(function () {
  "use strict";
  var S = DXBus.settings;
  var R = window.DXRace;
  var rowsEl = document.getElementById("rows");
  var titleEl = document.getElementById("title");

  function side(row) {
    if (row.status === "finished") return row.finish_text || R.clock(row.finish);
    if (row.status === "forfeit") return "forfeit";
    if (row.delta_text) return row.delta_text;
    return row.last_split ? R.clock(row.last_split.game) : "";
  }

  function render(state) {
    DXBus.setText(titleEl, state.name);
    var rows = state.runners.slice(0, S.rows).map(function (row) {
      var box = R.el("div", "rb-row");
      box.dataset.runner = row.runner;
      box.dataset.status = row.status;
      box.appendChild(R.el("div", "rb-place", row.place));
      box.appendChild(R.el("div", "rb-name", row.runner));
      box.appendChild(R.el("div", "rb-side", side(row)));
      var sub = R.el("div", "rb-sub");
      sub.appendChild(R.el("span", "rb-progress", row.splits_done + "/" + state.splits.length));
      if (S.show_split && row.last_split) sub.appendChild(R.el("span", "rb-split", row.last_split.name));
      if (S.show_hp && row.hp !== null && row.hp !== undefined) {
        sub.appendChild(R.el("span", "rb-hp", "HP " + row.hp + "/" + (row.hp_max || row.hp)));
      }
      if (row.status === "stale" || row.status === "forfeit" || row.status === "finished") {
        sub.appendChild(R.el("span", "rb-badge", row.status));
      }
      box.appendChild(sub);
      return box;
    });
    R.fill(rowsEl, rows);
  }

  R.follow(S.race, render);
})();
