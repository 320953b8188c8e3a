"""report.json and report.html: every line's text, timing fit and the loudness, and each character's voice."""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path
from string import Template

from localize.core.artifacts import Report
from localize.core.jsonio import atomic_write_text, save
from localize.stages.voice.casting import MAX_SHIFT

# A line whose voice is of the other pitch class than its actor's, shifted toward them (casting's flag
# "other class", its last resort): casting caps a voice of the actor's own class at MAX_SHIFT, so a pitch
# ratio beyond it was an other-class voice.
OTHER_CLASS = "voice:other-class"

_PAGE = Template("""<!doctype html>
<html lang="$lang"><head><meta charset="utf-8">
<title>$title</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:4px 6px;vertical-align:top}
th{background:#f3f3f3;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.over td{background:#fff3e0}small{color:#666}.label{display:inline-block;background:#222;color:#fff;padding:2px 8px;border-radius:4px}
</style></head><body>
<h1>$title</h1>
<p><span class="label">$ai_label</span> Source language: $source_language &middot; market language: $language
&middot; duration $duration s &middot; voice: $tts &middot; background: $background</p>
$voices$face_swap<h2>Loudness</h2>
<table><tr><th>target LUFS</th><th>measured LUFS</th><th>target true peak dBTP</th><th>measured true peak dBTP</th><th>LRA LU</th></tr>
<tr><td class="n">$target_lufs</td><td class="n">$lufs</td><td class="n">$target_tp</td><td class="n">$tp</td><td class="n">$lra</td></tr></table>
<h2>Lines ($count)</h2>
<p>Within their length budget: $within_first as first translated, $within_final after shorter rewrites.
Mouth offset: the dub's speech onset minus the speaking face's mouth opening, before &rarr; after lip alignment.</p>
<table><tr><th>id</th><th>speaker</th><th>source</th><th>target</th><th>budget</th><th>slot ms</th><th>dub ms</th><th>fit</th><th>speed</th><th>gain dB</th><th>overflow ms</th><th>mouth offset ms</th><th>route</th><th>flags</th></tr>
$rows
</table></body></html>
""")  # noqa: E501 - HTML and CSS: breaking their long lines would change the page, not make it clearer

_ROW = Template(
    '<tr class="$cls"><td>$id</td><td>$speaker</td><td>$source</td><td>$target$literal</td><td class="n">$budget</td>'
    '<td class="n">$slot</td><td class="n">$dub</td><td>$decision</td><td class="n">$speed</td><td class="n">$gain</td>'
    '<td class="n">$overflow</td><td class="n">$lip</td>'
    "<td>$route</td><td>$flags</td></tr>"
)


def render_html(report: Report) -> str:
    e = html.escape
    rows = "\n".join(
        _ROW.substitute(
            cls="over" if ln.overflow_ms else "", id=e(ln.id), speaker=e(ln.speaker), source=e(ln.source_text),
            target=e(ln.target_text), slot=f"{ln.slot_start_ms}&ndash;{ln.slot_end_ms}",
            literal=f'<br><small>literally: {e(ln.literal)}</small>' if ln.literal else "",
            budget=f"{ln.budget_chars} ch" if ln.budget_chars else "",
            dub=f"{ln.dub_start_ms}&ndash;{ln.dub_end_ms}", speed=f"{ln.speed:.2f}x", overflow=ln.overflow_ms,
            decision=e(ln.decision + (f" ({ln.borrowed_ms} ms)" if ln.borrowed_ms else "")),
            gain=f"{ln.gain_db:+.1f}" if ln.decision else "",
            route=e(" → ".join(ln.route)), flags=e(", ".join(ln.flags)),
            lip=(f"{ln.lip_offset_before_ms:+d} &rarr; {ln.lip_offset_after_ms:+d}"
                 f"<br><small>face {e(ln.lip_face)}</small>" if ln.lip_face else ""),
        )
        for ln in report.lines
    )
    ld = report.loudness
    return _PAGE.substitute(
        lang=e(report.language), title=e(f"{report.episode} — {report.market}"), ai_label=e(report.ai_label),
        source_language=e(report.source_language), language=e(report.language),
        duration=f"{report.duration_ms / 1000:.1f}", tts=e(report.tts), target_lufs=f"{ld.target_lufs:.1f}",
        lufs=f"{ld.integrated_lufs:.1f}", target_tp=f"{ld.target_true_peak_dbtp:.1f}",
        tp=f"{ld.true_peak_dbtp:.1f}", lra=f"{ld.loudness_range_lu:.1f}", count=len(report.lines), rows=rows,
        within_first=report.within_budget_first, within_final=report.within_budget_final,
        background=e(report.background), face_swap=_face_swap_html(report), voices=_voices_html(report),
    )


