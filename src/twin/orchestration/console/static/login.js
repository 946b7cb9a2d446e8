"use strict";
// Log in with the users of the OPC UA server; the session cookie is HttpOnly.
document.getElementById("login").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const msg = document.getElementById("login-message");
  msg.textContent = "checking...";
  const r = await fetch("/api/login", {
    method: "POST", headers: {"Content-Type": "application/json"}, credentials: "same-origin",
    body: JSON.stringify({user: document.getElementById("user").value,
                          password: document.getElementById("password").value}),
  });
  const body = await r.json().catch(() => ({}));
  if (r.ok) { window.location.href = "/"; return; }
  msg.textContent = body.error || `login refused (${r.status})`;
});
