"use strict";
// One controller's faceplate: status and banners, CV/MV/DV rows with entry fields by role,
// live trends over server-sent events, alarms, the audit trail, events, performance, reports.
const key = decodeURIComponent(window.location.pathname.split("/")[2]);
const base = `/api/runs/${encodeURIComponent(key)}`;
let info = null, trends = null, snap = null;
window.twinLatency = [];   // seconds from each cycle's start to its arrival here

function input(name, field, value) {
  const el = document.createElement("input");
  el.value = fmt(value);
  el.id = `${name}-${field}`;
  el.dataset.name = name;
  el.dataset.field = field;
  el.className = "edit";
  el.title = `Enter: ask for ${name} ${field}`;
  el.addEventListener("keydown", (ev) => { if (ev.key === "Enter") ask(name, field, el.value); });
  const span = document.createElement("span");
  const shown = document.createElement("span");
  shown.className = "value";
  shown.id = `${name}-${field}-value`;
  shown.textContent = fmt(value);
  span.append(shown, " ", el);
  return span;
}

function serviceButton(name, status) {
  const out = status === "out of service";
  const b = document.createElement("button");
  b.className = "edit";
  b.id = `${name}-service`;
  b.textContent = out ? "Return" : "Take out";
  b.addEventListener("click", () => ask(name, "service", out ? "in" : "out"));
  return b;
}

function range(v) {
  if (v.valid_low === undefined && v.valid_high === undefined) return "";
  return `[${fmt(v.valid_low) || "-inf"}, ${fmt(v.valid_high) || "inf"}]`;
}

async function ask(name, field, value) {
  const msg = document.getElementById("message");
  const r = await post(`${base}/changes`, {name, field, value});
  const b = r.body;
  msg.className = b.status === "refused" || !r.ok ? "refused" : "";
  msg.textContent = b.status ? `${name} ${field} ${value}: ${b.status}${b.reason ? " - " + b.reason : ""}`
                             : (b.error || `refused (${r.status})`);
  loadAudit();
  return r;
}

function render(s) {
  snap = s;
  if (s.cycle === null) return;
  const v = s.variables;
  const shed = s.shed || s.mode === "shed";
  const bShed = document.getElementById("banner-shed");
  bShed.classList.toggle("hidden", !shed);
  if (shed) bShed.textContent = `SHED to the base layer at cycle ${s.cycle}: the controller writes nothing`;
  document.getElementById("banner-stopped").classList.toggle("hidden", s.live);
  const bAlarm = document.getElementById("banner-alarms");
  bAlarm.classList.toggle("hidden", !s.alarms.length);
  bAlarm.textContent = s.alarms.length ? `${s.alarms.length} unacknowledged alarm(s); newest: ${s.alarms[0].message}` : "";
  document.getElementById("mode").textContent = s.mode;
  for (const m of ["off", "warm", "on"]) document.getElementById(`mode-${m}`).classList.toggle("active", s.mode === m);
  document.getElementById("cycle").textContent = s.cycle;
  document.getElementById("time").textContent = fmt(s.t);
  document.getElementById("solve").textContent = s.solve_status ?? "";
  document.getElementById("solve-ms").textContent = fmt(s.solve_time_ms, 3);
  document.getElementById("service").textContent = pct(s.service_factor);
  const given = (n) => ["given_up_low", "given_up_high", "given_up_setpoint"].filter((r) => v[n]?.[r] != null)
    .map((r) => `${r.slice(9)} by ${fmt(v[n][r], 3)}`).join(", ");
  document.querySelector("#cv tbody").replaceChildren(...info.cv.map((n) => {
    const x = v[n] || {};
    const tr = row([n, `${fmt(x.meas)} ${x.meas_quality && x.meas_quality !== "good" ? "(" + x.meas_quality + ")" : ""}`,
      x.status_quality || "", input(n, "setpoint", x.setpoint), input(n, "low", x.low), input(n, "high", x.high),
      fmt(x.hard_low), fmt(x.hard_high), fmt(x.target), fmt(x.prediction_end), given(n), range(x),
      input(n, "weight", x.weight), serviceButton(n, x.status_quality)]);
    tr.children[12].className = "engineer";
    tr.children[13].className = "edit";
    tr.id = `cv-${n}`;
    return tr;
  }));
  document.querySelector("#mv tbody").replaceChildren(...info.mv.map((n) => {
    const x = v[n] || {};
    const tr = row([n, fmt(x.mv), input(n, "low", x.low), input(n, "high", x.high), input(n, "max_move", x.max_move),
      fmt(x.target), x.mv_quality || "", range(x), serviceButton(n, x.mv_quality)]);
    tr.children[8].className = "edit";
    tr.id = `mv-${n}`;
    return tr;
  }));
  document.querySelector("#dv tbody").replaceChildren(...info.dv.map((n) => row([n, fmt(v[n]?.dv)])));
}

