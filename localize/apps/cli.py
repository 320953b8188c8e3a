"""The `localize` command: a thin layer over the library."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

EXIT_USER_ERROR = 2


def _console(stderr: bool = False) -> Any:
    import os

    from rich.console import Console

    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = 200  # piped output: do not wrap tables at 80 columns
    return console


class RichProgress:
    """Draws the library's progress reports with rich, on stderr."""

    def __init__(self, *, eta: bool = False) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        console = _console(stderr=True)
        columns = [TimeElapsedColumn(), TimeRemainingColumn()] if eta else [TimeElapsedColumn()]
        # Bars only on a terminal: piped or captured output (CI logs, scripts) stays clean.
        self._bar = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             *columns, console=console, transient=False, disable=not console.is_terminal)

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def task(self, label: str, total: int | None = None) -> Any:
        bar, task_id = self._bar, self._bar.add_task(label, total=total)

        class _Task:
            def advance(self, n: int = 1) -> None:
                bar.advance(task_id, n)

            def done(self) -> None:
                bar.update(task_id, total=bar.tasks[task_id].total or 1, completed=bar.tasks[task_id].total or 1)

        return _Task()


def _user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """LocalizeError -> one line and exit 2; anything else -> traceback, it is our bug."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from localize.core.errors import LocalizeError

        try:
            return fn(*args, **kwargs)
        except LocalizeError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_USER_ERROR)
        except KeyboardInterrupt:
            click.echo("interrupted; finished stages are cached and a re-run resumes.", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # the one place that reports our bugs
            if _database_lost(exc):
                click.echo(f"error: the database stopped answering ({exc.__class__.__name__}: "
                           f"{str(getattr(exc, 'orig', exc)).strip().splitlines()[0]}); check the server, then "
                           "re-run: finished jobs and reviews are kept.", err=True)
                sys.exit(EXIT_USER_ERROR)
            traceback.print_exc()
            click.echo("error: this is a bug in localize; please report it with the traceback above.", err=True)
            sys.exit(1)

    return wrapper


def _database_lost(exc: BaseException) -> bool:
    """A database server that went away mid-run: the user's to fix, not a bug (the state is in the database)."""
    from sqlalchemy.exc import DisconnectionError, OperationalError

    return isinstance(exc, (OperationalError, DisconnectionError))


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    from rich.logging import RichHandler

    logging.basicConfig(level=level, format="%(name)s: %(message)s", handlers=[RichHandler(console=_console(True))])


def _asr_options(language: str | None, asr_model: str) -> Any:
    from localize import AsrOptions

    return AsrOptions(model=asr_model, language=language)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="localize")
@click.option("-v", "--verbose", count=True, help="Log what each stage does (-vv for debug).")
def main(verbose: int) -> None:
    """Localize microdrama episodes: transcribe, translate, dub, mix and render per market."""
    _setup_logging(verbose)


_common = [
    click.option("--language", help="Source language (ISO 639-1); detected when omitted."),
    click.option("--asr-backend", default="faster-whisper", show_default=True, help="Speech recognition backend."),
    click.option("--asr-model", default="base", show_default=True,
                 help="Whisper model: 'base' (packaged) or a local CTranslate2 model directory."),
    click.option("--source-subs", type=click.Path(path_type=Path),
                 help="Take the source script from this subtitle file instead of ASR."),
    click.option("--cache-dir", type=click.Path(path_type=Path),
                 help="Artifact cache (default: $LOCALIZE_CACHE_DIR or ~/.cache/localize/artifacts)."),
    click.option("--ocr", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
                 help="Read burned-in subtitles (auto: when the 'ocr' extra is installed)."),
    click.option("--speakers", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
                 help="Label who speaks each line (auto: when the 'speakers' extra is installed)."),
    click.option("--cast-size", type=click.IntRange(min=1), help="How many people speak, when known."),
    click.option("--cast", "cast_file", type=click.Path(path_type=Path),
                 help="Series cast file (JSON): the same characters across episodes; created when missing."),
    click.option("--series", default="", help="The series the cast belongs to (default: the cast file's folder)."),
]


