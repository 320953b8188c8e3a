"""Localize one episode into several markets.

Shared work (audio, script) runs once and fans out to every market; each
market's translation, dub, mix and render are cached artifacts keyed on
their inputs, so a re-run reuses everything and a new market reuses the
script. Finished renders are then copied into ``out/<episode>/<market>/``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from localize.core import jsonio
from localize.core.artifacts import (
    DubTrack, EpisodeResult, LineOverride, LocalizedLine, LocalizedScript, Loudness, MarketResult, Report,
    ReportLine, Script, Translation,
)
from localize.core import modelcache
from localize.core.cache import ArtifactStore, file_sha256, stage_key
from localize.stages.voice.casting import CharacterVoice, cast_voices
from localize.stages.voice.dub import DUB_RATE, dub_lines

# Bump when the fit planner or the delivery gain changes what a dub artifact holds.
DUB_PLANNER = 4
CASTING_VERSION = 3
PITCH_KEY = "@pitch"  # the cast stores each character's pitch ratio beside its voice, per backend
from localize.core.errors import ConfigError, InputError, LocalizeError
from localize.core.markets import Market, get_market, load_markets
from localize.stages.mix.mixer import CODEC_HEADROOM_DB, measure, mix_dub, normalise
from localize.options import RunOptions
from localize.stages.picture.faceswap_market import face_swap_processor, labelled, publish_face_swap
from localize.stages.picture.market import market_picture, resolve_subtitles
from localize.core.progress import NullProgress, Progress
from localize.stages.voice.references import reference_overrides
from localize.stages.render.credentials import Credentials, credentials_from
from localize.stages.render.market import LAYOUT_FILE, render_market_video, render_options
from localize.stages.render.presets import resolve_preset
from localize.stages.render.report import write_report
from localize.stages.render.layout import LayoutReport, LineLayout
from localize.stages.render.subtitles import Cue
from localize.stages.translate.preflight import check_routes
from localize.stages.translate.stage import preferences, translate_market
from localize.stages.voice.tts import SYNTHESIZERS, Synthesizer
from localize.stages.script.stage import Audio, Source, build_script, extract_audio, open_source

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Voice:
    synthesizer: Synthesizer
    voice: str


def choose_voice(market: Market, override: str | None) -> Voice:
    """The first TTS backend in the market's list (or the override) that has a usable voice here."""
    names = (override,) if override else market.tts
    problems = []
    for name in names:
        synthesizer = SYNTHESIZERS.create(name)  # an unknown name fails here, listing the known ones
        voice = market.voices.get(name) or synthesizer.default_voice(market.language)
        if not voice:
            problems.append(f"{name} has no voice for {market.language}")
            continue
        try:
            synthesizer.check(voice)
        except LocalizeError as exc:
            problems.append(f"{name}: {exc}")
            continue
        return Voice(synthesizer, voice)
    raise ConfigError(f"no usable voice for market {market.tag} ({'; '.join(problems)}); set one under "
                      f"'voices' in a --markets-file.")


def cast_market_voices(market: Market, voice: Voice, script: Script, tr_key: str, translation: Translation,
                       audio: Audio, options: RunOptions, store: ArtifactStore) -> dict[str, CharacterVoice]:
    """A voice per character; with a series cast, the voice it already gave them, and stored when new."""
    if not options.voice_matching:
        return {}
    chosen, chosen_pitch = {}, {}
    backend = voice.synthesizer.name
    registry = options.open_cast()
    if registry is not None:
        known = {c.id: c for c in registry.characters}
        chosen = {spk: known[spk].voices[backend] for spk in {ln.speaker for ln in script.lines}
                  if spk in known and backend in known[spk].voices}
        chosen_pitch = {spk: float(known[spk].voices[f"{backend}{PITCH_KEY}"]) for spk in chosen
                        if known[spk].voices.get(f"{backend}{PITCH_KEY}")}
    probes = {}
    for ln, t in zip(script.lines, translation.lines, strict=True):
        if t.text.strip() and len(t.text) > len(probes.get(ln.speaker, "")):
            probes[ln.speaker] = t.text
    key = stage_key("casting", inputs=[tr_key, audio.key], backend=backend,
                    model_version=voice.synthesizer.model_version(voice.voice),
                    options={"voice": voice.voice, "chosen": chosen, "pitch": chosen_pitch,
                             "version": CASTING_VERSION})

    def build(tmp: Path) -> None:
        def audition(candidate: str, text: str) -> Path:
            wav = tmp / f"audition-{len(list(tmp.iterdir()))}.wav"
            voice.synthesizer.synthesize(text, candidate, wav)
            return wav

        found = cast_voices(script.lines, backend=backend, base_voice=voice.voice, audio=audio.asr,
                            chosen=chosen, audition=audition, probes=probes, chosen_pitch=chosen_pitch)
        for wav in tmp.glob("audition-*.wav"):
            wav.unlink()
        jsonio.save({"voices": [jsonio.to_dict(v) for v in found.values()]}, tmp / "casting.json")

    def load(path: Path) -> dict[str, CharacterVoice]:
        data = json.loads((path / "casting.json").read_text(encoding="utf-8"))
        return {v["speaker"]: jsonio.from_dict(CharacterVoice, v) for v in data["voices"]}

    voices = store.cached("casting", key, build, load)
    for cv in voices.values():
        voice.synthesizer.check(cv.voice)
    if registry is not None:
        for spk, cv in voices.items():
            if spk not in chosen and spk in {c.id for c in registry.characters}:
                registry.set_voice(spk, backend, cv.voice)
        registry.save()
    return voices


