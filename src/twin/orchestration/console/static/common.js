"use strict";
// Shared by the console's pages: the API with the session's CSRF token, small DOM helpers.
const twin = {csrf: null, user: null, role: null};

async function api(path, options = {}) {
  const r = await fetch(path, {credentials: "same-origin", ...options});
  if (r.status === 401) { window.location.href = "/login"; throw new Error("log in first"); }
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.error || `${r.status}`);
  return body;
}

async function post(path, data) {
  const r = await fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": twin.csrf},
    body: JSON.stringify(data),
  });
  const body = await r.json().catch(() => ({}));
  return {ok: r.ok, status: r.status, body};
}

async function whoAmI() {
  const me = await api("/api/me");
  Object.assign(twin, me);
  const who = document.getElementById("who");
  if (who) who.textContent = `${me.user} (${me.role})`;
  document.body.dataset.role = me.role;
  document.getElementById("logout")?.addEventListener("click", async () => {
    await post("/api/logout", {});
    window.location.href = "/login";
  });
  return me;
}

function fmt(v, digits = 5) {
  if (v === null || v === undefined || Number.isNaN(v)) return "";
  if (typeof v !== "number") return String(v);
  return Number(v.toPrecision(digits)).toString();
}

function pct(v) { return v === null || v === undefined ? "-" : `${(100 * v).toFixed(1)} %`; }

function cell(content) {
  const td = document.createElement("td");
  if (content instanceof Node) td.append(content); else td.textContent = content ?? "";
  return td;
}

function row(cells) {
  const tr = document.createElement("tr");
  tr.append(...cells.map(cell));
  return tr;
}

function link(href, text) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = text;
  return a;
}