def _understanding(language: str | None, asr_backend: str, asr_model: str, source_subs: Path | None,
                   cache_dir: Path | None, ocr: str, speakers: str, cast_size: int | None, cast_file: Path | None,
                   series: str) -> dict[str, Any]:
    """RunOptions fields from the options `run` and `transcribe` share."""
    return {"asr_backend": asr_backend, "asr": _asr_options(language, asr_model), "source_subs": source_subs,
            "cache_dir": cache_dir, "ocr": ocr, "speakers": speakers, "n_speakers": cast_size,
            "cast_file": cast_file, "series": series}


def _with(options: list[Callable[..., Any]]) -> Callable[..., Any]:
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        for opt in reversed(options):
            fn = opt(fn)
        return fn

    return deco


def _pairs(values: tuple[str, ...], option: str, form: str, example: str) -> list[tuple[str, str]]:
    """SPEAKER=VALUE pairs of a repeated option, or a BadParameter naming it."""
    pairs = []
    for value in values:
        speaker, sep, rest = value.partition("=")
        if not sep or not speaker.strip() or not rest:
            raise click.BadParameter(f"{value!r}: expected {form}, e.g. {example}", param_hint=option)
        pairs.append((speaker.strip(), rest))
    return pairs


def _parse_references(values: tuple[str, ...]) -> tuple[tuple[str, Path], ...]:
    """SPEAKER=CLIP pairs, each clip checked (an audio file of 3-30 s) before any work starts."""
    from localize import check_reference

    return tuple((who, check_reference(clip)) for who, clip in _pairs(values, "--reference", "SPEAKER=CLIP",
                                                                             "SPEAKER_00=ana.wav"))


def _parse_consents(values: tuple[str, ...]) -> tuple[tuple[str, Path], ...]:
    """SPEAKER=RECORD pairs: a voice consent record per cloned character (checked by the run before any work)."""
    return tuple((who, Path(record))
                 for who, record in _pairs(values, "--voice-consent", "SPEAKER=RECORD",
                                                           "SPEAKER_00=consent/ana.toml"))


def _parse_translations(values: tuple[str, ...]) -> tuple[tuple[str, Path], ...]:
    pairs = []
    for value in values:
        tag, sep, file = value.partition("=")
        if not sep or not tag or not file:
            raise click.BadParameter(f"{value!r}: expected MARKET=FILE, e.g. pt-BR=ep01.pt.srt",
                                     param_hint="--translation")
        pairs.append((tag, Path(file)))
    return tuple(pairs)


@main.command()
@click.argument("episode", type=click.Path(path_type=Path))
@click.option("-m", "--market", "markets", multiple=True, required=True, help="Market tag (repeatable), e.g. pt-BR.")
@click.option("-o", "--out", type=click.Path(path_type=Path), default=Path("out"), show_default=True)
@click.option("--markets-file", multiple=True, type=click.Path(path_type=Path), help="Your own markets (TOML).")
@click.option("--translation", multiple=True, metavar="MARKET=FILE", help="Human translation subtitles for a market.")
@click.option("--translate-backend", help="Use this translation backend for every market.")
@click.option("--bible", "bible_file", type=click.Path(path_type=Path),
              help="Series bible (TOML/JSON): synopsis, character names per language, glossary.")
@click.option("--tm", "tm_file", type=click.Path(path_type=Path),
              help="Translation memory (SQLite): approved lines are reused for (near-)identical sources.")
@click.option("--tts-backend", help="Use this TTS backend for every market.")
@click.option("--separation", type=click.Choice(["on", "off"]), default="on", show_default=True,
              help="Separate the original's dialogue from its music and effects before dubbing over them.")
@click.option("--reference", "references", multiple=True, metavar="SPEAKER=CLIP",
              help="A voice-cloning backend speaks SPEAKER (id or cast name) like CLIP (3-30 s), not like "
                   "their own cleanest lines (repeatable).")
@click.option("--voice-consent", "voice_consent", multiple=True, metavar="SPEAKER=RECORD",
              help="The consent record (TOML/JSON) of SPEAKER (id or cast name) to have their voice cloned; a "
                   "cloning TTS backend is refused without one per cloned character (repeatable).")
@click.option("--commercial", is_flag=True,
              help="A commercial release: refuse any backend whose model weights forbid commercial use.")
