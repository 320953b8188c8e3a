"""espeak-ng: every language, robotic; the last-resort voice (Debian espeak-ng)."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path
from xml.sax.saxutils import escape

from localize.core.errors import MissingToolError, ToolFailedError, UnknownNameError
from localize.core.media.ffmpeg import last_line
from localize.stages.voice.tts import SynthesizerBase


@functools.cache
def _voices() -> frozenset[str]:
    if shutil.which("espeak-ng") is None:
        raise MissingToolError("espeak-ng", "apt-get install espeak-ng")
    proc = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True, check=False)
    names = set()
    for row in proc.stdout.splitlines()[1:]:
        cols = row.split()
        if len(cols) >= 2:
            names.add(cols[1])
    return frozenset(names)


@functools.cache
def _files() -> dict[str, str]:
    """Language name -> voice file ("fr-fr" -> "roa/fr") where the file is named otherwise."""
    proc = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True, check=False)
    found = {}
    for row in proc.stdout.splitlines()[1:]:
        cols = row.split()
        if len(cols) >= 5 and cols[4].rpartition("/")[2].lower() != cols[1].lower():
            found[cols[1]] = cols[4]
    return found


def _argument(voice: str) -> str:
    """The -v argument for `voice`: espeak-ng 1.51 drops a variant given after a language name whose voice
    file is named otherwise ("fr-fr+f3" speaks at 99 Hz, "roa/fr+f3" at 200 Hz), so name the file there."""
    base, plus, variant = voice.partition("+")
    return f"{_files().get(base, base)}+{variant}" if plus else voice


@functools.cache
def _variants() -> frozenset[str]:
    """Variant names usable after '+': f1..f5, m1..m8 and named ones (from the files' names)."""
    proc = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True, check=False)
    return frozenset(col.removeprefix("!v/") for row in proc.stdout.splitlines()[1:] for col in row.split()
                     if col.startswith("!v/"))


class EspeakSynthesizer(SynthesizerBase):
    name = "espeak"
    clones = False  # `reference` is accepted and ignored
    # Takes `pitch_range`: the line's intonation range in percent of the voice's own (SSML prosody range).
    expressive = True

    def model_version(self, voice: str) -> str:
        proc = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=False)
        return f"{proc.stdout.split(' Data')[0].strip()}:{_argument(voice)}"  # the voice as spoken

    def default_voice(self, language: str) -> str | None:
        return language if language in _voices() else None

    def check(self, voice: str) -> None:
        """A language voice, optionally with a variant: "pt-br" or "pt-br+f3"."""
        base, _, variant = voice.partition("+")
        if base not in _voices():
            raise UnknownNameError("espeak-ng voice", base, _voices())
        if variant and variant not in _variants():
            raise UnknownNameError("espeak-ng variant", variant, _variants())

    def synthesize(self, text: str, voice: str, out: Path, *, reference: Path | None = None,
                   pitch_range: int = 100) -> None:
        argv = ["espeak-ng", "-b", "1", "-v", _argument(voice), "-w", str(out), "--stdin"]
        if pitch_range != 100:
            argv.insert(1, "-m")
            text = f'<speak><prosody range="{int(pitch_range)}%">{escape(text)}</prosody></speak>'
        proc = subprocess.run(argv, input=text.encode("utf-8"), capture_output=True, check=False)
        if proc.returncode != 0 or not out.is_file():
            raise ToolFailedError("espeak-ng", f"speaking with voice {voice}",
                                  last_line(proc.stderr.decode(errors="replace")))