def apply_overrides(script: Script, tr_key: str, translation: Translation,
                    overrides: Sequence[LineOverride]) -> tuple[str, Translation, dict[str, LineOverride]]:
    """The translation with each reviewer override in place of the machine's line, while that line's source
    text is still the one the reviewer saw; returns the new key, the translation and the overrides applied."""
    if not overrides:
        return tr_key, translation, {}
    source = {ln.id: ln.text for ln in script.lines}
    applied = {}
    for o in overrides:
        if o.id not in source:
            log.warning("override of %s ignored: the script has no such line", o.id)
        elif source[o.id] != o.source_text:
            log.warning("override of %s ignored: its source line changed (%r -> %r)", o.id, o.source_text,
                        source[o.id])
        else:
            applied[o.id] = o
    if not applied:
        return tr_key, translation, {}
    lines = tuple(replace(t, text=applied[t.id].target_text, flags=(*t.flags, "reviewed"), route=("reviewer",))
                  if t.id in applied else t for t in translation.lines)
    key = stage_key("overrides", inputs=[tr_key],
                    options={i: [o.source_text, o.target_text, o.voice] for i, o in sorted(applied.items())})
    return key, replace(translation, lines=lines), applied


def _remember_pitch(options: RunOptions, script: Script, track: DubTrack) -> None:
    """Keep each cast character's pitch ratio, so later episodes shift the same voice the same way."""
    registry = options.open_cast()
    if registry is None:
        return
    known = {c.id: c for c in registry.characters}
    speaker = {ln.id: ln.speaker for ln in script.lines}
    changed = False
    for line in track.lines:
        spk, key = speaker[line.id], f"{track.backend}{PITCH_KEY}"
        if spk in known and not known[spk].voices.get(key) and known[spk].voices.get(track.backend) == line.voice:
            registry.set_voice(spk, key, f"{line.pitch:.4f}")
            known = {c.id: c for c in registry.characters}
            changed = True
    if changed:
        registry.save()