@click.option("--c2pa-cert", type=click.Path(path_type=Path),
              help="Sign each render with a C2PA manifest: your certificate chain (PEM, signing certificate first). "
                   "Default: $LOCALIZE_C2PA_CERT.")
@click.option("--c2pa-key", type=click.Path(path_type=Path),
              help="The private key (PEM) of --c2pa-cert. Default: $LOCALIZE_C2PA_KEY.")
@_with(_common)
@_user_errors
def run(episode: Path, markets: tuple[str, ...], out: Path, markets_file: tuple[Path, ...],
        translation: tuple[str, ...], translate_backend: str | None, bible_file: Path | None, tm_file: Path | None,
        tts_backend: str | None, separation: str, references: tuple[str, ...], voice_consent: tuple[str, ...],
        commercial: bool, c2pa_cert: Path | None, c2pa_key: Path | None, **understanding: Any) -> None:
    """Localize EPISODE into each --market; write OUT/<episode>/<market>/."""
    from localize import Credentials, localize_episode
    from localize.core.options import RunOptions

    if bool(c2pa_cert) != bool(c2pa_key):
        raise click.UsageError("--c2pa-cert and --c2pa-key go together: pass both, or neither.")
    options = RunOptions(translations=_parse_translations(translation), markets_files=markets_file,
                         translate_backend=translate_backend, bible_file=bible_file, tm_file=tm_file,
                         tts_backend=tts_backend, separation=separation, references=_parse_references(references),
                         voice_consent=_parse_consents(voice_consent), commercial=commercial,
                         c2pa=Credentials(cert=c2pa_cert, key=c2pa_key) if c2pa_cert and c2pa_key else None,
                         **_understanding(**understanding))
    with RichProgress() as progress:
        result = localize_episode(episode, markets, out, options=options, progress=progress)
    console = _console()
    console.print(f"[bold]{result.episode}[/bold]: transcript {result.transcript}")
    for m in result.markets:
        loud = m.report.loudness
        over = sum(1 for ln in m.report.lines if ln.overflow_ms)
        console.print(f"  {m.market}: {m.video}")
        console.print(f"    {len(m.report.lines)} lines, {over} over their slot; loudness "
                      f"{loud.integrated_lufs:.1f} LUFS (target {loud.target_lufs:.1f}), true peak "
                      f"{loud.true_peak_dbtp:.1f} dBTP; report {m.report_html}")


@main.command()
@click.argument("episode", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True,
              help="script.json, or .srt/.vtt/.ass for subtitles of the source lines.")
@_with(_common)
@_user_errors
def transcribe(episode: Path, out: Path, **understanding: Any) -> None:
    """Transcribe EPISODE into a timed, speaker-labelled script (speech fused with burned-in subtitles)."""
    import localize

    options = localize.RunOptions(**_understanding(**understanding))
    with RichProgress() as progress:
        script = localize.transcribe(episode, options=options, progress=progress)
    localize.save_script(script, out)
    speakers = len({ln.speaker for ln in script.lines})
    origins = ", ".join(f"{o} {sum(ln.origin == o for ln in script.lines)}"
                        for o in sorted({ln.origin for ln in script.lines}))
    _console().print(f"{len(script.lines)} lines ({script.language}; {origins}; {speakers} speakers) -> {out}")


def _auto_tts(language: str) -> list[str]:
    """What a market's tts = ["auto"] stands for in `language`, as the voice stage expands it
    (casting.auto_backends, read here from its data file since apps do not import stages): the backends
    measured in voices.toml, lowest error first (espeak-ng last on a tie), and espeak-ng always, last."""
    import tomllib

    path = Path(__file__).resolve().parents[1] / "stages" / "voice" / "voices.toml"
    rows = tomllib.loads(path.read_text(encoding="utf-8")).get(language, {}) if path.is_file() else {}
    errors: dict[str, float] = {}
    for key, row in sorted(rows.items(), key=lambda kv: (float(kv[1]["error"]), kv[0].partition(":")[0], kv[0])):
        errors.setdefault(key.partition(":")[0], float(row["error"]))
    order = sorted(errors, key=lambda b: (errors[b], b == "espeak", b))
    return order if "espeak" in order else [*order, "espeak"]


