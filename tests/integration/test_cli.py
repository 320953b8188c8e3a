"""The `localize` command as a user runs it: real subprocesses, real files, exit codes, messages."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pysubs2
import pytest

from tests.conftest import SAMPLE, shared_media

pytestmark = pytest.mark.integration


def localize_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "localize", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def assert_user_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def assert_nothing_complete(out: Path) -> None:
    for name in ("video.mp4", "report.json", "subtitles.srt"):
        assert not list(out.rglob(name)), f"{name} written despite the error"


def ffmpeg(*args: str | Path) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True)


def test_missing_file(tmp_path: Path) -> None:
    proc = localize_cli("run", tmp_path / "nope.mp4", "-m", "pt-BR", "-o", tmp_path / "out")
    assert_user_error(proc, "nope.mp4", "no such file")
    assert_nothing_complete(tmp_path)


def test_not_a_media_file(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("these are my notes, not a video\n")
    proc = localize_cli("run", fake, "-m", "pt-BR", "-o", tmp_path / "out")
    assert_user_error(proc, "notes.mp4", "not a media file")
    assert fake.read_text() == "these are my notes, not a video\n"  # the user's file is untouched
    assert_nothing_complete(tmp_path)


def test_video_without_audio(tmp_path: Path) -> None:
    silent = tmp_path / "noaudio.mp4"
    ffmpeg("-i", SAMPLE, "-an", "-c:v", "copy", silent)
    proc = localize_cli("run", silent, "-m", "pt-BR", "-o", tmp_path / "out")
    assert_user_error(proc, "noaudio.mp4", "no audio track")
    assert_nothing_complete(tmp_path / "out")


def test_audio_only_file_cannot_be_rendered(tmp_path: Path) -> None:
    wav = tmp_path / "speech.wav"
    ffmpeg("-i", SAMPLE, "-vn", wav)
    assert_user_error(localize_cli("run", wav, "-m", "pt-BR", "-o", tmp_path / "out"), "speech.wav", "no video stream")


def test_silence_gets_a_clear_error(tmp_path: Path) -> None:
    quiet = tmp_path / "quiet.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=160x284:d=3", "-f", "lavfi", "-i", "anullsrc=r=48000:cl=stereo",
           "-t", "3", "-c:v", "libx264", "-c:a", "aac", "-shortest", quiet)
    proc = localize_cli("run", quiet, "-m", "pt-BR", "-o", tmp_path / "out")
    assert_user_error(proc, "quiet.mp4", "no speech found", "--source-subs")
    assert_nothing_complete(tmp_path / "out")


MUSIC = Path("/usr/share/asterisk/moh/macroform-cold_day.wav")  # Debian asterisk-moh-opsound-wav, CC BY-SA 3.0


@pytest.mark.skipif(not MUSIC.exists(), reason="Debian package asterisk-moh-opsound-wav is not installed")
def test_music_only_gets_a_clear_error(tmp_path: Path) -> None:
    video = tmp_path / "music.mp4"
    ffmpeg("-f", "lavfi", "-i", "color=c=gray:s=160x284:d=12", "-ss", "20", "-t", "12", "-i", MUSIC,
           "-c:v", "libx264", "-c:a", "aac", "-shortest", video)
    proc = localize_cli("run", video, "-m", "pt-BR", "-o", tmp_path / "out")
    assert_user_error(proc, "music.mp4", "no speech found")
    assert_nothing_complete(tmp_path / "out")


def test_forced_language_the_speech_is_not_in(tmp_path: Path) -> None:
    proc = localize_cli("transcribe", SAMPLE, "--language", "zh", "--out", tmp_path / "s.json",
                        "--cache-dir", tmp_path / "c")
    assert_user_error(proc, "--language zh was forced", "sounds like es")
    assert not (tmp_path / "s.json").exists()


def test_unknown_market(tmp_path: Path) -> None:
    proc = localize_cli("run", SAMPLE, "-m", "xx-YY", "-o", tmp_path / "out")
    assert_user_error(proc, "unknown market 'xx-YY'", "pt-BR", "--markets-file")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("flag,name,kind", [
    ("--translate-backend", "babelfish", "translate backend"),
    ("--tts-backend", "hal9000", "tts backend"),
    ("--asr-backend", "hal9000", "asr backend"),
])
def test_unknown_backend(tmp_path: Path, flag: str, name: str, kind: str) -> None:
    proc = localize_cli("run", SAMPLE, "-m", "pt-BR", flag, name, "-o", tmp_path / "out")
    assert_user_error(proc, f"unknown {kind} '{name}'", "known:")
    assert_nothing_complete(tmp_path / "out")


@pytest.mark.skipif(importlib.util.find_spec("whisperx") is not None, reason="the whisperx extra is installed here")
def test_missing_extra_names_the_install_command(tmp_path: Path) -> None:
    proc = localize_cli("run", SAMPLE, "-m", "pt-BR", "--asr-backend", "whisperx", "-o", tmp_path / "out")
    assert_user_error(proc, "whisperx", "pip install 'localize[whisperx]'")
    assert_nothing_complete(tmp_path / "out")


def test_malformed_source_subtitles(tmp_path: Path) -> None:
    bad = tmp_path / "broken.srt"
    bad.write_text("1\nthis is not a timestamp\nhello\n")
    proc = localize_cli("run", SAMPLE, "-m", "pt-BR", "--source-subs", bad, "--language", "es",
                        "-o", tmp_path / "out")
    assert_user_error(proc, "broken.srt")
    assert_nothing_complete(tmp_path / "out")


def test_bad_markets_file(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text('[fr-FR]\nname = "France"\nlanguage = "fr"\nloudnes = -14\n')
    proc = localize_cli("markets", "--markets-file", mine)
    assert_user_error(proc, "mine.toml", "fr-FR", "loudnes")


def test_markets_lists_builtins_and_user_markets(tmp_path: Path) -> None:
    mine = tmp_path / "mine.toml"
    mine.write_text('[fr-FR]\nname = "France (French)"\nlanguage = "fr"\ntts = ["espeak"]\n'
                    'voices = { espeak = "fr-fr" }\nai_label = { text = "Doublage IA", visible = false }\n')
    proc = localize_cli("markets", "--markets-file", mine)
    assert proc.returncode == 0, proc.stderr
    for tag in ("en-US", "pt-BR", "es-ES", "es-MX", "ca-ES", "zh-CN", "fr-FR"):
        assert tag in proc.stdout


def test_backends_lists_what_runs_here() -> None:
    proc = localize_cli("backends")
    assert proc.returncode == 0, proc.stderr
    for name in ("faster-whisper", "whisperx", "bergamot", "apertium", "openai", "piper", "espeak"):
        assert name in proc.stdout
    rows = {(b["stage"], b["name"]): b for b in json.loads(localize_cli("backends", "--json").stdout)}
    for embedded in (("asr", "faster-whisper"), ("translate", "bergamot"), ("translate", "apertium"),
                     ("tts", "piper"), ("tts", "espeak")):
        assert rows[embedded]["available"], rows[embedded]
    assert "es-en" in rows[("translate", "apertium")]["detail"]
    assert rows[("asr", "whisperx")]["install"] == "pip install 'localize[whisperx]'"


def test_transcribe_writes_script_and_subtitles(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    proc = localize_cli("transcribe", SAMPLE, "--out", script, "--cache-dir", tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(script.read_text())
    assert data["language"] == "es" and data["backend"] == "faster-whisper"
    assert len(data["lines"]) >= 2
    for line in data["lines"]:
        assert line["words"] and line["words"][0]["start_ms"] == line["start_ms"]
        assert line["words"][-1]["end_ms"] == line["end_ms"]
    assert "colegio" in " ".join(ln["text"] for ln in data["lines"])
    srt = tmp_path / "script.srt"
    assert localize_cli("transcribe", SAMPLE, "--out", srt, "--cache-dir", tmp_path / "cache").returncode == 0
    # the script's times, at the centiseconds every subtitle format is written in
    assert [e.start for e in pysubs2.load(str(srt))] == [(ln["start_ms"] + 5) // 10 * 10 for ln in data["lines"]]


def test_transcribe_real_english_speech(tmp_path: Path) -> None:
    import jiwer

    jfk = shared_media("speech/en/jfk.flac")
    script = tmp_path / "jfk.json"
    assert localize_cli("transcribe", jfk, "--out", script, "--cache-dir", tmp_path / "c").returncode == 0
    hyp = " ".join(ln["text"] for ln in json.loads(script.read_text())["lines"])
    ref = "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
    norm = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(),
                          jiwer.Strip(), jiwer.ReduceToListOfListOfWords()])
    assert jiwer.wer(ref, hyp, reference_transform=norm, hypothesis_transform=norm) <= 0.1


def test_killed_run_resumes_and_leaves_nothing_that_looks_done(tmp_path: Path) -> None:
    """SIGKILL the CLI mid-run, then re-run: finished stages are reused, outputs complete."""
    import signal
    import time

    out = tmp_path / "out"
    cache = Path(os.environ["LOCALIZE_CACHE_DIR"])  # the default cache (tests/conftest.py gives each test its own)
    argv = [sys.executable, "-m", "localize", "run", str(SAMPLE), "-m", "en-US", "-m", "pt-BR", "-o", str(out)]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and not list((cache / "script").glob("*/*/script.json")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list((cache / "script").glob("*/*/script.json")), "transcript never finished"
    assert not (out / "episode" / "pt-BR" / "video.mp4").exists()
    for stage_dir in cache.glob("*/*/*"):
        if not stage_dir.name.startswith("."):
            assert any(stage_dir.iterdir()), f"empty artifact {stage_dir}"

    from localize import localize_episode
    from localize.core.options import RunOptions
    from tests.conftest import RecordingProgress

    progress = RecordingProgress()
    result = localize_episode(SAMPLE, markets=["en-US", "pt-BR"], out=out, options=RunOptions(), progress=progress)
    assert "transcribe" not in progress.labels
    assert all(Path(m.video).is_file() for m in result.markets)
    # temp artifacts of the killed run may remain as dot-dirs, never as finished artifacts
    for stage_dir in cache.glob("*/*/*"):
        if not stage_dir.name.startswith("."):
            assert any(stage_dir.iterdir())


def test_reviewed_lines_are_reused_from_the_translation_memory(tmp_path: Path) -> None:
    out, memory = tmp_path / "out", tmp_path / "tm.sqlite"
    first = localize_cli("run", SAMPLE, "-m", "pt-BR", "-o", out, "--speakers", "off")
    assert first.returncode == 0, first.stderr
    script = out / "episode" / "pt-BR" / "script.json"
    data = json.loads(script.read_text())
    data["lines"][0]["target_text"] = "Reciclo sólidos ou embalagens que vocês viram na escola."  # the reviewer's edit
    script.write_text(json.dumps(data, ensure_ascii=False))
    imported = localize_cli("tm", "import", memory, script)
    assert imported.returncode == 0 and f"{len(data['lines'])} lines approved" in imported.stdout

    again = localize_cli("run", SAMPLE, "-m", "pt-BR", "-o", tmp_path / "out2", "--tm", memory, "--speakers", "off",
                         "--cache-dir", os.environ["LOCALIZE_CACHE_DIR"])
    assert again.returncode == 0, again.stderr
    report = json.loads((tmp_path / "out2" / "episode" / "pt-BR" / "report.json").read_text())
    assert report["lines"][0]["target_text"] == "Reciclo sólidos ou embalagens que vocês viram na escola."
    assert all(ln["route"] == ["tm"] and "tm" in ln["flags"] for ln in report["lines"])


def test_a_character_keeps_its_voice_across_episodes_through_the_cast(tmp_path: Path) -> None:
    cast = tmp_path / "series" / "cast.json"
    # espeak-ng alone (pt-BR's "auto" leads with Kokoro): its variants are what this test reads back
    first = localize_cli("run", SAMPLE, "-m", "pt-BR", "-o", tmp_path / "ep1", "--cast", cast, "--tts-backend", "espeak")
    assert first.returncode == 0, first.stderr
    stored = {c["id"]: c["voices"].get("espeak") for c in json.loads(cast.read_text())["characters"]}
    assert stored and all(v and v.startswith("pt-br+") for v in stored.values())
    report = json.loads((tmp_path / "ep1" / "episode" / "pt-BR" / "report.json").read_text())
    assert {ln["voice"] for ln in report["lines"]} <= set(stored.values())
    # The user changes one character's voice; the next episode (same voices) uses it.
    character = sorted(stored)[0]
    assert localize_cli("cast", "voice", cast, character, "espeak", "pt-br+m7").returncode == 0
    second = localize_cli("run", SAMPLE, "-m", "pt-BR", "-o", tmp_path / "ep2", "--cast", cast, "--tts-backend",
                          "espeak")
    assert second.returncode == 0, second.stderr
    report = json.loads((tmp_path / "ep2" / "episode" / "pt-BR" / "report.json").read_text())
    assert {ln["voice"] for ln in report["lines"] if ln["speaker"] == character} == {"pt-br+m7"}
    # The pitch ratio the cast learned in episode 1 is reused as it is for the characters kept as they were.
    pitches = {c["id"]: c["pitch"].get("espeak") for c in json.loads(cast.read_text())["characters"]}
    for ln in report["lines"]:
        if ln["speaker"] != character:
            assert round(ln["pitch"], 4) == round(pitches[ln["speaker"]], 4)