def dub_market(
    market: Market, voice: Voice, tr_key: str, script: Script, translation: Translation, store: ArtifactStore,
    progress: Progress, audio: Audio, voices: dict[str, CharacterVoice], line_voices: dict[str, str] | None = None,
    references: dict[str, Path] | None = None, *, machine_text: dict[str, str] | None = None,
) -> tuple[str, DubTrack, Path]:
    """`references`: speaker -> the user's reference clip for a cloning backend (localize.stages.voice.references).
    `machine_text`: the machine's text of lines a reviewer overrode (see localize.stages.voice.dub.dub_lines)."""
    original = audio.asr
    line_voices = line_voices or {}
    references = references if voice.synthesizer.clones else {}
    for v in set(line_voices.values()):
        voice.synthesizer.check(v)
    settings: dict[str, object] = {
        "voice": voice.voice, "max_speed": market.max_speed, "rate": DUB_RATE, "planner": DUB_PLANNER,
        "line_voices": line_voices,
        "cast": {s: [v.voice, v.f0_hz, list(v.reference)] for s, v in sorted(voices.items())}}
    if references:  # the clips' content, so a clip replaced under the same name re-dubs
        settings["references"] = {s: file_sha256(p) for s, p in sorted(references.items())}
    key = stage_key("dub", inputs=[tr_key, audio.key], backend=voice.synthesizer.name,
                    model_version=voice.synthesizer.model_version(voice.voice), options=settings)

    def build(tmp: Path) -> None:
        task = progress.task(f"{market.tag} dub", len(script.lines))
        track = dub_lines(script.lines, translation.lines, synthesizer=voice.synthesizer, voice=voice.voice,
                          language=market.language, max_speed=market.max_speed, out_dir=tmp,
                          duration_ms=script.duration_ms, original=original, voices=voices, line_voices=line_voices,
                          machine_text=machine_text, store=store, advance=task.advance, references=references)
        task.done()
        jsonio.save(track, tmp / "dub.json")

    path_track = store.cached("dub", key, build, lambda p: (p, jsonio.load(DubTrack, p / "dub.json")))
    return key, path_track[1], path_track[0]


def backcheck_market(market: Market, dub: tuple[str, DubTrack, Path], translation: Translation,
                     store: ArtifactStore, progress: Progress) -> dict[str, float]:
    """Each dubbed line transcribed back by Whisper: its character error rate against its text.

    Cached per line on what Whisper hears (text, voice, speed, pitch; not the delivery gain, which an
    edit of another line shifts), so a reviewer's one-line edit transcribes one line again. A cloning
    backend's lines also key on the whole dub (their reference clips)."""
    from localize.stages.voice import backcheck

    texts = {t.id: t.text for t in translation.lines}
    version = backcheck.model_version()
    track = dub[1]
    whole = [dub[0]] if SYNTHESIZERS.load(track.backend).clones else []
    keys = {ln.id: stage_key("backcheck", inputs=whole, backend="faster-whisper", model_version=version,
                             options={"text": texts.get(ln.id, ""), "language": track.language, "tts": track.backend,
                                      "voice": ln.voice, "speed": ln.speed, "pitch": ln.pitch,
                                      "range": getattr(ln, "pitch_range", 100)})
            for ln in track.lines}
    found: dict[str, float | None] = {}  # None: a line Whisper cannot score
    for line_id, key in keys.items():
        if (path := store.get("backcheck", key)) is not None:
            found[line_id] = json.loads((path / "backcheck.json").read_text(encoding="utf-8"))["cer"]
    missing = tuple(ln for ln in dub[1].lines if ln.id not in found)
    if missing:
        task = progress.task(f"{market.tag} back-transcribe", len(missing))
        fresh = backcheck.backcheck(replace(dub[1], lines=missing), dub[2], texts, advance=task.advance)
        task.done()
        for ln in missing:
            found[ln.id] = fresh.get(ln.id)
            with store.build("backcheck", keys[ln.id]) as tmp:
                jsonio.save({"cer": found[ln.id]}, tmp / "backcheck.json")
    return {line_id: cer for line_id, cer in found.items() if cer is not None}


def separate_background(audio: Audio, script_key: str, script: Script, store: ArtifactStore,
                        options: RunOptions, progress: Progress) -> tuple[str, Path] | None:
    """The original sound without its dialogue (music and effects), shared by every dubbed market."""
    if options.separation == "off":
        return None
    from localize.stages.mix.separate import SEPARATORS, create_separator

    sep = options.separate
    key = stage_key("separate", inputs=[audio.key, script_key], backend=sep.backend,
                    model_version=SEPARATORS.load(sep.backend)(options=sep).model_version(),
                    options=jsonio.to_dict(sep))

    def build(tmp: Path) -> None:
        task = progress.task("separate background", None)
        separator = create_separator(sep)
        try:
            separator.separate(audio.bed, [(ln.start_ms, ln.end_ms) for ln in script.lines], tmp)
        finally:
            separator.release()
            task.done()

    return key, store.cached("separate", key, build, lambda p: p / "background.wav")


