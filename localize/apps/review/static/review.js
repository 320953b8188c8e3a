// The review page of one episode and market: player, timeline, line table, actions. Plain JS, offline.
"use strict";

// /review/<episode>/<market>, the episode being "ep01" or "<series>/ep01"
const KEY = location.pathname.replace(/^\/review\//, "").replace(/\/+$/, "");
const MARKET = decodeURIComponent(KEY.split("/").pop());
const EPISODE = decodeURIComponent(KEY.split("/").slice(0, -1).join("/"));
const $ = (sel) => document.querySelector(sel);
const player = $("#player"), canvas = $("#timeline");
let data = null, peaks = null, current = null, polling = false;
let session = null;  // who is signed in (the server records every action under this reviewer) and the CSRF token

function showError(message) { $("#error").textContent = message || ""; }

function signIn() { location.replace("/login?next=" + encodeURIComponent(location.pathname)); }

async function getSession() {
  const response = await fetch("/api/session", {credentials: "same-origin"});
  if (response.status === 401) { signIn(); throw new Error("signing in…"); }
  session = await response.json();
  if (!response.ok) throw new Error(session.error || response.statusText);
  $("#reviewer").textContent = `${session.reviewer}${session.lead ? " (lead)" : ""}`;
  $("#signoff").hidden = !session.lead;
}

async function api(verb, body) {  // verb: "market", "peaks", "job", "line/<id>", "signoff"
  const init = body === undefined ? {credentials: "same-origin"} :
    {method: "POST", credentials: "same-origin", body: JSON.stringify(body),
     headers: {"Content-Type": "application/json", "X-CSRF-Token": session ? session.csrf : ""}};
  const response = await fetch(`/api/${verb}/${KEY}`, init);
  if (response.status === 401) { signIn(); throw new Error("signing in…"); }
  const json = await response.json();
  if (!response.ok) throw new Error(json.error || response.statusText);
  return json;
}

function ms(v) { return (v / 1000).toFixed(2); }

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  Object.assign(node, props || {});
  for (const c of children) node.append(c);
  return node;
}

function flagList(line) {
  const span = el("span");
  for (const f of line.flags) {
    const warn = f === "over-budget" || f === "idiom" || f.startsWith("glossary") || f === "not-dubbed";
    span.append(el("span", {className: "flag" + (warn ? " warn" : ""), textContent: f}));
  }
  if (line.literal) span.append(el("div", {className: "dim", textContent: "literal: " + line.literal}));
  return span;
}

function row(line) {
  const r = line.review;
  const tr = el("tr", {className: r.status});
  tr.dataset.lineId = line.id;
  tr.dataset.start = line.slot_start_ms;
  tr.dataset.end = Math.max(line.slot_end_ms, line.dub_end_ms);
  const time = el("td", {className: "t", title: "play from here",
                         textContent: `${ms(line.slot_start_ms)}–${ms(line.slot_end_ms)}`});
  time.addEventListener("click", () => seek(line.slot_start_ms, true));
  const text = el("textarea", {className: "target", rows: 2, value: line.target_text});
  const fit = `${line.decision || "—"}` + (line.overflow_ms ? ` +${line.overflow_ms} ms` : "");
  const cer = line.backcheck_cer < 0 ? "—" : line.backcheck_cer.toFixed(2);
  const limit = data.reading_speed_cps;  // the market's style.reading_speed_cps
  const cps = el("td", {className: "n" + (line.reading_cps > limit ? " bad" : ""), textContent: line.reading_cps.toFixed(1),
                        title: `the market reads at most ${limit} characters per second`});
  const status = r.status ? `${r.status} by ${r.reviewer}` : "—";
  const st = el("td", {className: "st"}, el("div", {className: "status", textContent: status}),
                el("div", {className: "dim", textContent: r.at}));
  if (r.note) st.append(el("div", {className: "dim", textContent: "note: " + r.note}));
  if (r.voice) st.append(el("div", {className: "dim", textContent: "voice: " + r.voice}));
  if (r.pending) st.append(el("div", {className: "dim", textContent: "waiting for the re-render"}));
  if (r.stale) st.append(el("div", {className: "bad", textContent: "source changed since the review"}));
  if (r.history.length > 1) {
    const list = el("ol", {className: "dim history"});
    for (const h of r.history) {
      list.append(el("li", {textContent: `${h.at} ${h.status} by ${h.reviewer}: ${h.target_text}` +
                                         (h.voice ? ` [voice ${h.voice}]` : "") + (h.note ? ` (${h.note})` : "")}));
    }
    st.append(el("details", {}, el("summary", {className: "dim", textContent: `history (${r.history.length})`}), list));
  }
  const voice = el("input", {className: "voice", placeholder: "voice", value: r.voice || ""});
  voice.setAttribute("list", "voices");
  const note = el("input", {className: "note", placeholder: "issue note"});
  const button = (label, cls, fn) => { const b = el("button", {className: cls, textContent: label}); b.addEventListener("click", fn); return b; };
  const acts = el("td", {className: "acts"},
    button("Approve", "approve", () => send(line, "approve", {text: text.value})), " ",
    button("Save edit", "edit", () => send(line, "edit", {text: text.value})), el("br"),
    voice, button("Re-voice", "revoice", () => send(line, "revoice", {text: text.value, voice: voice.value})), el("br"),
    note, button("Issue", "issue", () => send(line, "issue", {note: note.value})));
  tr.append(time, el("td", {textContent: line.speaker}), el("td", {textContent: line.source_text}),
            el("td", {}, text, el("div", {className: "dim", textContent: `${line.target_text.length}/${line.budget_chars} chars · ${line.route.join(" → ")}`})),
            el("td", {className: line.overflow_ms ? "bad" : "", textContent: fit}),
            el("td", {className: "n", textContent: "×" + line.speed.toFixed(2)}), cps,
            el("td", {className: "n" + (line.backcheck_cer > 0.3 ? " bad" : ""), textContent: cer}),
            el("td", {}, flagList(line)), st, acts);
  return tr;
}