@main.command()
@click.option("--markets-file", multiple=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_user_errors
def markets(markets_file: tuple[Path, ...], as_json: bool) -> None:
    """List the markets: built-in and from --markets-file."""
    from rich.markup import escape
    from rich.table import Table

    from localize.core.markets import load_markets

    if as_json:
        import msgspec

        found = load_markets(*markets_file)
        click.echo(msgspec.json.format(msgspec.json.encode(found), indent=2).decode())
        return

    table = Table("tag", "name", "language", "translation", "tts (voice)", "loudness", "AI label")
    for tag, m in sorted(load_markets(*markets_file).items()):
        def said(backends: list[str], m: Any = m) -> str:
            return ", ".join(f"{b} ({m.voices[b]})" if b in m.voices else b for b in backends)

        voices = ", ".join(f"auto: {said(_auto_tts(m.language))}" if b == "auto" else said([b]) for b in m.tts) \
            if m.dub else "no dub (original voices)"
        label = m.ai_label.text + ("" if m.ai_label.visible else " (metadata only)")
        table.add_row(tag, escape(m.name), m.language, ", ".join(m.translation), escape(voices),
                      f"{m.loudness.integrated_lufs:g} LUFS / {m.loudness.true_peak_dbtp:g} dBTP", escape(label))
    _console().print(table)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_user_errors
def backends(as_json: bool) -> None:
    """List every backend, whether it runs here, and what it needs."""
    from rich.markup import escape
    from rich.table import Table

    from localize import backend_status

    if as_json:
        import json
        from dataclasses import asdict

        click.echo(json.dumps([asdict(b) for b in backend_status()], indent=2))
        return

    from rich.table import Column

    table = Table(Column("stage", no_wrap=True), Column("backend", no_wrap=True), "here", "detail", "install",
                  "licence", "commercial")  # names whole on a narrow terminal or in a pipe: they are typed back
    allowed = {True: "yes", False: "[red]no[/red]", None: "its terms"}
    for b in backend_status():
        table.add_row(b.stage, b.name, "[green]yes[/green]" if b.available else "[red]no[/red]", escape(b.detail),
                      escape(b.install), escape(b.licence), allowed[b.commercial])
    _console().print(table)


@main.group()
def cast() -> None:
    """Show and edit a series cast file (characters kept across episodes)."""


@cast.command("show")
@click.argument("cast_file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@_user_errors
def cast_show(cast_file: Path) -> None:
    """List the characters of CAST_FILE."""
    from rich.markup import escape
    from rich.table import Table

    from localize import CastRegistry

    registry = CastRegistry.load(cast_file, _series_of(cast_file))
    table = Table("id", "name", "lines", "episodes", "voices", "reference")
    for c in registry.characters:
        table.add_row(c.id, escape(c.name), str(c.lines), ", ".join(c.episodes),
                      escape(", ".join(f"{b}: {v}" for b, v in sorted(c.voices.items()))),
                      escape(c.reference or "automatic"))
    _console().print(table)


@cast.command("rename")
@click.argument("cast_file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("character")
@click.argument("name")
@_user_errors
def cast_rename(cast_file: Path, character: str, name: str) -> None:
    """Give CHARACTER (an id such as C01) a NAME."""
    from localize import CastRegistry

    registry = CastRegistry.load(cast_file, _series_of(cast_file))
    registry.rename(character, name)
    registry.save()
    _console().print(f"{character} is now {name!r} in {cast_file}")


@cast.command("voice")
@click.argument("cast_file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("character")
@click.argument("backend")
@click.argument("voice")
@_user_errors
def cast_voice(cast_file: Path, character: str, backend: str, voice: str) -> None:
    """Choose the VOICE a TTS BACKEND uses for CHARACTER in every episode."""
    from localize import CastRegistry

    registry = CastRegistry.load(cast_file, _series_of(cast_file))
    registry.set_voice(character, backend, voice)
    registry.set_voice(character, f"{backend}@pitch", "")  # measured again for the new voice
    registry.save()
    _console().print(f"{character} speaks with {backend}:{voice}")


@cast.command("reference")
@click.argument("cast_file", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.argument("character")
@click.argument("clip", type=click.Path(path_type=Path), required=False)
@click.option("--clear", is_flag=True, help="Go back to the automatic choice of the character's cleanest lines.")
@_user_errors
def cast_reference(cast_file: Path, character: str, clip: Path | None, clear: bool) -> None:
    """A voice-cloning backend speaks CHARACTER like CLIP (3-30 s of their voice) in every episode."""
    from localize import CastRegistry

    if (clip is None) == (not clear):
        raise click.UsageError("give either a CLIP or --clear.")
    registry = CastRegistry.load(cast_file, _series_of(cast_file))
    new = registry.set_reference(character, None if clear else clip)
    registry.save()
    _console().print(f"{character} is cloned from {new.reference or 'their own cleanest lines'}")


def _series_of(cast_file: Path) -> str:
    from localize.core import jsonio
    from localize.core.artifacts import Cast
    from localize.core.errors import LocalizeError

    try:
        return jsonio.load(Cast, cast_file).series
    except (OSError, LocalizeError):
        return cast_file.parent.name


@main.group()
def tm() -> None:
    """Keep approved translations for reuse across the catalog."""


@tm.command("import")
@click.argument("tm_file", type=click.Path(path_type=Path))
@click.argument("scripts", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@_user_errors
def tm_import(tm_file: Path, scripts: tuple[Path, ...]) -> None:
    """Approve every line of reviewed market SCRIPTS (out/<episode>/<market>/script.json) into TM_FILE."""
    from localize import TranslationMemory

    with TranslationMemory(tm_file) as memory:
        for script in scripts:
            count = memory.import_script(script)
            _console().print(f"{script}: {count} lines approved")
        totals = memory.count()
    _console().print(f"{tm_file}: " + ", ".join(f"{pair} {n}" for pair, n in sorted(totals.items())))


@main.command()
@click.argument("catalog_file", type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), default=Path("out"), show_default=True,
              help="Outputs in OUT/<series>/<episode>/<market>/, the database and events.jsonl.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="A local process pool, or a Ray cluster.")
@click.option("--address", help="Ray cluster address (with --executor ray); default: a local Ray instance.")
@click.option("--workers", type=click.IntRange(min=1), help="Parallel jobs (default: cores, bounded by memory).")
@click.option("--db", help="Database URL (default: sqlite:///OUT/localize.db; postgresql+psycopg://... for teams).")
@click.option("--cache-dir", type=click.Path(path_type=Path),
              help="Artifact cache (default: $LOCALIZE_CACHE_DIR or ~/.cache/localize/artifacts).")
@click.option("--retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="Retries of a failed job, with exponential backoff.")
@_user_errors
def batch(catalog_file: Path, out: Path, executor: str, address: str | None, workers: int | None, db: str | None,
          cache_dir: Path | None, retries: int) -> None:
    """Localize every episode of CATALOG_FILE into its series' markets; a re-run does only what is missing or stale."""
    from localize.apps.catalog import Catalog

    catalog = Catalog.load(catalog_file)
    with RichProgress(eta=True) as progress:
        result = catalog.run(out, executor=executor, workers=workers, address=address, db=db, cache_dir=cache_dir,
                             retries=retries, progress=progress)
    console = _console()
    console.print(f"{result.jobs} jobs: {result.ran} run, {result.skipped} already done, {len(result.failed)} failed, "
                  f"{len(result.blocked)} blocked ({result.seconds:.0f} s); outputs in {out}")
    for f in result.failed:
        console.print(f"  [red]failed[/red] {f.job} after {f.attempts} attempts: {f.error}")
    if not result.ok:
        click.echo(f"error: {len(result.failed)} jobs failed and {len(result.blocked)} were blocked; "
                   f"see `localize status --out {out}`, fix and re-run.", err=True)
        sys.exit(1)


@main.command()
@click.option("-o", "--out", type=click.Path(path_type=Path), default=Path("out"), show_default=True,
              help="The batch's output folder (its localize.db).")
@click.option("--db", help="Database URL instead of OUT/localize.db.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@_user_errors
def status(out: Path, db: str | None, as_json: bool) -> None:
    """Progress of a batch per series and market, and its failed jobs with their errors."""
    from rich.markup import escape
    from rich.table import Table

    from localize.apps.catalog import status as catalog_status

    if db is None and not (out / "localize.db").is_file():
        raise click.BadParameter(f"{out / 'localize.db'} does not exist; pass the batch's --out or --db.",
                                 param_hint="--out")
    found = catalog_status(out, db=db)
    if as_json:
        import json
        from dataclasses import asdict

        click.echo(json.dumps({"stages": [asdict(s) for s in found.stages],
                               "failures": [asdict(f) for f in found.failures], "blocked": list(found.blocked),
                               "complete": found.complete, "running_batch": found.running_batch}, indent=2))
        return
    table = Table("series", "stage", "done", "running", "pending", "failed", "blocked")
    for s in found.stages:
        table.add_row(escape(s.series), escape(s.stage), f"{s.done}/{s.total}", str(s.running), str(s.pending),
                      f"[red]{s.failed}[/red]" if s.failed else "0", str(s.blocked))
    console = _console()
    console.print(table)
    console.print(f"running now: {escape(found.running_batch)}" if found.running_batch else "no batch is running")
    for f in found.failures:
        console.print(f"[red]failed[/red] {escape(f.job)} ({f.attempts} attempts): {escape(f.error)}")


_review_options = [
    click.option("--host", default="127.0.0.1", show_default=True,
                 help="Address to listen on (local only by default; beyond loopback needs tokens and --public-url)."),
    click.option("--port", type=click.IntRange(1, 65535), default=8765, show_default=True),
    click.option("--db", help="Review database URL (default: sqlite:///OUT/localize.db, shared with the catalog)."),
    click.option("--no-auth", is_flag=True,
                 help="No tokens: you alone review on this machine (loopback only); actions are recorded as "
                      "--reviewer."),
    click.option("--reviewer", "local_name", help="With --no-auth: the name actions are recorded under "
                                                  "(default: your login name)."),
    click.option("--public-url", help="The address reviewers open (e.g. https://review.example.com, behind a "
                                      "TLS proxy); its host is the only one accepted besides loopback."),
    click.option("--trust-proxy", is_flag=True,
                 help="Read X-Forwarded-For/-Proto, from --forwarded-allow-ips only (a reverse proxy)."),
    click.option("--forwarded-allow-ips", default="127.0.0.1", show_default=True,
                 help="With --trust-proxy: the proxy addresses whose X-Forwarded-* headers are believed."),
]


def _serve_review(out: Path, market_dir: Path | None, url: str, host: str, port: int, db: str | None, no_auth: bool,
                  local_name: str | None, public_url: str | None, trust_proxy: bool, forwarded_allow_ips: str) -> None:
    import getpass

    from localize.apps.review.server import check_listen
    from localize.apps.review.server import serve as run_server
    from localize.apps.review.store import ReviewStore
    from localize.core.errors import ConfigError

    if local_name and not no_auth:
        raise ConfigError("--reviewer names the local reviewer of --no-auth; with tokens, each reviewer signs in.")
    local = (local_name or getpass.getuser()) if no_auth else None
    check_listen(host, local_reviewer=local, public_url=public_url)
    base = (public_url or f"http://{host}:{port}").rstrip("/")
    mode = f"no tokens, every action is {local}'s" if local else "reviewers sign in with their tokens"
    _console().print(f"{base}{url}  ({mode}; Ctrl+C to stop)")
    run_server(out, host=host, port=port, market_dir=market_dir, store=ReviewStore(db) if db else None,
               local_reviewer=local, public_url=public_url, trust_proxy=trust_proxy,
               forwarded_allow_ips=forwarded_allow_ips)


@main.command()
@click.argument("market_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@_with(_review_options)
@_user_errors
def review(market_dir: Path, **options: Any) -> None:
    """Serve the QA review page of one MARKET_DIR (OUT/<episode>/<market>) on a local web server."""
    from localize.apps.review.market import load_report, market_key, out_of

    load_report(market_dir)
    out = out_of(market_dir)
    key = "/".join(market_key(market_dir, out))
    _serve_review(out, market_dir, f"/review/{key}", **options)


@main.command()
@click.argument("out_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@_with(_review_options)
@_user_errors
def serve(out_dir: Path, **options: Any) -> None:
    """Serve the QA review pages of every episode and market under OUT_DIR."""
    from localize.apps.review.market import find_markets

    _console().print(f"{len(find_markets(out_dir))} markets under {out_dir}")
    _serve_review(out_dir, None, "/", **options)


def _review_store(out: Path | None, db: str | None) -> Any:
    from localize.apps.review.store import ReviewStore
    from localize.core.errors import ConfigError

    if db:
        return ReviewStore(db)
    if out is None:
        raise ConfigError("name the review database: --out OUT (its localize.db) or --db URL.")
    return ReviewStore.for_out(out)


_reviewer_db = [
    click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False),
                 help="The output folder whose localize.db holds the reviewers."),
    click.option("--db", help="Review database URL (instead of --out)."),
]


@main.group()
def reviewer() -> None:
    """Reviewer tokens for the review server: add, list, revoke."""


@reviewer.command("add")
@click.argument("name")
@click.option("--markets", required=True, help="The market tags they review, comma-separated: en-US,pt-BR.")
@click.option("--lead", is_flag=True, help="A lead reviewer: may also sign a market off.")
@_with(_reviewer_db)
@_user_errors
def reviewer_add(name: str, markets: str, lead: bool, out_dir: Path | None, db: str | None) -> None:
    """Add reviewer NAME and print their token (shown once; only its hash is stored)."""
    with _review_store(out_dir, db) as store:
        added, token = store.add_reviewer(name, markets.split(","), lead=lead)
    click.echo(f"reviewer {added.name}: {', '.join(added.markets)}{' (lead)' if added.lead else ''}")
    click.echo(f"token (shown once; send it privately): {token}")
    click.echo(f"sign-in link: <public URL>/login#{token}")


@reviewer.command("list")
@click.option("--all", "show_all", is_flag=True, help="Also the revoked ones.")
@_with(_reviewer_db)
@_user_errors
def reviewer_list(show_all: bool, out_dir: Path | None, db: str | None) -> None:
    """The reviewers, their markets and roles (tokens are never shown again)."""
    with _review_store(out_dir, db) as store:
        found = store.reviewers(revoked=show_all)
    for r in found:
        state = " revoked" if r.revoked else ""
        click.echo(f"{r.name}\t{','.join(r.markets)}\t{'lead' if r.lead else 'reviewer'}\t{r.created_at}{state}")
    if not found:
        click.echo("no reviewers; add one with `localize reviewer add NAME --markets TAGS --out OUT`.")


@reviewer.command("revoke")
@click.argument("name")
@_with(_reviewer_db)
@_user_errors
def reviewer_revoke(name: str, out_dir: Path | None, db: str | None) -> None:
    """Revoke NAME's token at once (their open sessions end on their next request)."""
    from localize.core.errors import ConfigError

    with _review_store(out_dir, db) as store:
        if not store.revoke_reviewer(name):
            raise ConfigError(f"no active reviewer named {name!r}; see `localize reviewer list`.")
    click.echo(f"revoked {name}")


@main.command()
@click.argument("out_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--to", "to", type=click.Path(path_type=Path), required=True, help="Folder for the deliverables.")
@click.option("--include-unsigned", is_flag=True,
              help="Also copy markets not signed off, or whose render changed after the sign-off.")
@click.option("--db", help="Review database URL (default: sqlite:///OUT_DIR/localize.db).")
@_user_errors
def export(out_dir: Path, to: Path, include_unsigned: bool, db: str | None) -> None:
    """Copy the signed-off deliverables under OUT_DIR to --to, with qa_summary.csv and qa_summary.json."""
    from localize.apps.review.export import export as run_export
    from localize.apps.review.store import ReviewStore

    store = ReviewStore(db) if db else None
    try:
        result = run_export(out_dir, to, store=store, include_unsigned=include_unsigned)
    finally:
        if store is not None:
            store.close()
    console = _console()
    for r in result.rows:
        state = "exported" if r.exported else "skipped (not signed off)"
        console.print(f"  {r.episode}/{r.market}: {state}; {r.lines} lines, {r.approved} approved, {r.edited} edited, "
                      f"{r.issues} issues")
    console.print(f"{len(result.exported)} of {len(result.rows)} markets -> {result.directory}; "
                  f"summary {result.summary_csv}")