def other_class(pitch: float) -> bool:
    """Whether a dub line's pitch ratio is beyond what casting allows a voice of the actor's own class."""
    return pitch > MAX_SHIFT * 1.001 or pitch * MAX_SHIFT * 1.001 < 1


def mark_voice_classes(report: Report) -> Report:
    """Each dubbed line spoken by a voice of the other pitch class gets the flag OTHER_CLASS (once)."""
    lines = tuple(dataclasses.replace(ln, flags=(*ln.flags, OTHER_CLASS))
                  if ln.voice and other_class(ln.pitch) and OTHER_CLASS not in ln.flags else ln
                  for ln in report.lines)
    return dataclasses.replace(report, lines=lines)


def _voices_html(report: Report) -> str:
    """Per character: the voice(s) that spoke them, the pitch shift, and "other class" where casting had to."""
    voices: dict[tuple[str, str], list[float]] = {}
    for ln in report.lines:
        if ln.voice:
            voices.setdefault((ln.speaker, ln.voice), []).append(ln.pitch)
    if not voices:
        return ""
    e = html.escape
    rows = []
    for (speaker, voice), pitches in sorted(voices.items()):
        shift = sorted(pitches)[len(pitches) // 2]
        flag = ("<b>other class</b>: a voice of the other pitch class shifted toward the actor"
                if other_class(shift) else "")
        rows.append(f'<tr><td>{e(speaker)}</td><td>{e(voice)}</td><td class="n">{shift:.3f}</td><td>{flag}</td></tr>')
    return ("<h2>Voices</h2>\n<table><tr><th>character</th><th>voice</th><th>pitch shift</th><th>casting</th></tr>\n"
            + "\n".join(rows) + "</table>\n")


def _face_swap_html(report: Report) -> str:
    """Whose face replaced whose, under which consent record, how close it measured, and the frame strip."""
    if not report.face_swap:
        return ""
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(n.character)}</td><td>{e(n.subject)}</td><td>{e(n.granted_by)}, {e(n.granted)}: {e(n.purpose)}"
        f'<br><small><a href="{e(n.consent)}">{e(n.consent)}</a></small></td><td>{e(n.backend)}</td>'
        f'<td class="n">{n.target_distance_before:.3f} &rarr; {n.target_distance_after:.3f}</td>'
        f'<td class="n">{n.original_distance_after:.3f}</td><td class="n">{n.measured_frames}</td></tr>'
        for n in report.face_swap)
    strips = {n.strip for n in report.face_swap if n.strip}
    images = "".join(f'<p><a href="{e(s)}"><img src="{e(s)}" alt="original | face-swapped frames" '
                     'style="max-width:100%"></a></p>' for s in sorted(strips))
    return ("<h2>Face swap</h2>\n<p>Face distances are dlib face-embedding distances over sampled frames "
            "(under 0.6: the same person).</p>\n<table><tr><th>character</th><th>face of (consented)</th>"
            "<th>consent</th><th>backend</th><th>to target face, before &rarr; after</th>"
            f"<th>to original, after</th><th>frames</th></tr>\n{rows}</table>\n{images}\n")


def write_report(report: Report, directory: Path) -> tuple[Path, Path]:
    report = mark_voice_classes(report)
    json_path = save(report, directory / "report.json")
    html_path = directory / "report.html"
    atomic_write_text(html_path, render_html(report))
    return json_path, html_path
