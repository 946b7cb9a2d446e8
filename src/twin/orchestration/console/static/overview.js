"use strict";
// Every controller of the console: mode, status, service factor, banners, last cycle.
async function refresh() {
  const runs = await api("/api/runs");
  const body = document.querySelector("#runs tbody");
  body.replaceChildren(...runs.map((r) => {
    if (r.plant) return row([link("/plant", `Plant and base layer (${r.url})`), "OPC UA", "", "", "", "", "", "", ""]);
    const status = r.shed || r.mode === "shed" ? "SHED" : (r.live ? "running" : "stopped");
    const tr = row([link(`/run/${encodeURIComponent(r.key)}`, r.title), r.kind, r.mode ?? "-",
                    status, pct(r.service_factor), r.sheds ?? 0, (r.alarms || []).length,
                    r.cycle ?? "-", fmt(r.solve_time_ms)]);
    if (status === "SHED") tr.classList.add("alarm");
    return tr;
  }));
}
whoAmI().then(() => { refresh(); setInterval(refresh, 2000); });
