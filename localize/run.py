"""Localize one episode into several markets.

Shared work (audio, script) runs once and fans out to every market; each
market's translation, dub, mix and render are cached artifacts keyed on
their inputs, so a re-run reuses everything and a new market reuses the
script. Finished renders are then copied into ``out/<episode>/<market>/``.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from localize.core import jsonio, modelcache, outputs
from localize.core.artifacts import (
    RUN_FILE,
    DubTrack,
    EpisodeResult,
    LineOverride,
    LocalizedLine,
    LocalizedScript,
    MarketResult,
    Report,
    RunRecord,
    Script,
    Translation,
)
from localize.core.cache import ArtifactStore
from localize.core.consent import CheckedConsent
from localize.core.errors import ConfigError, InputError
from localize.core.markets import Market, get_market, load_markets
from localize.core.models import check_commercial, is_commercial, licences, market_uses
from localize.core.options import RunOptions
from localize.core.progress import NullProgress, Progress
from localize.core.stage import Built, Keyed
from localize.stages.audio.stage import Audio, Source, extract_audio, open_source
from localize.stages.mix.stage import mix_market, separate_background
from localize.stages.picture.faceswap_market import face_swap_processor, labelled, publish_face_swap
from localize.stages.picture.market import check_picture, market_picture, resolve_subtitles
from localize.stages.render.credentials import Credentials, credentials_from
from localize.stages.render.presets import resolve_preset
from localize.stages.render.report import write_report
from localize.stages.render.stage import build_report, layout, render_market
from localize.stages.render.subtitles import SUBTITLE_FORMATS
from localize.stages.script.speakers.cast import open_cast
from localize.stages.script.stage import build_script, source_subtitles
from localize.stages.translate.overrides import Reviewed, apply_overrides
from localize.stages.translate.preflight import check_routes
from localize.stages.translate.stage import preferences, translate_market
from localize.stages.voice.references import (
    cloned,
    cloning_consent,
    publish_consent,
    reference_overrides,
    require_consent,
)
from localize.stages.voice.stage import (
    Voice,
    backcheck_market,
    cast_market_voices,
    choose_voice,
    dub_backends,
    dub_market,
    remember_pitch,
)

log = logging.getLogger(__name__)
_EPISODE_NAME = "the episode's name (its file name without extension)"


def _publish(render_dir: Path, directory: Path, staging: Path, episode: str, market: Market, script: Script,
             translation: Translation, report: Report) -> MarketResult:
    """Write the market's files into `staging`, which becomes `directory` (see :func:`outputs.publish_dir`)."""
    for name in ("video.mp4", *(f"subtitles.{x}" for x in SUBTITLE_FORMATS)):
        shutil.copyfile(render_dir / name, staging / name)
    localized = LocalizedScript(
        episode=episode, market=market.tag, source_language=script.language, target_language=market.language,
        lines=tuple(LocalizedLine(id=ln.id, speaker=ln.speaker, start_ms=ln.start_ms, end_ms=ln.end_ms,
                                  source_text=ln.text, target_text=t.text)
                    for ln, t in zip(script.lines, translation.lines, strict=True)),
    )
    jsonio.save(localized, staging / "script.json")
    report_json, report_html = write_report(report, staging)
    return MarketResult(
        market=market.tag, directory=str(directory), video=str(directory / "video.mp4"),
        subtitles=tuple(str(directory / f"subtitles.{x}") for x in SUBTITLE_FORMATS),
        script=str(directory / "script.json"), report_json=str(directory / Path(report_json).name),
        report_html=str(directory / Path(report_html).name), report=report,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Episode:
    """What every market of one episode shares: its source, audio, script and background, where they are cached."""

    source: Source
    audio: Audio
    script: Keyed[Script]
    background: Built[Path] | None
    store: ArtifactStore
    options: RunOptions
    progress: Progress

    @property
    def name(self) -> str:
        return self.source.path.stem


def _shared(path: str | Path, options: RunOptions, store: ArtifactStore, progress: Progress) -> Episode:
    """The per-episode work every market shares: audio and the source script (the background comes later)."""
    source = open_source(path, need_video=True)
    task = progress.task("decode audio", None)
    audio = extract_audio(source, store)
    task.done()
    script = build_script(source, audio, store, options, progress)
    return Episode(source=source, audio=audio, script=script, background=None, store=store, options=options,
                   progress=progress)


def _with_background(episode: Episode) -> Episode:
    """The episode with its dialogue-free background, which every dubbed market mixes over."""
    background = separate_background(episode.audio, episode.script.key, episode.script.value, episode.store,
                                      episode.options, episode.progress)
    return replace(episode, background=background)


def prepare_episode(path: str | Path, *, options: RunOptions | None = None, progress: Progress | None = None) -> Script:
    """Run the shared per-episode work (audio, script, background separation) into the artifact cache
    (:meth:`RunOptions.cache_root`), so every market's later run of this episode reuses it."""
    options = options or RunOptions()
    outputs.safe_name(Path(path).stem, _EPISODE_NAME, path)  # its outputs will need a folder of this name
    store = ArtifactStore(options.cache_root())
    return _with_background(_shared(path, options, store, progress or NullProgress())).script.value


@dataclass(frozen=True, slots=True, kw_only=True)
class _Plan:
    """What was checked before any work: the markets, their voices, the signing credentials, the clips."""

    markets: tuple[Market, ...]
    voices: Mapping[str, Voice]
    credentials: Credentials | None
    references: Mapping[str, Path]
    voice_consent: Mapping[str, Mapping[str, CheckedConsent]]  # market -> speaker -> consent, where a dub clones


def _plan(path: Path, markets: Sequence[str], options: RunOptions) -> _Plan:
    """Every check that can fail on the user's input, before the heavy work starts."""
    if not markets:
        raise ConfigError("no market given; pass at least one --market (see `localize markets`).")
    known = load_markets(*options.markets_files)
    chosen = tuple(labelled(get_market(tag, known)) for tag in dict.fromkeys(markets))  # face swap: a visible label
    for m in chosen:  # a market tag from a markets file names an output folder too
        outputs.safe_name(m.tag, "market tag", m.tag)
    stray = [f"{tag}={file}" for tag, file in options.translations
             if tag.lower() not in {m.tag.lower() for m in chosen}]
    if stray:
        raise ConfigError(f"--translation {stray[0]}: market {stray[0].partition('=')[0]!r} is not in this run "
                          f"({', '.join(m.tag for m in chosen)}); add it with --market or drop the translation.")
    for m in chosen:
        check_commercial(m, options)  # a commercial release refuses non-commercial weights, before any work
    cast = open_cast(options)
    references = reference_overrides(options.references, cast)  # a bad clip fails before any work
    first = {m.tag: cloning_consent(m, options, references, cast) for m in chosen}  # before the weights' check
    voices = {m.tag: choose_voice(m, options.tts_backend, commercial=is_commercial(m, options))
              for m in chosen if m.dub}  # dub = false: no voice
    for m in chosen:
        if m.tag in voices:  # the backends "auto" expanded to, each of which casting may give a character
            check_commercial(m, options, tts=[s.name for s, _ in voices[m.tag].backends])
    cloner = {tag: next(((s, v) for s, v in v.backends if s.clones and (references or s.clones_with(v))), None)
              for tag, v in voices.items()}  # a backend that will imitate someone: its consent is needed
    consents = {m.tag: first[m.tag] or cloning_consent(m, options, references, cast, *found) or {}
                for m in chosen if (found := cloner.get(m.tag)) is not None}
    chosen = tuple(cloned(m) if m.tag in consents else m for m in chosen)  # a cloned voice: named in the AI label
    for m in chosen:
        preferences(m, options)
        resolve_preset(m.render)  # an unknown preset or codec fails before any work
        check_picture(m, options)  # no consent record for a face swap, an unknown backend: before any work
    credentials = credentials_from(options.c2pa)
    check_routes(path, list(chosen), options)  # no route, or a model failing its sha256: before any work
    return _Plan(markets=chosen, voices=voices, credentials=credentials, references=references,
                 voice_consent=consents)


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
    that line's source text is unchanged (see :func:`localize.stages.translate.overrides.apply_overrides`)."""
    return _localize(path, markets, out, options=options, progress=progress, overrides=overrides)


def _localize(path: str | Path, markets: Sequence[str], out: str | Path, *, options: RunOptions | None,
              progress: Progress | None, overrides: Mapping[str, Sequence[LineOverride]] | None,
              targets: Mapping[str, Path] | None = None) -> EpisodeResult:
    """:func:`localize_episode`; `targets`: market tag -> the folder to publish it to instead of
    ``out/<episode>/<market>`` (relocalize: the folder being reviewed, wherever it was copied)."""
    options = options or RunOptions()
    name = outputs.safe_name(Path(path).stem, _EPISODE_NAME, path)
    out = Path(out)
    for target in (targets or {}).values():
        outputs.writable_dir(target.parent)
    if not targets:
        outputs.writable_dir(out)  # a read-only --out or a file: one line before any work
    plan = _plan(Path(path), markets, options)
    episode = _shared(path, options, ArtifactStore(options.cache_root()), progress or NullProgress())
    episode_dir = outputs.inside(out, out / name) if not targets else next(iter(targets.values())).parent
    transcript = episode_dir / "transcript.json"
    try:
        jsonio.save(episode.script.value, transcript)
    except OSError as exc:
        raise outputs.write_error(transcript, exc) from exc
    if any(m.dubs(episode.script.value.language) for m in plan.markets):
        episode = _with_background(episode)
    with modelcache.scope():  # models (the LLM, Whisper for back-checks) load once for all the markets
        # Every market's translation first, so the LLM leaves memory before the voices and the picture load.
        translated = {m.tag: _translate(episode, m, (overrides or {}).get(m.tag, ())) for m in plan.markets}
        modelcache.release("llamacpp")
        results = tuple(_localize_market(episode, market, plan, out, *translated[market.tag],
                                         (targets or {}).get(market.tag))
                        for market in plan.markets)
    return EpisodeResult(episode=episode.name, source=str(episode.source.path),
                         transcript=str(transcript), markets=results)


def _dub(episode: Episode, market: Market, plan: _Plan, machine: Keyed[Translation],
         reviewed: Reviewed) -> tuple[Built[DubTrack] | None, dict[str, float]]:
    """The market's dub (aligned to the mouths when the market asks) and each line's back-transcription score."""
    if not market.dubs(episode.script.value.language):  # the source's own voices
        return None, {}
    script, store, options, progress = episode.script, episode.store, episode.options, episode.progress
    voice = plan.voices[market.tag]
    require_consent(plan.voice_consent.get(market.tag), (ln.speaker for ln in script.value.lines), market.tag,
                    voice.synthesizer.name)  # a cloned speaker without consent: refused before any synthesis
    # Casting hears the machine's lines: a reviewer's edit never recasts a character.
    cast = cast_market_voices(market, voice, script.value, machine.key, machine.value, episode.audio, options, store)
    dub = dub_market(market, voice, reviewed.key, script.value, reviewed.translation, store, progress, episode.audio,
                     cast, {i: o.voice for i, o in reviewed.applied.items() if o.voice}, dict(plan.references),
                     machine_text={t.id: t.text for t in machine.value.lines if t.id in reviewed.applied})
    remember_pitch(options, script.value, dub.value)
    if market.picture.lip_align:
        from localize.stages.picture.lipstage import lip_align_market

        dub = lip_align_market(market, episode.source, script.key, script.value, dub, store, progress)
    # Scored after lip alignment, which re-stretches clips: the score describes the audio in the render.
    backchecked = backcheck_market(market, dub, reviewed.translation, store, progress) if options.backcheck else {}
    return dub, backchecked


def _translate(episode: Episode, market: Market, overrides: Sequence[LineOverride]) \
        -> tuple[Keyed[Translation], Reviewed]:
    """The market's machine translation, and the lines with the reviewers' versions in place."""
    script = episode.script
    task = episode.progress.task(f"{market.tag} translate", None)
    machine = translate_market(market, script.key, script.value, episode.store, episode.options)
    reviewed = apply_overrides(script.value, machine.key, machine.value, overrides)
    task.done()
    return machine, reviewed


def _localize_market(episode: Episode, market: Market, plan: _Plan, out: Path, machine: Keyed[Translation],
                     reviewed: Reviewed, target: Path | None = None) -> MarketResult:
    """One translated market, stage after stage: voice, mix, picture, render, publish."""
    script, store, options, progress = episode.script, episode.store, episode.options, episode.progress
    dub, backchecked = _dub(episode, market, plan, machine, reviewed)
    task = progress.task(f"{market.tag} mix", None)
    mix = mix_market(market, episode.audio, dub, episode.background, store)
    task.done()
    task = progress.task(f"{market.tag} render", None)
    lip_sync = []
    if dub and market.picture.lip_sync:
        from localize.stages.picture.lipstage import lip_sync_processor

        lip_sync = [lip_sync_processor(market, episode.source, script.value, dub, store, progress)]

    def subtitles() -> Keyed:  # the source's burned-in subtitles (the OCR track), read when the picture asks
        return Keyed(*source_subtitles(episode.source, store, options, progress))

    market = resolve_subtitles(market, episode.source, script.value.language, options, subtitles)  # "auto"
    picture = market_picture(market, episode.source, store, options, progress, script.value, lip_sync,
                             subtitles=subtitles)
    render = render_market(market, episode.source, episode.name, mix, reviewed.key, script.value,
                           reviewed.translation, store, picture, plan.credentials)
    task.done()
    bed = f"separated:{options.separate.backend}" if (episode.background and dub) else "original"
    report = build_report(episode.name, market, script.value, reviewed.translation, dub.value if dub else None,
                          render.value, bed, backchecked, reviewed.applied, layout(render.path))
    directory = target or out / episode.name / market.tag  # checked in _localize: under out
    tts = dub_backends(dub.value, plan.voices[market.tag]) if dub else ()
    report = replace(report, licences=licences(list(market_uses(market, options, tts=tts))))
    swap = face_swap_processor(market, options)
    results: list[MarketResult] = []

    def fill(staging: Path) -> None:  # the whole folder, built beside the old one and swapped in at once
        nonlocal report
        if dub and market.tag in plan.voice_consent:  # each cloned voice's consent copied beside the outputs
            report = replace(report, voice_consent=publish_consent(
                plan.voice_consent[market.tag], staging, dub.value.backend, (ln.speaker for ln in script.value.lines)))
        if swap is not None and picture is not None:  # consent copied beside the outputs, identity measured
            report = replace(report, face_swap=publish_face_swap(swap, source=episode.source.path, picture=picture,
                                                                 directory=staging, store=store))
        results.append(_publish(render.path, directory, staging, episode.name, market, script.value,
                                reviewed.translation, report))
        _save_run(staging, episode.source.path, directory.parent.parent, options)

    try:
        outputs.publish_dir(directory, fill)
    except OSError as exc:
        raise outputs.write_error(directory, exc) from exc
    log.info("%s: wrote %s", market.tag, directory)
    return results[0]


def _save_run(directory: Path, source: Path, out: Path, options: RunOptions) -> None:
    # Any: each of these fields is a Path | None, which mypy cannot tell from a ** of a dict[str, Path]
    files: dict[str, Any] = {name: Path(value).resolve()
                             for name in ("source_subs", "bible_file", "tm_file", "cast_file")
                             if (value := getattr(options, name)) is not None}
    options = replace(
        options, cache_dir=options.cache_root().resolve(),
        markets_files=tuple(Path(p).resolve() for p in options.markets_files),
        translations=tuple((tag, Path(p).resolve()) for tag, p in options.translations),
        references=tuple((speaker, Path(p).resolve()) for speaker, p in options.references),
        **files,
    )
    jsonio.save(RunRecord(source=str(source.resolve()), out=str(out.resolve()), options=options),
                directory / RUN_FILE)


def relocalize(market_dir: str | Path, overrides: Sequence[LineOverride], *,
               progress: Progress | None = None) -> MarketResult:
    """Re-run one published market of one episode with reviewers' `overrides`, from its ``run.json``:
    only the edited lines are translated and synthesized again; the mix and the render follow."""
    market_dir = Path(market_dir)
    run_file = market_dir / RUN_FILE
    if not run_file.is_file():
        raise InputError(market_dir, f"has no {RUN_FILE}, so it is not a market folder `localize run` wrote",
                         "run the episode again with `localize run`")
    run = jsonio.load(RunRecord, run_file)
    market = market_dir.name
    options = replace(run.options, translations=tuple((tag, p) for tag, p in run.options.translations
                                                      if tag.lower() == market.lower()))  # this market's only
    # Published to the folder being reviewed, wherever it was copied or moved, never to the run's recorded out.
    result = _localize(run.source, [market], market_dir.parent.parent, options=options, progress=progress,
                       overrides={market: tuple(overrides)}, targets={market: market_dir.resolve()})
    return result.markets[0]


def transcribe(
    path: str | Path, *, options: RunOptions | None = None, cache_dir: str | Path | None = None,
    progress: Progress | None = None,
) -> Script:
    """The source script of a video or audio file: speech recognition cut into lines, fused with
    the burned-in subtitles, with speakers. `cache_dir` overrides ``options.cache_dir``."""
    options = options or RunOptions()
    if cache_dir is not None:
        options = replace(options, cache_dir=Path(cache_dir))
    source = open_source(path, need_video=False)
    store = ArtifactStore(options.cache_root())
    audio = extract_audio(source, store)
    return build_script(source, audio, store, options, progress).value


__all__ = ["Episode", "localize_episode", "prepare_episode", "relocalize", "transcribe"]
