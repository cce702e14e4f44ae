/*
 * race.js: what the race overlays share (race-board, race-duel, race-runner). The hub pushes the whole
 * board as `race_state` events on its bus; this file only follows them and renders with textContent
 * (runner names are never parsed as HTML). bus.js is used for the connection alone.
 *
 *   DXRace.follow(raceId, function (state) { ... });   // every board of that race ("" = the first)
 */
(function () {
  "use strict";

  /** Follow one race's board: from /api/race on every (re)connect, then every pushed race_state. */
  function follow(raceId, render) {
    var current = null;
    function take(state) {
      if (!state || typeof state !== "object" || !Array.isArray(state.runners)) return;
      if (raceId && state.race !== raceId) return;
      if (!raceId && current && state.race !== current.race) return;
      if (current && state.race === current.race && state.version < current.version) return;
      current = state;
      document.documentElement.dataset.race = state.race;
      render(state);
    }
    // A gallery preview shows the manifest's test board: the bus it runs on may run no race (a 404 would
    // be a console error on every gallery visit), and a preview never shows live data it was not sent.
    var preview = new URLSearchParams(window.location.search).get("preview") === "1";
    function json(path) {
      return fetch(DXBus.assetUrl(path)).then(function (resp) {
        if (!resp.ok) throw new Error("HTTP " + resp.status);
        return resp.json();
      });
    }
    function load() {
      if (preview) return;
      // Ask the bus first whether it is a race hub: a plain bus has no /api/race (and a 404 would be
      // a console error in OBS), the gallery's previews then show their test events only.
      json("/api/status").then(function (status) {
        if (!status.race || !status.race.races) throw new Error("this bus is not a race hub");
        if (raceId && !status.race.races[raceId]) throw new Error("no race " + raceId + " here");
        return json(raceId ? "/api/race/" + encodeURIComponent(raceId) : "/api/race");
      }).then(function (body) {
        take(raceId ? body : (body.races || [])[0]);
      }).catch(function (err) {
        document.documentElement.dataset.race = "none";
        console.info("[dxrace] no race here yet (" + err.message + ")");
      });
    }
    DXBus.connect({
      types: ["race_state"],
      snapshot: function (snap) {
        var latest = snap.latest && snap.latest.race_state;
        if (latest && latest.Data) take(latest.Data);
        load();
      },
      on: { race_state: function (data) { take(data); } },
    });
  }

  /** An element with a class and text (never HTML). */
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /** Replace a container's children. */
  function fill(parent, children) {
    while (parent.firstChild) parent.removeChild(parent.firstChild);
    children.forEach(function (child) { parent.appendChild(child); });
  }

  /** `1:04.6` from seconds. */
  function clock(seconds) {
    return seconds === null || seconds === undefined ? "" : DXBus.formatTime(Number(seconds), true);
  }

  /** The row of one runner (by name, case-sensitive), or null. */
  function runner(state, name) {
    for (var i = 0; i < state.runners.length; i++) {
      if (state.runners[i].runner === name) return state.runners[i];
    }
    return null;
  }

  /** `+12.3 s` between two game times. */
  function delta(seconds) {
    if (Math.abs(seconds) < 0.05) return "±0.0 s";
    return (seconds > 0 ? "+" : "−") + Math.abs(seconds).toFixed(1) + " s";
  }

  window.DXRace = { follow: follow, el: el, fill: fill, clock: clock, runner: runner, delta: delta };
})();