def mix_market(market: Market, audio: Audio, dub: tuple[str, DubTrack, Path] | None,
               background: tuple[str, Path] | None, store: ArtifactStore) -> tuple[str, Path]:
    """Dub over the separated background (ducked a little), or over the ducked original sound."""
    target = market.loudness
    bed_key, bed = background if (background and dub) else (audio.key, audio.bed)
    duck_db = market.background_duck_db if (background and dub) else market.duck_db
    key = stage_key("mix", inputs=[bed_key, dub[0] if dub else "original"],
                    options={"duck_db": duck_db, "lufs": target.integrated_lufs, "headroom": CODEC_HEADROOM_DB,
                             "normaliser": 2, "tp": target.true_peak_dbtp, "lra": target.lra})

    def build(tmp: Path) -> None:
        mix_dub(bed, dub[1] if dub else None, dub[2] if dub else None, tmp / "raw.wav", duck_db=duck_db)
        normalise(tmp / "raw.wav", tmp / "mix.wav", lufs=target.integrated_lufs, true_peak=target.true_peak_dbtp,
                  lra=target.lra, rate=DUB_RATE)
        (tmp / "raw.wav").unlink()

    return key, store.cached("mix", key, build, lambda p: p / "mix.wav")


def render_market(
    market: Market, source: Source, episode: str, mix: tuple[str, Path], tr_key: str, script: Script,
    translation: Translation, store: ArtifactStore, picture: tuple[str, Path] | None = None,
    credentials: Credentials | None = None,
) -> tuple[Path, Loudness]:
    """The market's video; its picture is `picture` (key, video) when a frame processor changed it."""
    # A line shown as the source said it (a same-language market) is timed by its words when split.
    cues = [Cue(start_ms=ln.start_ms, end_ms=ln.end_ms, text=t.text, id=ln.id,
                words=ln.words if t.text == ln.text else ())
            for ln, t in zip(script.lines, translation.lines, strict=True) if t.text.strip()]
    key = stage_key("render", inputs=[picture[0] if picture else source.sha256, mix[0], tr_key],
                    options={**render_options(market, cues, credentials), "style": jsonio.to_dict(market.subtitles),
                             "label": jsonio.to_dict(market.ai_label), "language": market.language,
                             "title": f"{episode} ({market.tag})"})

    def build(tmp: Path) -> None:
        video = render_market_video(market, picture=picture[1] if picture else source.path, audio=mix[1], cues=cues,
                                    out_dir=tmp, title=f"{episode} ({market.tag})", credentials=credentials)
        loud = measure(video, target_lufs=market.loudness.integrated_lufs,
                       target_true_peak=market.loudness.true_peak_dbtp)
        jsonio.save(loud, tmp / "loudness.json")

    return store.cached("render", key, build, lambda p: (p, jsonio.load(Loudness, p / "loudness.json")))


def _layout(render_dir: Path) -> dict[str, LineLayout]:
    """How the render laid each line out (an older cached render has no layout.json: {})."""
    path = render_dir / LAYOUT_FILE
    if not path.is_file():
        return {}
    return {ln.id: ln for ln in jsonio.load(LayoutReport, path).lines}


def _subtitle_flags(shown: LineLayout | None, market: Market) -> tuple[str, ...]:
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


