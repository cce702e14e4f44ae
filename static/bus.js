/*
 * bus.js: the data-export-bus overlay client. Small, dependency-free, no build step.
 *
 *   const settings = DXBus.settings;            // this overlay's settings, as the server resolved them
 *   DXBus.connect({
 *     types: ["combat_damage"],                 // events wanted as events ([] = state only; default:
 *                                               // the manifest's types, none listed = every event)
 *     render(state, info) { ... },              // the server's state: at once, or with the next frame
 *     on: { combat_damage(data, ev) { ... } },  // one handler per event type ("*" for all)
 *     status(s) { ... },                        // "connecting" | "live" | "down"
 *     quiet: true,                              // not an overlay: no hello/painted reports
 *   });
 *   DXBus.timer(state.timers.fight)             // seconds a state timer shows now (server reference)
 *   DXBus.formatCount(12345.6)                  // "12,345.6": grouped digits for counts and amounts
 *
 * What it guarantees:
 * - Overlays render server state; they never count, pair or time anything. The page connects to the
 *   bus's state channel (`/ws?state=1` on its own origin, passing `?token=` through) and gets a full
 *   state (what `GET /api/state` serves plus `segments`, `practice` and `timers`), then patches with a
 *   revision number; a patch on a revision the page does not have makes it ask for a full state
 *   (`resync`). Changes are kept at once and drawn at once, unless the draws at once since the last
 *   animation frame took 1 ms already: then the next frame draws every change since in one
 *   `render(state, info)` (`info.changed`: the keys changed since the last draw,
 *   `info.full`: a full state arrived, `info.stale`: the bus is gone).
 * - Timers come from the server's clock: `{running, since, until}` or `{value}`; each message carries
 *   `server_now`, the page takes its offset from it (a full state sets it, a patch can only move it
 *   forward: a message that arrived late never winds a timer back) and draws server time + its own
 *   elapsed time since. When the socket closes timers freeze where they are and the page is stale:
 *   `<html data-bus="down" class="dx-stale">`; a reconnect brings a fresh full state.
 * - Events (damage numbers, alerts, overlay_reload) come on the same socket. After a drop it
 *   reconnects with backoff (0.25 s doubling, capped at 5 s) and resumes with `since_seq`: events missed
 *   meanwhile arrive flagged `ev.replayed` (`ev.age`: seconds old when the bus answered). An event
 *   whose Seq was already seen is never delivered twice, so no damage number is shown twice. A bus that
 *   restarted (its Seq is below the last one seen) is detected and Seq tracking starts over.
 * - `snapshot(snap)` (overlays written for the plain stream) is still called on every full state with
 *   `{state, latest: {}, seq, restarted}`.
 * - A handler that throws is logged and skipped; the page never breaks.
 * - `overlay_reload` (hot reload while editing) reloads the page; the full state brings it back.
 */