function render() {
  document.title = `${EPISODE} · ${MARKET} · localize review`;
  $("#title").textContent = `${EPISODE} · ${MARKET}`;
  const c = data.counts;
  $("#counts").textContent = `${data.lines.length} lines: ${c.approved} approved, ${c.edited} edited, ${c.issue} issues, ${c.unreviewed} unreviewed`;
  const s = data.signoff;
  $("#signed").textContent = s ? (data.signed_off ? `signed off by ${s.reviewer} at ${s.at}`
                                                  : `render changed since the sign-off by ${s.reviewer}`) : "not signed off";
  $("#signed").dataset.signed = data.signed_off ? "yes" : "no";
  const rep = data.report;
  $("#meta").textContent = `${rep.source_language} → ${rep.language} · ${rep.tts} · ${rep.loudness.integrated_lufs.toFixed(1)} LUFS (target ${rep.loudness.target_lufs}) · true peak ${rep.loudness.true_peak_dbtp.toFixed(1)} dBTP · ${data.render_sha256.slice(0, 12)}`;
  const body = $("#lines tbody");
  body.replaceChildren(...data.lines.map(row));
  $("#voices").replaceChildren(...[...new Set(data.lines.map((l) => l.voice).filter(Boolean))].map((v) => el("option", {value: v})));
  current = null;
  sync();
}

async function load(reloadVideo) {
  data = await api("market");
  const src = data.video;
  if (reloadVideo || !player.getAttribute("src")) {
    const t = player.currentTime || 0;
    player.setAttribute("src", src);
    const track = el("track", {kind: "subtitles", default: true, src: data.subtitles, srclang: data.language,
                               label: MARKET});
    player.replaceChildren(track);
    player.load();
    if (t) player.addEventListener("loadedmetadata", () => { player.currentTime = t; }, {once: true});
  }
  render();
  api("peaks").then((p) => { peaks = p; draw(); }).catch(() => { peaks = null; draw(); });
}

async function send(line, action, extra) {
  showError("");
  try {
    const result = await api(`line/${encodeURIComponent(line.id)}`, {action, ...extra});
    await load(false);
    if (result.rerender) poll();
  } catch (e) { showError(e.message); }
}

async function poll() {
  if (polling) return;
  polling = true;
  const job = $("#job");
  try {
    for (;;) {
      const state = await api("job");
      job.dataset.state = state.state;
      job.textContent = state.state === "running" ? "re-rendering…" :
        state.state === "failed" ? "re-render failed: " + state.error :
        state.state === "done" ? `re-rendered in ${state.seconds.toFixed(1)} s (run ${state.runs})` : "";
      if (state.state !== "running") {
        if (state.state === "done") await load(true);
        break;
      }
      await new Promise((ok) => setTimeout(ok, 700));
    }
  } finally { polling = false; }
}

$("#signoff").addEventListener("click", async () => {
  showError("");
  try { await api("signoff", {}); await load(false); } catch (e) { showError(e.message); }
});

function seek(msValue, play) {
  player.currentTime = msValue / 1000;
  if (play) player.play().catch(() => {});
}

function sync() {
  if (!data) return;
  const t = player.currentTime * 1000;
  let found = null;
  for (const tr of document.querySelectorAll("#lines tbody tr")) {
    if (t >= +tr.dataset.start && t < +tr.dataset.end) { found = tr; break; }
  }
  if (found !== current) {
    if (current) current.classList.remove("current");
    if (found) {
      found.classList.add("current");
      if (!player.paused) found.scrollIntoView({block: "nearest"});
    }
    current = found;
  }
  draw();
}

function draw() {
  if (!data) return;
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  const total = data.report.duration_ms || 1, x = (v) => (v / total) * w;
  ctx.clearRect(0, 0, w, h);
  if (peaks && peaks.peaks.length) {
    ctx.fillStyle = "#bbb";
    const n = peaks.peaks.length, mid = h * 0.62, amp = h * 0.36, bw = Math.max(1, w / n);
    peaks.peaks.forEach((p, i) => { const y = p * amp; ctx.fillRect((i / n) * w, mid - y, bw, 2 * y || 1); });
  }
  for (const line of data.lines) {
    ctx.fillStyle = "rgba(138,180,248,.8)";
    ctx.fillRect(x(line.slot_start_ms), 4, Math.max(1, x(line.slot_end_ms) - x(line.slot_start_ms)), 14);
    ctx.fillStyle = line.overflow_ms ? "rgba(234,67,53,.85)" : "rgba(52,168,83,.85)";
    ctx.fillRect(x(line.dub_start_ms), 22, Math.max(1, x(line.dub_end_ms) - x(line.dub_start_ms)), 10);
    ctx.fillStyle = "#123";
    ctx.font = "20px system-ui";
    ctx.fillText(line.id, x(line.slot_start_ms) + 2, 17);
  }
  ctx.fillStyle = "#d00";
  ctx.fillRect(x(player.currentTime * 1000), 0, 2, h);
}

canvas.addEventListener("click", (ev) => {
  if (!data) return;
  const box = canvas.getBoundingClientRect();
  seek(((ev.clientX - box.left) / box.width) * data.report.duration_ms, false);
});
player.addEventListener("timeupdate", sync);
player.addEventListener("seeked", sync);
(function frame() { if (!player.paused) sync(); requestAnimationFrame(frame); })();

getSession().then(() => load(false)).then(() => api("job")).then((state) => { if (state.state === "running") poll(); })
  .catch((e) => showError(e.message));
