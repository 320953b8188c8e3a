"""The render stage of a market: the video with its mix, subtitles and AI label, then the QA report."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from localize.core import jsonio
from localize.core.artifacts import DubTrack, LineOverride, Loudness, Report, ReportLine, Script, Translation
from localize.core.cache import ArtifactStore
from localize.core.markets import Market
from localize.core.stage import Built, Stage
from localize.stages.audio.stage import Source
from localize.stages.mix.mixer import measure
from localize.stages.render.chunks import ChunkCache
from localize.stages.render.credentials import Credentials
from localize.stages.render.layout import LayoutReport, LineLayout
from localize.stages.render.market import LAYOUT_FILE, render_market_video, render_options
from localize.stages.render.subtitles import Cue

RENDER = Stage("render", version=8)  # bump when render_argv or the subtitle layout changes what is written


def render_market(
    market: Market, source: Source, episode: str, mix: Built[Path], tr_key: str, script: Script,
    translation: Translation, store: ArtifactStore, picture: Built[Path] | None = None,
    credentials: Credentials | None = None,
) -> Built[Loudness]:
    """The market's video, subtitles and loudness; its picture is `picture` when a frame processor changed it."""
    # A line shown as the source said it (a same-language market) is timed by its words when split.
    cues = [Cue(start_ms=ln.start_ms, end_ms=ln.end_ms, text=t.text, id=ln.id,
                words=ln.words if t.text == ln.text else ())
            for ln, t in zip(script.lines, translation.lines, strict=True) if t.text.strip()]
    key = RENDER.key(inputs=[picture.key if picture else source.sha256, mix.key, tr_key],
                     options={**render_options(market, cues, credentials), "style": jsonio.to_dict(market.subtitles),
                              "label": jsonio.to_dict(market.ai_label), "language": market.language,
                              "title": f"{episode} ({market.tag})"})

    def build(tmp: Path) -> None:
        video = render_market_video(market, picture=picture.value if picture else source.path, audio=mix.value,
                                    cues=cues, out_dir=tmp, title=f"{episode} ({market.tag})", credentials=credentials,
                                    chunks=ChunkCache(store, picture.key if picture else source.sha256),
                                    source=source.path)
        loud = measure(video, target_lufs=market.loudness.integrated_lufs,
                       target_true_peak=market.loudness.true_peak_dbtp)
        jsonio.save(loud, tmp / "loudness.json")

    return RENDER.built(store, key, build, lambda p: jsonio.load(Loudness, p / "loudness.json"))


def layout(render_dir: Path) -> dict[str, LineLayout]:
    """How the render laid each line out (an older cached render has no layout.json: {})."""
    path = render_dir / LAYOUT_FILE
    if not path.is_file():
        return {}
    return {ln.id: ln for ln in jsonio.load(LayoutReport, path).lines}


def subtitle_flags(shown: LineLayout | None, market: Market) -> tuple[str, ...]:
    if shown is None:
        return ()
    flags = []
    if shown.extended_ms:
        flags.append(f"subtitle-extended:{shown.extended_ms}ms")
    if shown.trimmed_ms:
        flags.append(f"subtitle-trimmed:{shown.trimmed_ms}ms")
    if shown.too_fast:
        flags.append(f"reading-speed:{shown.reading_cps:g}>{market.style.reading_speed_cps:g}cps")
    return tuple(flags)


def build_report(episode: str, market: Market, script: Script, translation: Translation, dub: DubTrack | None,
            loudness: Loudness, background: str, backchecked: Mapping[str, float] | None = None,
            applied: Mapping[str, LineOverride] | None = None,
            layout: Mapping[str, LineLayout] | None = None) -> Report:
    dubbed = {d.id: d for d in dub.lines} if dub else {}
    backchecked, applied, layout = backchecked or {}, applied or {}, layout or {}
    lines = []
    for ln, t in zip(script.lines, translation.lines, strict=True):
        d = dubbed.get(ln.id)
        o = applied.get(ln.id)
        shown = layout.get(ln.id)
        lines.append(ReportLine(
            id=ln.id, speaker=ln.speaker, source_text=ln.text, target_text=t.text,
            slot_start_ms=ln.start_ms, slot_end_ms=ln.end_ms,
            dub_start_ms=d.dub_start_ms if d else ln.start_ms, dub_end_ms=d.dub_end_ms if d else ln.end_ms,
            speed=d.speed if d else 1.0, overflow_ms=d.overflow_ms if d else 0, route=t.route,
            flags=t.flags + (() if d or not dub else ("not-dubbed",)) + subtitle_flags(shown, market),
            budget_chars=t.budget_chars,
            literal=t.literal, decision=d.decision if d else "", borrowed_ms=d.borrowed_ms if d else 0,
            gain_db=d.gain_db if d else 0.0, voice=d.voice if d else "", pitch=d.pitch if d else 1.0,
            backcheck_cer=backchecked.get(ln.id, -1.0),
            pitch_range=d.pitch_range if d else 100,
            reading_cps=shown.reading_cps if shown else round(len(t.text.replace("\n", "")) * 1000
                                                              / max(ln.duration_ms, 1), 1),
            subtitle_cues=shown.pieces if shown else 0,
            override=("revoiced" if o.voice else "edited") if o else "",
            lip_face=d.lip_face if d else "", lip_offset_before_ms=d.lip_offset_before_ms if d else 0,
            lip_offset_after_ms=d.lip_offset_after_ms if d else 0,
        ))
    return Report(
        episode=episode, market=market.tag, language=market.language, source_language=script.language,
        duration_ms=script.duration_ms, dubbed=dub is not None,
        tts=f"{dub.backend}:{dub.voice}" if dub else "original audio", ai_label=market.ai_label.text,
        lines=tuple(lines), loudness=loudness, within_budget_first=translation.within_budget_first,
        within_budget_final=translation.within_budget_final, background=background,
    )
