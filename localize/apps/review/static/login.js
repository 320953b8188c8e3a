// Sign in with a review token: typed, or from the link's #fragment (never sent to the server's logs).
"use strict";
const form = document.getElementById("login"), input = document.getElementById("token");
const next = new URLSearchParams(location.search).get("next") || "/";
const safeNext = /^\/(?![\/\\])/.test(next) ? next : "/";  // same-site paths only, never //host

async function signIn(token) {
  const response = await fetch("/api/login", {method: "POST", headers: {"Content-Type": "application/json"},
                                              body: JSON.stringify({token}), credentials: "same-origin"});
  const json = await response.json();
  if (!response.ok) throw new Error(json.error || response.statusText);
  location.replace(safeNext);
}

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  signIn(input.value.trim()).catch((e) => { document.getElementById("error").textContent = e.message; });
});
function fromHash() {  // a sign-in link: /login#<token>
  if (location.hash.length <= 1) return;
  const token = decodeURIComponent(location.hash.slice(1).replace(/^token=/, ""));
  history.replaceState(null, "", location.pathname + location.search);
  signIn(token).catch((e) => { document.getElementById("error").textContent = e.message; });
}
window.addEventListener("hashchange", fromHash);
fromHash();
