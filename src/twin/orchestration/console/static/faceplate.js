"use strict";
// One controller's faceplate: status and banners, CV/MV/DV rows with entry fields by role,
// live trends over server-sent events, alarms, the audit trail, events, performance, reports.
const key = decodeURIComponent(window.location.pathname.split("/")[2]);
const base = `/api/runs/${encodeURIComponent(key)}`;
let info = null, trends = null, snap = null;
window.twinLatency = [];   // seconds from each cycle's start to its arrival here

function input(name, field) {
  // an entry field: shows the value in force; what the user types is kept until sent
  const el = document.createElement("input");
  el.id = `${name}-${field}`;
  el.dataset.name = name;
  el.dataset.field = field;
  el.className = "edit";
  el.title = `Enter: ask for ${name} ${field}`;
  el.addEventListener("input", () => { el.dataset.dirty = "1"; });
  el.addEventListener("keydown", async (ev) => {
    if (ev.key === "Enter") { await ask(name, field, el.value); delete el.dataset.dirty; }
    if (ev.key === "Escape") { delete el.dataset.dirty; el.blur(); }
  });
  const span = document.createElement("span");
  const shown = document.createElement("span");
  shown.className = "value";
  shown.id = `${name}-${field}-value`;
  span.append(shown, " ", el);
  return span;
}

function setValue(name, field, value) {
  const text = fmt(value);
  document.getElementById(`${name}-${field}-value`).textContent = text;
  const el = document.getElementById(`${name}-${field}`);
  if (!el.dataset.dirty && document.activeElement !== el) el.value = text;
}

function serviceButton(name) {
  const b = document.createElement("button");
  b.className = "edit";
  b.id = `${name}-service`;
  b.addEventListener("click", () => ask(name, "service", b.dataset.out ? "in" : "out"));
  return b;
}

function setService(name, status) {
  const b = document.getElementById(`${name}-service`);
  const out = status === "out of service";
  if (out) b.dataset.out = "1"; else delete b.dataset.out;
  b.textContent = out ? "Return" : "Take out";
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

const CV_CELLS = ["meas", "status", "setpoint", "low", "high", "hard_low", "hard_high", "target",
                  "prediction_end", "given_up", "valid", "weight", "service"];
const MV_CELLS = ["mv", "low", "high", "max_move", "next", "target", "status", "valid", "service"];
const INPUTS = new Set(["setpoint", "low", "high", "weight", "max_move"]);
const CLASSES = {weight: "engineer", service: "edit"};

function buildTable(id, names, cells) {
  document.querySelector(`#${id} tbody`).replaceChildren(...names.map((n) => {
    const tr = row([n, ...cells.map((c) => (INPUTS.has(c) ? input(n, c) : c === "service" ? serviceButton(n) : ""))]);
    tr.id = `${id}-${n}`;
    cells.forEach((c, i) => {
      if (CLASSES[c]) tr.children[i + 1].className = CLASSES[c];
      if (!INPUTS.has(c) && c !== "service") tr.children[i + 1].id = `${id}-${n}-${c}`;
    });
    return tr;
  }));
}

function setCell(id, text) { document.getElementById(id).textContent = text; }

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
  const given = (x) => ["given_up_low", "given_up_high", "given_up_setpoint"].filter((r) => x[r] != null)
    .map((r) => `${r.slice(9)} by ${fmt(x[r], 3)}`).join(", ");
  for (const n of info.cv) {
    const x = v[n] || {};
    const quality = x.meas_quality && x.meas_quality !== "good" ? ` (${x.meas_quality})` : "";
    setCell(`cv-${n}-meas`, `${fmt(x.meas)}${quality}`);
    setCell(`cv-${n}-status`, x.status_quality || "");
    for (const f of ["setpoint", "low", "high", "weight"]) setValue(n, f, x[f]);
    for (const f of ["hard_low", "hard_high", "target", "prediction_end"]) setCell(`cv-${n}-${f}`, fmt(x[f]));
    setCell(`cv-${n}-given_up`, given(x));
    setCell(`cv-${n}-valid`, range(x));
    setService(n, x.status_quality);
  }
  for (const n of info.mv) {
    const x = v[n] || {};
    setCell(`mv-${n}-mv`, fmt(x.mv));
    for (const f of ["low", "high", "max_move"]) setValue(n, f, x[f]);
    setCell(`mv-${n}-target`, fmt(x.target));
    setCell(`mv-${n}-next`, fmt(x.next));
    setCell(`mv-${n}-status`, x.mv_quality || "");
    setCell(`mv-${n}-valid`, range(x));
    setService(n, x.mv_quality);
  }
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
    const committed = update.snapshot.committed;   // the cycle's commit (wall clock, s)
    if (committed) {
      window.twinLatency.push({cycle: update.snapshot.cycle, latency: now - committed,
                               from_start: now - update.snapshot.wall_time});
      document.getElementById("latency").textContent = (now - committed).toFixed(3);
    }
    render(update.snapshot);
    trends.redraw();
    document.body.dataset.cycle = update.snapshot.cycle;
    if (h.cycles.length) { loadLists(); loadAudit(); }
  });
  source.addEventListener("resync", () => { source.close(); loadHistory().then(listen); });
  source.addEventListener("reload", () => { source.close(); window.location.reload(); });
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
  buildTable("cv", info.cv, CV_CELLS);
  buildTable("mv", info.mv, MV_CELLS);
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
