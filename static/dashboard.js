/* The dashboard's script (server/templates/dashboard.html.j2 inlines it): status, overlays, live events. */
(() => {
  "use strict";
  const HAS_WS = JSON.parse(document.getElementById("dashboard-config").textContent).has_ws;
  const MAX_ROWS = 200;
  const token = new URLSearchParams(location.search).get("token");
  const withToken = (path) => {
    if (!token) return path;
    const url = new URL(path, location.href);
    url.searchParams.set("token", token);
    return url.pathname + url.search;
  };
  document.querySelectorAll("a[data-keep-token]").forEach((a) => { a.href = withToken(a.getAttribute("href")); });

  const $ = (id) => document.getElementById(id);
  const setText = (id, value) => { $(id).textContent = String(value); };
  const cell = (text, cls) => { const td = document.createElement("td"); td.textContent = text; if (cls) td.className = cls; return td; };

  function renderStatus(s) {
    setText("health-text", s.status);
    $("health").classList.toggle("bad", s.status !== "healthy");
    setText("uptime", Math.round(s.uptime_seconds) + " s");
    setText("collected", s.metrics_collected);
    setText("seq", s.seq);
    setText("ports", Object.entries(s.ports || {}).map(([k, v]) => k + " " + v).join(" · "));
    for (const kind of ["http", "websocket", "tcp"]) setText("conn-" + kind, (s.active_connections || {})[kind] ?? 0);
    const body = $("subscribers");
    body.replaceChildren();
    for (const sub of s.subscribers || []) {
      const tr = document.createElement("tr");
      tr.append(cell(sub.name || "(unnamed)"), cell(sub.types ? sub.types.join(", ") : "all"),
                cell(sub.backlog, "num"), cell(sub.delivered, "num"));
      body.append(tr);
    }
    if (!body.children.length) { const tr = document.createElement("tr"); const td = cell("no subscribers", "muted"); td.colSpan = 4; tr.append(td); body.append(tr); }
    const conf = $("configuration");
    conf.replaceChildren();
    for (const [key, value] of Object.entries(s.configuration || {})) {
      const dt = document.createElement("dt"); dt.textContent = key;
      const dd = document.createElement("dd"); dd.textContent = String(value);
      dd.className = value === true ? "on" : value === false ? "off" : "";
      conf.append(dt, dd);
    }
  }

  function renderObs(o) {
    if (!o || !o.enabled || !$("obs-card")) return;
    setText("obs-conn", o.dry_run ? "dry-run" : o.connected ? "connected" : (o.error || "connecting…"));
    setText("obs-scene", o.program_scene || "–");
    setText("obs-paused", o.paused_until ? "paused until " + o.paused_until.slice(11, 19) : "on");
    const body = $("obs-switches");
    body.replaceChildren();
    for (const sw of (o.last_switches || []).slice(0, 8)) {
      const tr = document.createElement("tr");
      tr.title = sw.reason;
      tr.append(cell(String(sw.at).slice(11, 19)), cell(sw.scene), cell(sw.outcome));
      body.append(tr);
    }
  }

  // How long ago a page last drew, from the server's `painted_ago` seconds.
  function paintedAgo(seconds) {
    if (typeof seconds !== "number") return "not drawn yet";
    if (seconds < 60) return "painted " + Math.round(seconds) + " s ago";
    if (seconds < 3600) return "painted " + Math.floor(seconds / 60) + " min ago";
    return "painted " + Math.floor(seconds / 3600) + " h ago";
  }

  // Every overlay page on the state channel, with its own publish-to-paint figures (p50 / p95).
  function renderOverlays(overlays) {
    const body = $("overlays");
    body.replaceChildren();
    for (const o of overlays || []) {
      if (!o.page) continue;  // never said hello: not an overlay (this page's own state feed, a script)
      const tr = document.createElement("tr");
      const lat = o.latency_ms || {};
      const ms = (v) => (typeof v === "number" ? v.toFixed(1) : "–");
      tr.dataset.page = o.page || "";
      const name = cell((o.page || "(unknown page)") + (o.feed === "test" ? " (preview)" : ""));
      for (const w of o.warnings || []) {
        const note = document.createElement("div");
        note.className = "warning"; note.textContent = "⚠ " + w;
        name.append(note);
      }
      // Stale: loaded before its template, script or settings changed (the server compares versions).
      const state = document.createElement("div");
      state.className = "state";
      const version = document.createElement("span");
      version.className = "version " + (o.stale === true ? "stale" : o.stale === false ? "current" : "muted");
      version.textContent = o.stale === true ? "stale: refresh it" : o.stale === false ? "current" : "version –";
      version.title = o.version ? "page " + o.version + (o.current_version ? " · now " + o.current_version : "") : "";
      const painted = document.createElement("span");
      painted.className = "painted"; painted.textContent = paintedAgo(o.painted_ago);
      state.append(version, " · ", painted);
      name.append(state);  // under the page's address: the card is narrow
      tr.append(name,
                cell(o.remote || ""), cell(ms(lat.p50), "num"), cell(ms(lat.p95), "num"),
                cell(o.draws ?? 0, "num"));
      tr.classList.toggle("stale", o.stale === true);
      body.append(tr);
    }
    if (!body.children.length) {
      const tr = document.createElement("tr"); const td = cell("no overlay connected", "muted");
      td.colSpan = 5; tr.append(td); body.append(tr);
    }
  }

  // -- on stream: the server's state, as the overlays get it (bus.js, not listed as an overlay) ------
  let shown = null;
  function renderShow() {
    const st = shown;
    if (!st) return;
    const p = st.player || {}, scene = st.scene || {}, boss = st.boss || {}, deaths = st.deaths || {};
    setText("show-hp", p.health_max ? p.health + " / " + p.health_max : "–");
    setText("show-room", scene.area || scene.current || "–");
    const fight = window.DXBus.formatTime(window.DXBus.timer((st.timers || {}).fight || {}), true);
    setText("show-fight", boss.active ? boss.current + " · " + fight
                        : boss.last_result ? "last: " + (boss.last_result.boss || "") + " · " + fight : "none");
    setText("show-deaths", (deaths.session ?? 0) + " this session · " + (deaths.total ?? 0) + " total");
  }
  if (window.DXBus) {
    window.DXBus.connect({ types: [], quiet: true, render(state) { shown = state; renderShow(); } });
    window.DXBus.every(250, renderShow);  // the fight timer runs on the server's clock
  }

  function renderAlerts(a) {
    if (!a || !$("show-alerts")) return;
    setText("show-alerts", (a.showing ? "showing " + a.showing + " · " : "") + a.queued + " queued"
                           + (a.paused ? " · paused" : ""));
    $("alerts-pause").textContent = a.paused ? "Resume alerts" : "Pause alerts";
    $("alerts-pause").dataset.paused = a.paused ? "1" : "";
    $("alerts-skip").disabled = !a.showing;
    $("alerts-replay").disabled = !a.last_shown;
    $("alerts-replay").title = a.last_shown ? "Show " + a.last_shown + " again" : "Nothing shown yet";
  }
  async function postAlerts(path, body) {
    try {
      await fetch(withToken(path), { method: "POST", headers: { "Content-Type": "application/json" },
                                     body: JSON.stringify(body || {}) });
    } catch (err) { /* the status card shows the bus as unreachable */ }
    refreshStatus();
  }
  if ($("alerts-pause")) {
    $("alerts-pause").addEventListener("click", () => postAlerts("/api/alerts/pause",
                                                                 { paused: !$("alerts-pause").dataset.paused }));
    $("alerts-clear").addEventListener("click", () => postAlerts("/api/alerts/clear"));
    $("alerts-skip").addEventListener("click", () => postAlerts("/api/alerts/skip"));
    $("alerts-replay").addEventListener("click", () => postAlerts("/api/alerts/replay", { count: 1 }));
  }

  async function refreshStatus() {
    try {
      const r = await fetch(withToken("/api/status"), { cache: "no-store" });
      if (!r.ok) throw new Error("HTTP " + r.status);
      const status = await r.json();
      renderStatus(status);
      renderObs(status.obs);
      renderOverlays(status.connected_overlays);
      renderAlerts(status.alerts);
    } catch (err) {
      setText("health-text", "unreachable"); $("health").classList.add("bad");
    }
  }

  // -- live events -------------------------------------------------------------------------
  // High-rate state (10 Hz player_update, 1 Hz timing_update) would bury discrete events: opt-in.
  const STATE_TYPES = new Set(["player_update", "timing_update"]);
  let lastSeq = 0, paused = false, filter = "", showState = false;
  $("show-state").addEventListener("change", (e) => { showState = e.target.checked; });
  const list = $("events");
  $("pause").addEventListener("click", () => { paused = !paused; $("pause").textContent = paused ? "Resume" : "Pause"; });
  $("filter").addEventListener("input", (e) => {
    filter = e.target.value.trim();
    for (const li of list.children) li.hidden = !!filter && !li.dataset.type.includes(filter);
  });

  function addEvent(ev) {
    if (!ev || typeof ev.EventType !== "string") return;   // pong, error frames...
    if (typeof ev.Seq === "number") { if (ev.Seq <= lastSeq) return; lastSeq = ev.Seq; }
    if (paused || (!showState && STATE_TYPES.has(ev.EventType))) return;
    const li = document.createElement("li");
    li.className = ev.EventType; li.dataset.type = ev.EventType;
    li.hidden = !!filter && !ev.EventType.includes(filter);
    const span = (cls, text) => { const s = document.createElement("span"); s.className = cls; s.textContent = text; return s; };
    const time = typeof ev.Timestamp === "string" ? ev.Timestamp.slice(11, 23) : "";
    const data = JSON.stringify(ev.Data ?? {});
    li.append(span("seq", "#" + (ev.Seq ?? "")), span("time", time), span("type", ev.EventType),
              span("data", data.length > 400 ? data.slice(0, 400) + "…" : data));
    li.title = data.slice(0, 2000);
    list.prepend(li);
    while (list.children.length > MAX_ROWS) list.lastElementChild.remove();
  }

  async function poll() {
    try {
      const r = await fetch(withToken("/api/recent?count=100"), { cache: "no-store" });
      if (r.ok) for (const ev of await r.json()) addEvent(ev);
    } catch (err) { /* the status card shows the bus as unreachable */ }
  }

  let pollTimer = null, backoff = 500;
  function startPolling(label) {
    setText("feed", label);
    if (!pollTimer) pollTimer = setInterval(poll, 1000);
  }
  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const query = lastSeq ? "/ws?since_seq=" + lastSeq : "/ws";
    const ws = new WebSocket(scheme + location.host + withToken(query));
    ws.onopen = () => {
      backoff = 500; setText("feed", "live (WebSocket)");
      if (pollTimer) { clearInterval(pollTimer); pollTimer = null; }
    };
    ws.onmessage = (msg) => { try { addEvent(JSON.parse(msg.data)); } catch (err) { /* not JSON */ } };
    ws.onclose = () => {
      startPolling("polling (WebSocket reconnecting)");
      setTimeout(connect, backoff); backoff = Math.min(backoff * 2, 10000);
    };
  }

  // -- the OBS doctor: GET /api/obs/doctor looks, POST /api/obs/doctor/fix fixes ---------------------
  function renderDoctor(report) {
    const sources = report.sources || [], findings = report.findings || [];
    const open = findings.filter((f) => !f.fixed);
    const fixed = findings.length - open.length;
    setText("doctor-summary", sources.length + " source(s) show this bus · "
            + (open.length ? open.length + " problem(s)" : "no problems") + (fixed ? " · " + fixed + " fixed" : ""));
    const list = $("doctor-findings");
    list.replaceChildren();
    for (const f of findings) {
      const li = document.createElement("li");
      li.className = f.fixed ? "fixed" : f.fix && Object.keys(f.fix).length ? "fixable" : "by-hand";
      li.textContent = f.source + ": " + f.problem
        + (f.fixed ? " (fixed)" : li.className === "fixable" ? " (fixable)" : " (fix by hand)");
      list.append(li);
    }
    $("doctor-fix").hidden = !open.some((f) => f.fix && Object.keys(f.fix).length);
  }
  async function doctor(fix) {
    setText("doctor-summary", fix ? "fixing…" : "asking OBS…");
    try {
      const r = await fetch(withToken(fix ? "/api/obs/doctor/fix" : "/api/obs/doctor"),
                            fix ? { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" }
                                : { cache: "no-store" });
      const body = await r.json();
      if (r.ok) renderDoctor(body);
      else setText("doctor-summary", (body.error || {}).message || "HTTP " + r.status);
    } catch (err) { setText("doctor-summary", "bus unreachable"); }
  }
  $("doctor-check").addEventListener("click", () => doctor(false));
  $("doctor-fix").addEventListener("click", () => doctor(true));

  // Test alert: POST /api/alerts/test with the chosen rule (the alerts overlay shows and plays it).
  if ($("alert-test")) $("alert-test").addEventListener("click", async () => {
    try {
      const r = await fetch(withToken("/api/alerts/test"), { method: "POST",
        headers: { "Content-Type": "application/json" }, body: JSON.stringify({ rule: $("alert-rule").value }) });
      const body = await r.json();
      setText("alert-result", r.ok ? body.outcome + ": " + body.alert.message
                                   : (body.error || {}).message || "HTTP " + r.status);
    } catch (err) { setText("alert-result", "bus unreachable"); }
  });

  refreshStatus();
  setInterval(refreshStatus, 2000);
  poll().then(() => { if (HAS_WS) connect(); else startPolling("polling /api/recent"); });
})();
