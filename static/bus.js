/*
 * bus.js: the data-export-bus overlay client. Small, dependency-free, no build step.
 *
 *   const settings = DXBus.settings;            // this overlay's settings, as the server resolved them
 *   DXBus.connect({
 *     types: ["player_update"],                 // default: the types the overlay's manifest lists
 *     snapshot(snap) { ... },                   // {state, latest, seq, restarted} on every (re)connect
 *     on: { player_update(data, ev) { ... } },  // one handler per event type ("*" for all)
 *     status(s) { ... },                        // "connecting" | "live" | "down"
 *   });
 *
 * What it guarantees:
 * - Connects to `/ws` on the page's own origin (so an overlay works behind one URL) with `snapshot=1`
 *   and the overlay's types, passing the page's `?token=` through.
 * - Tracks the last `Seq` seen. After a drop it reconnects with backoff (0.25 s doubling, capped at 5 s)
 *   and resumes with `since_seq`: events missed meanwhile arrive flagged `ev.replayed` (their effect is
 *   already in the new snapshot, so overlays use them for counting-free things only). An event whose Seq
 *   was already seen is never delivered twice, so no damage number is shown twice.
 * - A bus that restarted (its snapshot Seq is below the last one seen) is detected: Seq tracking
 *   restarts from the new snapshot instead of ignoring every new event.
 * - While the bus is down nothing changes on screen: the last values stay, nothing new appears.
 *   `<html data-bus="live|down|connecting">` lets a theme show a hint if it wants to.
 * - A handler that throws is logged and skipped; the page never breaks.
 * - `overlay_reload` (hot reload while editing) reloads the page; the snapshot brings the state back.
 */