def _report(episode: str, market: Market, script: Script, translation: Translation, dub: DubTrack | None,
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
            flags=t.flags + (() if d or not dub else ("not-dubbed",)) + _subtitle_flags(shown, market),
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


def _publish(render_dir: Path, directory: Path, episode: str, market: Market, script: Script,
             translation: Translation, report: Report) -> MarketResult:
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("video.mp4", "subtitles.srt", "subtitles.vtt", "subtitles.ass"):
        jsonio.atomic_copy(render_dir / name, directory / name)
    localized = LocalizedScript(
        episode=episode, market=market.tag, source_language=script.language, target_language=market.language,
        lines=tuple(LocalizedLine(id=ln.id, speaker=ln.speaker, start_ms=ln.start_ms, end_ms=ln.end_ms,
                                  source_text=ln.text, target_text=t.text)
                    for ln, t in zip(script.lines, translation.lines, strict=True)),
    )
    jsonio.save(localized, directory / "script.json")
    report_json, report_html = write_report(report, directory)
    return MarketResult(
        market=market.tag, directory=str(directory), video=str(directory / "video.mp4"),
        subtitles=tuple(str(directory / f"subtitles.{x}") for x in ("srt", "vtt", "ass")),
        script=str(directory / "script.json"), report_json=str(report_json), report_html=str(report_html),
        report=report,
    )


def _shared(path: str | Path, options: RunOptions, store: ArtifactStore, progress: Progress,
            *, separate: bool) -> tuple[Source, Audio, str, Script, tuple[str, Path] | None]:
    """The per-episode work every market shares: audio, the source script, the separated background."""
    source = open_source(path, need_video=True)
    task = progress.task("decode audio", None)
    audio = extract_audio(source, store)
    task.done()
    script_key, script = build_script(source, audio, store, options, progress)
    background = separate_background(audio, script_key, script, store, options, progress) if separate else None
    return source, audio, script_key, script, background


def prepare_episode(path: str | Path, *, options: RunOptions, progress: Progress | None = None) -> Script:
    """Run the shared per-episode work (audio, script, background separation) into `options.cache_dir`,
    so every market's later run of this episode reuses it."""
    if options.cache_dir is None:
        raise ConfigError("prepare_episode needs options.cache_dir: the cache the market runs will share.")
    store = ArtifactStore(Path(options.cache_dir))
    return _shared(path, options, store, progress or NullProgress(), separate=True)[3]


def localize_episode(
    path: str | Path,
    markets: Sequence[str],
    out: str | Path,
    *,
    options: RunOptions | None = None,
    progress: Progress | None = None,
    overrides: Mapping[str, Sequence[LineOverride]] | None = None,
) -> EpisodeResult:
    """Localize the episode at `path` into each market; write ``out/<episode>/<market>/``.

    `overrides`: market tag -> reviewers' lines, each used in place of the machine's line while
    that line's source text is unchanged (see :func:`apply_overrides`)."""
    options = options or RunOptions()
    progress = progress or NullProgress()
    overrides = overrides or {}
    if not markets:
        raise ConfigError("no market given; pass at least one --market (see `localize markets`).")
    known = load_markets(*options.markets_files)
    chosen = [labelled(get_market(tag, known)) for tag in dict.fromkeys(markets)]  # face swap: a visible label
    voices = {m.tag: choose_voice(m, options.tts_backend) for m in chosen}
    for m in chosen:
        preferences(m, options)
        resolve_preset(m.render)  # an unknown preset or codec fails before any work
        face_swap_processor(m, options)  # a face swap without a valid consent record fails before any work
    credentials = credentials_from(options.c2pa)
    references = reference_overrides(options.references, options.open_cast())  # a bad clip fails before any work
    check_routes(Path(path), chosen, options)  # no route, or a model failing its sha256: before any work
    out = Path(out)
    store = ArtifactStore(Path(options.cache_dir) if options.cache_dir else out / ".cache")
    language_of = {m.tag: m.language for m in chosen}
    source, audio, script_key, script, _ = _shared(path, options, store, progress, separate=False)
    episode = source.path.stem
    episode_dir = out / episode
    jsonio.save(script, episode_dir / "transcript.json")

    background = None
    if any(lang != script.language for lang in language_of.values()):
        background = separate_background(audio, script_key, script, store, options, progress)
    with modelcache.scope():  # models (the LLM, Whisper for back-checks) load once for all the markets
        results = [_localize_market(market, source, audio, script_key, script, background, voices[market.tag],
                                    episode, episode_dir, out, store, options, progress, overrides, credentials,
                                    references) for market in chosen]
    return EpisodeResult(episode=episode, source=str(source.path), transcript=str(episode_dir / "transcript.json"),
                         markets=tuple(results))


def _localize_market(market: Market, source: Source, audio: Audio, script_key: str, script: Script,
                     background: object, voice: Voice, episode: str, episode_dir: Path, out: Path,
                     store: ArtifactStore, options: RunOptions, progress: Progress,
                     overrides: Mapping[str, Sequence[LineOverride]], credentials: Credentials | None,
                     references: object) -> MarketResult:
    task = progress.task(f"{market.tag} translate", None)
    machine_key, machine = translate_market(market, script_key, script, store, options)
    tr_key, translation, applied = apply_overrides(script, machine_key, machine, overrides.get(market.tag, ()))
    task.done()
    same_language = script.language == market.language
    dub, backchecked = None, {}
    if not same_language:
        # Casting hears the machine's lines: a reviewer's edit never recasts a character.
        cast = cast_market_voices(market, voice, script, machine_key, machine, audio, options, store)
        dub = dub_market(market, voice, tr_key, script, translation, store, progress, audio, cast,
                         {i: o.voice for i, o in applied.items() if o.voice}, references,
                         machine_text={t.id: t.text for t in machine.lines if t.id in applied})
        _remember_pitch(options, script, dub[1])
        if options.backcheck:
            backchecked = backcheck_market(market, dub, translation, store, progress)
        if market.picture.lip_align:
            from localize.stages.picture.lipstage import lip_align_market

            dub = lip_align_market(market, source, script_key, script, dub, store, progress)
    task = progress.task(f"{market.tag} mix", None)
    mix = mix_market(market, audio, dub, background, store)
    task.done()
    task = progress.task(f"{market.tag} render", None)
    lip_sync = []
    if dub and market.picture.lip_sync:
        from localize.stages.picture.lipstage import lip_sync_processor

        lip_sync = [lip_sync_processor(market, source, script, dub, store, progress)]
    market = resolve_subtitles(market, source, script.language, store, options, progress)  # "auto"
    picture = market_picture(market, source, store, options, progress, script, lip_sync)
    render_dir, loudness = render_market(market, source, episode, mix, tr_key, script, translation, store,
                                         picture, credentials)
    task.done()
    bed = f"separated:{options.separate.backend}" if (background and dub) else "original"
    report = _report(episode, market, script, translation, dub[1] if dub else None, loudness, bed,
                     backchecked, applied, _layout(render_dir))
    swap = face_swap_processor(market, options)
    if swap is not None and picture is not None:  # consent copied beside the outputs, identity measured
        report = replace(report, face_swap=publish_face_swap(swap, source=source.path, picture=picture,
                                                             directory=episode_dir / market.tag, store=store))
    result = _publish(render_dir, episode_dir / market.tag, episode, market, script, translation, report)
    _save_run(episode_dir / market.tag, source.path, out, options)
    log.info("%s: wrote %s", market.tag, episode_dir / market.tag)
    return result


RUN_FILE = "run.json"


def _save_run(directory: Path, source: Path, out: Path, options: RunOptions) -> None:
    """What produced this market's folder, so a reviewer's edit can re-run it (see :func:`relocalize`)."""
    options = replace(
        options, cache_dir=Path(options.cache_dir or out / ".cache").resolve(),
        markets_files=tuple(Path(p).resolve() for p in options.markets_files),
        translations=tuple((tag, Path(p).resolve()) for tag, p in options.translations),
        references=tuple((speaker, Path(p).resolve()) for speaker, p in options.references),
        **{name: Path(value).resolve() for name in ("source_subs", "bible_file", "tm_file", "cast_file")
           if (value := getattr(options, name)) is not None},
    )
    jsonio.save({"source": str(source.resolve()), "out": str(out.resolve()), "options": jsonio.to_dict(options)},
                directory / RUN_FILE)


def relocalize(market_dir: str | Path, overrides: Sequence[LineOverride], *,
               progress: Progress | None = None) -> MarketResult:
    """Re-run one published market of one episode with reviewers' `overrides`, from its ``run.json``:
    only the edited lines are translated and synthesized again; the mix and the render follow."""
    market_dir = Path(market_dir)
    run_file = market_dir / RUN_FILE
    if not run_file.is_file():
        raise InputError(f"{market_dir} has no {RUN_FILE}; it is not a folder `localize run` wrote, so run the "
                         "episode again with `localize run`.")
    run = json.loads(run_file.read_text(encoding="utf-8"))
    options = jsonio.from_dict(RunOptions, run["options"])
    market = market_dir.name
    result = localize_episode(run["source"], [market], run["out"], options=options, progress=progress,
                              overrides={market: tuple(overrides)})
    return result.markets[0]


def transcribe(
    path: str | Path, *, options: RunOptions | None = None, cache_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> Script:
    """The source script of a video or audio file: speech recognition cut into lines, fused with
    the burned-in subtitles, with speakers."""
    options = options or RunOptions()
    source = open_source(path, need_video=False)
    root = Path(cache_dir or options.cache_dir or Path.home() / ".cache" / "localize" / "artifacts")
    store = ArtifactStore(root)
    audio = extract_audio(source, store)
    return build_script(source, audio, store, options, progress)[1]


__all__ = ["apply_overrides", "localize_episode", "prepare_episode", "relocalize", "transcribe"]
