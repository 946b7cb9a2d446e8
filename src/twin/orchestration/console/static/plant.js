"use strict";
// The plant view: the deploy file's server read once a second by the console (read only).
const when = (t) => (t ? new Date(t * 1000).toLocaleTimeString() : "");

async function refresh() {
  const p = await api("/api/plant");
  document.getElementById("url").textContent = p.url;
  const lost = document.getElementById("banner-lost");
  lost.classList.toggle("hidden", p.connected);
  lost.textContent = p.connected ? "" : `No data from the server: ${p.error}`;
  document.getElementById("heartbeat").textContent = p.heartbeat ?? "";
  document.getElementById("tick").textContent = p.tick ?? "";
  document.getElementById("read").textContent = when(p.read);
  document.querySelector("#loops tbody").replaceChildren(...Object.entries(p.loops || {}).map(([n, l]) => {
    const tr = row([n, l.mode ?? "unreadable", fmt(l.setpoint?.value), fmt(l.remote_setpoint?.value), l.setpoint?.quality ?? ""]);
    tr.id = `loop-${n}`;
    return tr;
  }));
  document.querySelector("#tags tbody").replaceChildren(...Object.entries(p.tags || {}).map(([n, s]) => {
    const tr = row([n, fmt(s.value), s.quality, s.status, when(s.server_time)]);
    tr.id = `tag-${n}`;
    return tr;
  }));
  document.body.dataset.read = p.read ?? "";
}
whoAmI().then(() => { refresh(); setInterval(refresh, 1000); });