(function () {
  "use strict";

  var RELOAD_EVENT = "overlay_reload";
  var BACKOFF_START_MS = 250;
  var BACKOFF_MAX_MS = 5000;
  var CLOCK_JUMP_S = 5;  // a patch this much behind the page's clock reading means the clock jumped
  var PAINT_REPORT_S = 0.25;  // at most four draw reports a second per page
  // Script time for drawing changes as they arrive, per animation frame; the changes after that wait for
  // the frame. A cheap overlay (HP: a class flip per mask) draws a whole 1,000-patch/s burst at once, a
  // heavy one soon hands its changes to the frame, so neither costs more than this plus one draw a frame.
  var DRAW_AT_ONCE_MS = 1;

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

  /**
   * A count or amount with grouped digits ("12,345", "99,999.9"): at most one decimal, none for whole
   * numbers. Grouped in the page's language (`<html lang="en">`, the overlays' own), not the machine's,
   * so a stream shows what its labels' language writes and tests see the same text everywhere.
   */
  var countFormat = null;
  function formatCount(value) {
    var n = Number(value);
    if (!isFinite(n)) n = 0;
    if (countFormat === null) {
      var lang = document.documentElement.lang || "en";
      try {
        countFormat = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });
      } catch (err) {
        countFormat = new Intl.NumberFormat("en", { maximumFractionDigits: 1 });
      }
    }
    return countFormat.format(Math.round(n * 10) / 10);
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

  // -- server time: every timer is drawn from the server's clock reading, never counted here ---------
  var clock = {
    offset: null,   // server monotonic seconds minus local seconds, taken from the last message
    frozenAt: null, // local seconds when the socket closed: timers stop there (stale)
  };
  function localNow() { return performance.now() / 1000; }
  /** The server's monotonic clock now, as this page estimates it (frozen while the bus is down). */
  function serverNow() {
    if (clock.offset === null) return null;
    var local = clock.frozenAt !== null ? clock.frozenAt : localNow();
    return local + clock.offset;
  }
  /**
   * Seconds a state timer shows now: `{running, since, until}` counts from the server's `since`
   * (`server_now - since` at the last message, plus this page's time since it), `{value}` is fixed.
   */
  function timerSeconds(timer) {
    if (!timer) return 0;
    if (!timer.running) return timer.value === null || timer.value === undefined ? 0 : Number(timer.value);
    var now = serverNow();
    if (now === null) return 0;
    if (timer.until !== null && timer.until !== undefined) now = Math.min(now, Number(timer.until));
    return Math.max(0, now - Number(timer.since));
  }

  // -- the state channel client ------------------------------------------------------------------------
  function Client(options) {
    this.options = options || {};
    this.handlers = this.options.on || {};
    var types = this.options.types !== undefined ? this.options.types : (config.types || []);
    this.types = types.slice();
    // A page that names event types gets those (plus overlay_reload); naming none means every event,
    // except for `types: []`, which asks for state alone.
    this.allEvents = this.options.types === undefined && this.types.length === 0;
    if (!this.allEvents && this.types.indexOf(RELOAD_EVENT) < 0) this.types.push(RELOAD_EVENT);
    this.state = null;       // the server's document (GET /api/state + segments, practice, timers)
    this.rev = null;         // its revision
    this.changed = {};       // keys changed since the last render
    this.full = false;       // a full state arrived since the last render
    this.frame = null;       // the animation frame after a draw at once (the count starts again there)
    this.drawnMs = 0;        // script time of the draws at once since the last animation frame
    this.pending = false;    // a change not drawn yet
    this.lastSeq = null;     // highest event Seq delivered
    this.snapSeq = null;     // Seq of the first full state: events at or below it are replays
    this.snapTime = null;    // the bus's wall clock (ms) at that state
    this.eventAt = null;     // publish time (s) of the oldest event in the changes not drawn yet
    this.attempt = 0;
    this.ws = null;
    this.closed = false;
    this.stats = { frames: 0, duplicates: 0, reconnects: 0, snapshots: 0, states: 0, patches: 0,
                   renders: 0, resyncs: 0 };
  }

  Client.prototype.url = function () {
    var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    var params = new URLSearchParams();
    params.set("state", "1");
    if (!this.allEvents) params.set("types", this.types.join(","));
    if (this.lastSeq !== null) params.set("since_seq", String(this.lastSeq));
    if (token) params.set("token", token);
    // A gallery preview (?preview=1) renders the test sandbox and gets the test events.
    if (query.get("preview") === "1") params.set("include_test", "1");
    // A page that draws events, not state (damage numbers, alerts), takes a patch a few times a second:
    // one per hit would double its messages at high hit rates, and it draws none of them.
    if (!this.drawsState()) params.set("state_every", "slow");
    return proto + "//" + window.location.host + (this.options.path || config.ws || "/ws") + "?" + params;
  };

  /** Whether this page draws the server's state (a `render` or `snapshot` callback), not only events. */
  Client.prototype.drawsState = function () {
    return !!(this.options.render || this.options.snapshot);
  };

  Client.prototype.setStatus = function (status) {
    var root = document.documentElement;
    root.dataset.bus = status;
    // Stale: the bus is gone, what is on screen is its last word (timers stopped).
    root.classList.toggle("dx-stale", status === "down");
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
    ws.onopen = function () {
      self.attempt = 0;
      self.framesAtPing = undefined;
      // Which overlay this is, for the dashboard's list (the bus drops the token); `quiet` pages
      // (the dashboard itself) are not overlays and stay off that list.
      // Its settings warnings go along, so the dashboard shows them and not only this page's console.
      if (!self.options.quiet) {
        self.send({ type: "hello", page: window.location.pathname + window.location.search,
                    warnings: config.warnings || [], overlay: config.overlay, version: config.version });
      }
    };
    ws.onmessage = function (e) { self.receive(e.data); };
    ws.onclose = function () {
      if (self.ws !== ws) return;
      self.ws = null;
      // Timers freeze where they were when the bus went away (a failed reconnect moves nothing).
      if (clock.frozenAt === null) clock.frozenAt = localNow();
      self.setStatus("down");
      self.schedule();
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
    if (frame.type === "state" || frame.type === "state_patch") { this.applyState(frame); return; }
    if (frame.type) { this.control(frame); return; }
    this.event(frame);
  };

  /** A full state or a patch: kept at once, drawn at once or at the next animation frame (`schedule`). */
  Client.prototype.applyState = function (frame) {
    if (typeof frame.server_now === "number") {
      // The server's clock was at least `server_now` when this arrived, so each message bounds the
      // offset from below: a patch only ever moves it forward (a late message never winds timers
      // back); a full state (a new connection, maybe a new bus) takes its reading as it is.
      // (A reading far behind is a jump of this page's clock, e.g. the machine slept: taken too.)
      var offset = frame.server_now - localNow();
      if (frame.type === "state" || clock.offset === null || offset > clock.offset ||
          clock.offset - offset > CLOCK_JUMP_S) clock.offset = offset;
      clock.frozenAt = null;
    }
    if (frame.type === "state") {
      if (typeof frame.seq === "number") {
        var restarted = this.lastSeq !== null && frame.seq < this.lastSeq;
        if (restarted || this.lastSeq === null) this.lastSeq = frame.seq;
        this.snapSeq = frame.seq;
        this.restarted = restarted;
      }
      if (typeof frame.server_time === "number" && typeof frame.seq === "number") {
        this.snapTime = frame.server_time * 1000;
      }
      this.state = frame.state || {};
      this.rev = frame.rev;
      this.full = true;
      this.stats.states += 1;
      if (this.ws) this.setStatus("live");
    } else {
      if (this.state === null || frame.base !== this.rev) {
        // A gap (a patch on a revision this page does not have): ask for the whole state.
        this.stats.resyncs += 1;
        this.send({ type: "resync" });
        return;
      }
      var changes = frame.changes || {};
      for (var key in changes) {
        if (Object.prototype.hasOwnProperty.call(changes, key)) {
          this.state[key] = changes[key];
          this.changed[key] = true;
        }
      }
      this.rev = frame.rev;
      this.stats.patches += 1;
    }
    // The publish time of the oldest event in the changes not drawn yet (a change made by the clock
    // alone has none): the latency probe counts from it.
    if (this.eventAt === null && typeof frame.event_time === "number") this.eventAt = frame.event_time;
    if (typeof frame.server_now === "number") this.sentNow = frame.server_now;
    this.schedule();
  };

  /**
   * A change to draw: at once, while the draws at once since the last animation frame took less than
   * DRAW_AT_ONCE_MS; after that it waits for the next frame, which draws every change since together.
   * So the DOM write does not wait up to a frame for the paint that shows it, each paint shows the
   * newest state, and drawing costs a page at most about that much a frame plus one draw, at any rate.
   */
  Client.prototype.schedule = function () {
    var self = this;
    this.pending = true;
    if (this.drawnMs >= DRAW_AT_ONCE_MS) return;  // the frame draws it
    var start = performance.now();
    this.draw();
    this.drawnMs += performance.now() - start;
    if (this.frame !== null) return;
    this.frame = requestAnimationFrame(function () {
      self.frame = null;
      self.drawnMs = 0;
      if (self.pending) self.draw();
    });
  };

  Client.prototype.draw = function () {
    this.pending = false;
    this.render();
  };

  Client.prototype.render = function () {
    if (this.state === null) return;
    var info = { full: this.full, changed: this.changed, stale: clock.frozenAt !== null,
                 restarted: !!this.restarted, seq: this.snapSeq };
    var full = this.full;
    this.full = false;
    this.changed = {};
    this.restarted = false;
    if (full && this.options.snapshot) {
      // The older callback, for overlays written against the plain stream: the state on (re)connect.
      this.safe(this.options.snapshot, { state: this.state, latest: {}, seq: this.snapSeq,
                                         restarted: info.restarted });
    }
    if (this.options.render) this.safe(this.options.render, this.state, info);
    this.stats.renders += 1;
    // Latency hook (bench/overlay_latency.py): the publish time of the oldest event in the newest state
    // drawn now (a page that draws only events wrote nothing here: its draws are reported by `event`).
    if (window.__dxProbe && this.eventAt !== null && this.drawsState()) {
      window.__dxProbe({ type: "state", data: { _t: this.eventAt } });
    }
    this.eventAt = null;
    if (full) this.stats.snapshots += 1;  // counted once drawn: the page shows this state now
    this.reportPaint();
  };

  /** Tell the bus which state was just drawn (its latency figure on the dashboard), a few times a second. */
  Client.prototype.reportPaint = function () {
    if (this.options.quiet || typeof this.sentNow !== "number" || this.sentNow === this.reportedNow) return;
    var now = localNow();
    if (this.reportedAt !== undefined && now - this.reportedAt < PAINT_REPORT_S) return;
    this.reportedAt = now;
    this.reportedNow = this.sentNow;
    this.send({ type: "painted", server_now: this.sentNow });
  };

  Client.prototype.event = function (frame) {
    var seq = typeof frame.Seq === "number" ? frame.Seq : null;
    if (seq !== null) {
      if (this.lastSeq !== null && seq <= this.lastSeq) { this.stats.duplicates += 1; return; }
      this.lastSeq = seq;
    }
    var ev = {
      type: frame.EventType, data: frame.Data || {}, seq: seq, timestamp: frame.Timestamp,
      origin: frame.Origin || "live",
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

  Client.prototype.send = function (message) {
    var ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    try { ws.send(JSON.stringify(message)); } catch (err) { /* closing */ }
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
    this.send({ type: "ping" });
  };

  Client.prototype.close = function () {
    this.closed = true;
    if (this.ws) { var ws = this.ws; this.ws = null; ws.close(); }
  };

  /** Connect to the bus's state channel; returns the client (`client.stats`, `client.close()`). */
  function connect(options) {
    var client = new Client(options);
    DXBus.client = client;
    client.open();
    setInterval(function () { client.heartbeat(); }, 20000);
    return client;
  }

  /**
   * Redraw `fn` every `ms` while the page is open: for live timers only (the numbers come from
   * `DXBus.timer`, i.e. the server's clock reading; nothing is counted here).
   */
  function every(ms, fn) {
    return setInterval(function () {
      try { fn(); } catch (err) { console.error("[dxbus] redraw failed", err); }
    }, ms);
  }

  var DXBus = {
    config: config,
    settings: settings,
    token: token,
    connect: connect,
    timer: timerSeconds,
    serverNow: serverNow,
    every: every,
    formatTime: formatTime,
    formatCount: formatCount,
    nextFrame: nextFrame,
    setText: setText,
    assetUrl: assetUrl,
    sound: sound,
    client: null,
  };
  window.DXBus = DXBus;
  window.addEventListener("error", function (e) { console.error("[dxbus] page error:", e.message); });
})();