(function () {
  "use strict";

  var RELOAD_EVENT = "overlay_reload";
  var BACKOFF_START_MS = 250;
  var BACKOFF_MAX_MS = 5000;

  // -- page configuration (rendered by the server into <script id="dx-config">) -------------------
  var config = {};
  try {
    var node = document.getElementById("dx-config");
    if (node) config = JSON.parse(node.textContent || "{}");
  } catch (err) {
    console.error("[dxbus] unreadable page configuration", err);
  }
  var query = new URLSearchParams(window.location.search);
  var token = query.get("token");

  // -- settings: resolved by the server (overlays/settings.py), the one implementation -----------
  // The page never re-parses its query string: clamped, rounded and defaulted values arrive in the
  // page configuration with the reasons, so the CSS, the script and the gallery's form agree.
  var settings = config.values || {};
  (config.warnings || []).forEach(function (w) { console.warn("[dxbus] " + w); });

  // -- small helpers overlays share ----------------------------------------------------------------
  /** Seconds -> "m:ss" / "h:mm:ss" (with `tenths`, "m:ss.t"). */
  function formatTime(seconds, tenths) {
    var total = Math.max(0, Number(seconds) || 0);
    var whole = Math.floor(total);
    var h = Math.floor(whole / 3600);
    var m = Math.floor((whole % 3600) / 60);
    var s = whole % 60;
    var out = (h ? h + ":" + String(m).padStart(2, "0") : String(m)) + ":" + String(s).padStart(2, "0");
    if (tenths) out += "." + Math.floor((total - whole) * 10);
    return out;
  }

  /** Set an element's text (never HTML: event text is shown as text, always). */
  function setText(el, value) {
    var text = value === null || value === undefined ? "" : String(value);
    if (el && el.textContent !== text) el.textContent = text;
  }

  /**
   * Run `fn` in the next animation frame, batched: decoration (animations) starts just before the
   * frame that paints the DOM change, so it never delays the DOM write and never costs an extra frame.
   */
  var frameQueue = [];
  function nextFrame(fn) {
    if (frameQueue.push(fn) > 1) return;
    requestAnimationFrame(function () {
      var batch = frameQueue;
      frameQueue = [];
      for (var i = 0; i < batch.length; i++) {
        try { batch[i](); } catch (err) { console.error("[dxbus] frame callback failed", err); }
      }
    });
  }

  /** URL of a static asset, carrying the page's token (the HTTP port may require it). */
  function assetUrl(path) {
    var url = new URL(path, window.location.origin);
    if (token) url.searchParams.set("token", token);
    return url.pathname + url.search;
  }

  // -- sound: <audio> under /static/sounds/, unlocked by a click where the browser blocks autoplay ---
  var sound = {
    blocked: false,
    pending: null,
    /** Play `name` ("death.wav" or "/static/sounds/death.wav") at `volume` 0..1; bad URLs are refused. */
    play: function (name, volume) {
      if (!name) return null;
      var path = String(name);
      if (path.indexOf("/") < 0) path = "/static/sounds/" + encodeURIComponent(path);
      if (path.indexOf("/static/") !== 0 || path.indexOf("..") >= 0) {
        console.warn("[dxbus] sound '" + name + "' ignored: sounds are served from /static/sounds/");
        return null;
      }
      var audio = new Audio(assetUrl(path));
      var v = Number(volume);
      audio.volume = isFinite(v) ? Math.min(1, Math.max(0, v)) : 1;
      audio.dataset.src = path;
      var played = audio.play();
      if (played && played.catch) {
        played.catch(function (err) {
          if (err && err.name === "NotAllowedError") {
            if (!sound.blocked) console.info("[dxbus] the browser blocked sound: click the page to enable it " +
                                             "(OBS plays sound without a click)");
            sound.blocked = true;
            sound.pending = audio;
          } else {
            console.warn("[dxbus] sound " + path + " could not play:", err && err.message);
          }
        });
      }
      sound.last = audio;
      return audio;
    },
    /** Called on a user gesture: replay the sound that was blocked, and allow the next ones. */
    unlock: function () {
      sound.blocked = false;
      if (sound.pending) { sound.pending.play().catch(function () {}); sound.pending = null; }
      document.documentElement.dataset.sound = "on";
    },
  };
  window.addEventListener("click", function () { sound.unlock(); });
  window.addEventListener("message", function (e) {
    if (e.origin === window.location.origin && e.data === "dx-unmute") sound.unlock();
  });

  // -- the WebSocket client --------------------------------------------------------------------------
  function Client(options) {
    this.options = options || {};
    this.handlers = this.options.on || {};
    this.types = (this.options.types || config.types || []).slice();
    if (this.types.length && this.types.indexOf(RELOAD_EVENT) < 0) this.types.push(RELOAD_EVENT);
    this.lastSeq = null;     // highest Seq delivered (null until the first frame)
    this.snapSeq = null;     // Seq of the last snapshot: events at or below it are replays
    this.attempt = 0;
    this.ws = null;
    this.closed = false;
    this.stats = { frames: 0, duplicates: 0, reconnects: 0, snapshots: 0 };
  }

  Client.prototype.url = function () {
    var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    var params = new URLSearchParams();
    params.set("snapshot", "1");
    if (this.types.length) params.set("types", this.types.join(","));
    if (this.lastSeq !== null) params.set("since_seq", String(this.lastSeq));
    if (token) params.set("token", token);
    // A gallery preview (?preview=1) also gets the test events its "Send test events" button makes.
    if (query.get("preview") === "1") params.set("include_test", "1");
    return proto + "//" + window.location.host + (this.options.path || config.ws || "/ws") + "?" + params;
  };

  Client.prototype.setStatus = function (status) {
    document.documentElement.dataset.bus = status;
    if (this.options.status) this.safe(this.options.status, status);
  };

  Client.prototype.safe = function (fn, a, b) {
    try {
      return fn(a, b);
    } catch (err) {
      console.error("[dxbus] overlay handler failed", err);
      return undefined;
    }
  };

  Client.prototype.open = function () {
    if (this.closed) return;
    var self = this;
    this.setStatus("connecting");
    var ws;
    try {
      ws = new WebSocket(this.url());
    } catch (err) {
      console.error("[dxbus] cannot open the bus WebSocket", err);
      this.retry();
      return;
    }
    this.ws = ws;
    ws.onopen = function () { self.attempt = 0; self.framesAtPing = undefined; self.setStatus("live"); };
    ws.onmessage = function (e) { self.receive(e.data); };
    ws.onclose = function () {
      if (self.ws !== ws) return;
      self.ws = null;
      self.setStatus("down");
      self.retry();
    };
    ws.onerror = function () { /* onclose follows and schedules the retry */ };
  };

  Client.prototype.retry = function () {
    if (this.closed) return;
    var delay = Math.min(BACKOFF_MAX_MS, BACKOFF_START_MS * Math.pow(2, this.attempt));
    delay = Math.round(delay * (0.8 + Math.random() * 0.4));  // jitter: many overlays, one bus
    this.attempt += 1;
    this.stats.reconnects += 1;
    var self = this;
    setTimeout(function () { self.open(); }, Math.min(delay, BACKOFF_MAX_MS));
  };

  Client.prototype.receive = function (text) {
    var frame;
    try {
      frame = JSON.parse(text);
    } catch (err) {
      console.warn("[dxbus] unreadable frame ignored");
      return;
    }
    this.stats.frames += 1;
    if (!frame || typeof frame !== "object") return;
    if (frame.type) { this.control(frame); return; }
    if (frame.EventType === "bus_snapshot") { this.snapshot(frame); return; }
    var seq = typeof frame.Seq === "number" ? frame.Seq : null;
    if (seq !== null) {
      if (this.lastSeq !== null && seq <= this.lastSeq) { this.stats.duplicates += 1; return; }
      this.lastSeq = seq;
    }
    var ev = {
      type: frame.EventType, data: frame.Data || {}, seq: seq, timestamp: frame.Timestamp,
      replayed: seq !== null && this.snapSeq !== null && seq <= this.snapSeq,
    };
    // How old a missed event already was when the bus answered (both times from the bus's clock).
    if (ev.replayed) ev.age = (this.snapTime - Date.parse(ev.timestamp)) / 1000 || 0;
    if (ev.type === RELOAD_EVENT) { this.reload(ev); return; }
    var handler = this.handlers[ev.type];
    if (handler) this.safe(handler, ev.data, ev);
    if (this.handlers["*"]) this.safe(this.handlers["*"], ev.data, ev);
    if (window.__dxProbe) window.__dxProbe(ev);  // latency benchmark hook (bench/overlay_latency.py)
  };

  Client.prototype.snapshot = function (frame) {
    var seq = typeof frame.Seq === "number" ? frame.Seq : 0;
    var restarted = this.lastSeq !== null && seq < this.lastSeq;
    if (restarted || this.lastSeq === null) this.lastSeq = seq;
    this.snapSeq = seq;
    this.snapTime = Date.parse(frame.Timestamp);
    this.stats.snapshots += 1;
    var data = frame.Data || {};
    var snap = { state: data.state || {}, latest: data.latest || {}, seq: seq, restarted: restarted };
    if (this.options.snapshot) this.safe(this.options.snapshot, snap);
  };

  Client.prototype.control = function (frame) {
    if (frame.type === "error") {
      var error = frame.error || {};
      console.error("[dxbus] bus error " + error.code + ": " + error.message);
      if (error.code === "AUTH_FAILED") this.attempt = 10;  // wrong token: retry slowly, at the cap
    }
  };

  Client.prototype.reload = function (ev) {
    console.info("[dxbus] " + ((ev.data && ev.data.path) || "a file") + " changed: reloading");
    this.close();
    window.location.reload();
  };

  /**
   * Keep-alive: a ping every 20 s; two pings in a row with no frame at all since (a half-open
   * connection, e.g. over Wi-Fi) close the socket, and the reconnect logic takes over. Counting
   * missed pings rather than comparing clocks keeps a source that OBS paused (timers stop, then
   * resume with a time jump) from dropping a healthy connection.
   */
  Client.prototype.heartbeat = function () {
    var ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    this.missedPings = this.framesAtPing !== undefined && this.stats.frames === this.framesAtPing
      ? (this.missedPings || 0) + 1 : 0;
    if (this.missedPings >= 2) { this.missedPings = 0; ws.close(); return; }
    this.framesAtPing = this.stats.frames;
    try { ws.send(JSON.stringify({ type: "ping" })); } catch (err) { /* closing */ }
  };

  Client.prototype.close = function () {
    this.closed = true;
    if (this.ws) { var ws = this.ws; this.ws = null; ws.close(); }
  };

  /** Connect to the bus; returns the client (`client.stats`, `client.close()`). */
  function connect(options) {
    var client = new Client(options);
    client.open();
    setInterval(function () { client.heartbeat(); }, 20000);
    DXBus.client = client;
    return client;
  }

  var DXBus = {
    config: config,
    settings: settings,
    token: token,
    connect: connect,
    formatTime: formatTime,
    nextFrame: nextFrame,
    setText: setText,
    assetUrl: assetUrl,
    sound: sound,
    client: null,
  };
  window.DXBus = DXBus;
  window.addEventListener("error", function (e) { console.error("[dxbus] page error:", e.message); });
})();
