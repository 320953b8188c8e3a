"""Localize one episode into several markets.

Shared work (audio, script) runs once and fans out to every market; each
market's translation, dub, mix and render are cached artifacts keyed on
their inputs, so a re-run reuses everything and a new market reuses the
script. Finished renders are then copied into ``out/<episode>/<market>/``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from . import jsonio
from .artifacts import (
    DubTrack, EpisodeResult, LocalizedLine, LocalizedScript, Loudness, MarketResult, Report, ReportLine, Script,
    Translation,
)
from .cache import ArtifactStore, stage_key
from .casting import CharacterVoice, cast_voices
from .dub import DUB_RATE, dub_lines

# Bump when the fit planner or the delivery gain changes what a dub artifact holds.
DUB_PLANNER = 3
CASTING_VERSION = 3
PITCH_KEY = "@pitch"  # the cast stores each character's pitch ratio beside its voice, per backend
from .errors import ConfigError, LocalizeError
from .markets import Market, get_market, load_markets
from .media import run_ffmpeg
from .mix import CODEC_HEADROOM_DB, measure, mix_dub, normalise
from .options import RunOptions
from .progress import NullProgress, Progress
from .render.report import write_report
from .render.video import RENDER_VERSION, RenderSpec, render_argv
from .subtitles import Cue, build_ssa, write_subtitles
from .translate.stage import preferences, translate_market
from .tts import SYNTHESIZERS, Synthesizer
from .understand import Audio, Source, build_script, extract_audio, open_source

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
    progress: Progress, audio: Audio, voices: dict[str, CharacterVoice],
) -> tuple[str, DubTrack, Path]:
    original = audio.asr
    key = stage_key("dub", inputs=[tr_key, audio.key], backend=voice.synthesizer.name,
                    model_version=voice.synthesizer.model_version(voice.voice),
                    options={"voice": voice.voice, "max_speed": market.max_speed, "rate": DUB_RATE,
                             "planner": DUB_PLANNER,
                             "cast": {s: [v.voice, v.f0_hz, list(v.reference)] for s, v in sorted(voices.items())}})

    def build(tmp: Path) -> None:
        task = progress.task(f"{market.tag} dub", len(script.lines))
        track = dub_lines(script.lines, translation.lines, synthesizer=voice.synthesizer, voice=voice.voice,
                          language=market.language, max_speed=market.max_speed, out_dir=tmp,
                          duration_ms=script.duration_ms, original=original, voices=voices, advance=task.advance)
        task.done()
        jsonio.save(track, tmp / "dub.json")

    path_track = store.cached("dub", key, build, lambda p: (p, jsonio.load(DubTrack, p / "dub.json")))
    return key, path_track[1], path_track[0]


def separate_background(audio: Audio, script_key: str, script: Script, store: ArtifactStore,
                        options: RunOptions, progress: Progress) -> tuple[str, Path] | None:
    """The original sound without its dialogue (music and effects), shared by every dubbed market."""
    if options.separation == "off":
        return None
    from .separate import SEPARATORS, create_separator

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
    translation: Translation, store: ArtifactStore,
) -> tuple[Path, Loudness]:
    cues = [Cue(start_ms=ln.start_ms, end_ms=ln.end_ms, text=t.text)
            for ln, t in zip(script.lines, translation.lines, strict=True) if t.text.strip()]
    key = stage_key("render", inputs=[source.sha256, mix[0], tr_key],
                    options={"render": RENDER_VERSION, "style": jsonio.to_dict(market.subtitles), "label": jsonio.to_dict(market.ai_label),
                             "language": market.language, "title": f"{episode} ({market.tag})"})

    def build(tmp: Path) -> None:
        subs = build_ssa(cues, style=market.subtitles, play_res=(source.info.width, source.info.height))
        write_subtitles(subs, tmp)
        label_file = None
        if market.ai_label.visible:
            label_file = tmp / "label.txt"
            label_file.write_text(market.ai_label.text, encoding="utf-8")
        spec = RenderSpec(source=source.path, audio=mix[1], subtitles=tmp / "subtitles.srt", out=tmp / "video.mp4",
                          language=market.language, label_text=market.ai_label.text, label_file=label_file,
                          title=f"{episode} ({market.tag})")
        run_ffmpeg(render_argv(spec), f"rendering {market.tag}")
        loud = measure(tmp / "video.mp4", target_lufs=market.loudness.integrated_lufs,
                       target_true_peak=market.loudness.true_peak_dbtp)
        jsonio.save(loud, tmp / "loudness.json")

    return store.cached("render", key, build, lambda p: (p, jsonio.load(Loudness, p / "loudness.json")))


def _report(episode: str, market: Market, script: Script, translation: Translation, dub: DubTrack | None,
            loudness: Loudness, background: str) -> Report:
    dubbed = {d.id: d for d in dub.lines} if dub else {}
    lines = []
    for ln, t in zip(script.lines, translation.lines, strict=True):
        d = dubbed.get(ln.id)
        lines.append(ReportLine(
            id=ln.id, speaker=ln.speaker, source_text=ln.text, target_text=t.text,
            slot_start_ms=ln.start_ms, slot_end_ms=ln.end_ms,
            dub_start_ms=d.dub_start_ms if d else ln.start_ms, dub_end_ms=d.dub_end_ms if d else ln.end_ms,
            speed=d.speed if d else 1.0, overflow_ms=d.overflow_ms if d else 0, route=t.route,
            flags=t.flags + (() if d or not dub else ("not-dubbed",)), budget_chars=t.budget_chars,
            literal=t.literal, decision=d.decision if d else "", borrowed_ms=d.borrowed_ms if d else 0,
            gain_db=d.gain_db if d else 0.0, voice=d.voice if d else "", pitch=d.pitch if d else 1.0,
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


def localize_episode(
    path: str | Path,
    markets: Sequence[str],
    out: str | Path,
    *,
    options: RunOptions | None = None,
    progress: Progress | None = None,
) -> EpisodeResult:
    """Localize the episode at `path` into each market; write ``out/<episode>/<market>/``."""
    options = options or RunOptions()
    progress = progress or NullProgress()
    if not markets:
        raise ConfigError("no market given; pass at least one --market (see `localize markets`).")
    known = load_markets(*options.markets_files)
    chosen = [get_market(tag, known) for tag in dict.fromkeys(markets)]
    voices = {m.tag: choose_voice(m, options.tts_backend) for m in chosen}
    for m in chosen:
        preferences(m, options)
    source = open_source(path, need_video=True)
    out = Path(out)
    store = ArtifactStore(Path(options.cache_dir) if options.cache_dir else out / ".cache")
    episode = source.path.stem

    task = progress.task("decode audio", None)
    audio = extract_audio(source, store)
    task.done()
    script_key, script = build_script(source, audio, store, options, progress)
    episode_dir = out / episode
    jsonio.save(script, episode_dir / "transcript.json")

    background = None
    if any(m.language != script.language for m in chosen):
        background = separate_background(audio, script_key, script, store, options, progress)
    results = []
    for market in chosen:
        task = progress.task(f"{market.tag} translate", None)
        tr_key, translation = translate_market(market, script_key, script, store, options)
        task.done()
        same_language = script.language == market.language
        dub = None
        if not same_language:
            cast = cast_market_voices(market, voices[market.tag], script, tr_key, translation, audio, options,
                                      store)
            dub = dub_market(market, voices[market.tag], tr_key, script, translation, store, progress, audio, cast)
            _remember_pitch(options, script, dub[1])
        task = progress.task(f"{market.tag} mix", None)
        mix = mix_market(market, audio, dub, background, store)
        task.done()
        task = progress.task(f"{market.tag} render", None)
        render_dir, loudness = render_market(market, source, episode, mix, tr_key, script, translation, store)
        task.done()
        bed = f"separated:{options.separate.backend}" if (background and dub) else "original"
        report = _report(episode, market, script, translation, dub[1] if dub else None, loudness, bed)
        results.append(_publish(render_dir, episode_dir / market.tag, episode, market, script, translation, report))
        log.info("%s: wrote %s", market.tag, episode_dir / market.tag)
    return EpisodeResult(episode=episode, source=str(source.path), transcript=str(episode_dir / "transcript.json"),
                         markets=tuple(results))


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


__all__ = ["localize_episode", "transcribe"]