async function loadAudit() {
  const changes = await api(`${base}/changes`);
  document.querySelector("#audit tbody").replaceChildren(...changes.map((c) => row([
    new Date(c.requested * 1000).toLocaleTimeString(), c.user, c.role, c.name, c.field, c.old ?? "", c.new,
    c.status, c.cycle ?? "", c.reason ?? ""])));
  if (trends) {
    const byCycle = new Map(trends.h.cycles.map((c, i) => [c, trends.h.time[i]]));
    trends.marks = changes.filter((c) => c.status === "applied" && byCycle.has(c.cycle))
      .map((c) => ({t: byCycle.get(c.cycle), label: `${c.user}: ${c.name} ${c.field} ${c.new}`}));
  }
}

async function loadLists() {
  const [alarms, events] = await Promise.all([api(`${base}/alarms`), api(`${base}/events`)]);
  document.querySelector("#alarms tbody").replaceChildren(...alarms.map((a) => {
    let ack = a.acknowledged_by;
    if (!ack) {
      ack = document.createElement("button");
      ack.textContent = "Acknowledge";
      ack.className = "edit";
      ack.addEventListener("click", async () => { await ask("event", "ack", String(a.id)); loadLists(); });
    }
    return row([a.cycle, a.kind, a.message, ack]);
  }));
  document.querySelector("#events tbody").replaceChildren(...events.map((e) => row([e.cycle, fmt(e.t), e.kind, e.message])));
}

async function loadHistory() {
  const span = document.getElementById("span").value;
  const h = await api(`${base}/history${span === "all" ? "" : "?last=" + span}`);
  trends.replace(h);
  trends.redraw();
}

function listen() {
  const source = new EventSource(`${base}/stream`);
  source.addEventListener("cycle", async (ev) => {
    const now = Date.now() / 1000;
    const update = JSON.parse(ev.data);
    const h = update.history;
    if (h.cycles.length && h.cycles[0] > trends.lastCycle() + 1 && trends.lastCycle() >= 0) {
      trends.append(await api(`${base}/history?after=${trends.lastCycle()}`));
    }
    trends.append(h);
    const wall = update.snapshot.wall_time;
    if (wall) {
      window.twinLatency.push({cycle: update.snapshot.cycle, latency: now - wall});
      document.getElementById("latency").textContent = (now - wall).toFixed(3);
    }
    render(update.snapshot);
    trends.redraw();
    document.body.dataset.cycle = update.snapshot.cycle;
    if (h.cycles.length) { loadLists(); loadAudit(); }
  });
  source.addEventListener("resync", () => { source.close(); loadHistory().then(listen); });
}

async function main() {
  await whoAmI();
  info = await api(base);
  document.getElementById("title").textContent = `${info.title} (${info.kind})`;
  document.getElementById("unit").textContent = info.time_unit;
  document.getElementById("reports").replaceChildren(...info.reports.map((r) => {
    const li = document.createElement("li");
    li.append(link(`/run/${encodeURIComponent(key)}/files/${r}`, r));
    return li;
  }));
  trends = new Trends(document.getElementById("charts"), info);
  render(await api(`${base}/snapshot`));
  await loadHistory();
  await Promise.all([loadLists(), loadAudit()]);
  document.body.dataset.cycle = snap?.cycle ?? -1;
  for (const m of ["off", "warm", "on"]) {
    document.getElementById(`mode-${m}`).addEventListener("click", () => ask("controller", "mode", m));
  }
  document.getElementById("span").addEventListener("change", () => { trends.follow = true; loadHistory(); });
  document.getElementById("older").addEventListener("click", () => trends.pan(-0.5));
  document.getElementById("newer").addEventListener("click", () => trends.pan(0.5));
  document.getElementById("follow").addEventListener("click", () => { trends.follow = true; trends.range = null; trends.redraw(); });
  document.getElementById("monitor-run").addEventListener("click", async () => {
    const q = new URLSearchParams();
    for (const k of ["window", "reference"]) { const val = document.getElementById(k).value.trim(); if (val) q.set(k, val); }
    try { document.getElementById("monitor").textContent = JSON.stringify(await api(`${base}/monitor?${q}`), null, 1); }
    catch (e) { document.getElementById("monitor").textContent = e.message; }
  });
  document.body.dataset.ready = "1";
  listen();
}
main();
