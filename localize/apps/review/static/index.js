"use strict";
fetch("/api/markets", {credentials: "same-origin"}).then(async (r) => {
  if (r.status === 401) { location.replace("/login?next=/"); return; }
  const data = await r.json();
  if (!r.ok) throw new Error(data.error || r.statusText);
  document.getElementById("out").textContent = data.out;
  const body = document.querySelector("#markets tbody");
  for (const m of data.markets) {
    const tr = document.createElement("tr");
    const sign = m.signoff ? (m.signed_off ? "signed off by " + m.signoff.reviewer + " " + m.signoff.at
                                           : "render changed since the sign-off by " + m.signoff.reviewer) : "not signed off";
    const cells = [m.episode, null, m.lines, m.counts.approved, m.counts.edited, m.counts.issue, m.counts.unreviewed, sign];
    cells.forEach((v, i) => {
      const td = document.createElement("td");
      if (i === 1) {
        const a = document.createElement("a");
        a.href = m.url; a.textContent = m.market; td.appendChild(a);
      } else td.textContent = v;
      tr.appendChild(td);
    });
    body.appendChild(tr);
  }
}).catch(e => { document.getElementById("error").textContent = String(e); });
