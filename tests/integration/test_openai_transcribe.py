"""The OpenAI-compatible transcription backend (localize/stages/script/asr/openai_transcribe.py) against a
real server on 127.0.0.1 that answers with real Whisper output.

The server is a ThreadingHTTPServer that parses the multipart upload and transcribes the file with the
packaged faster-whisper base model (the same weights the in-process recognizer loads), then answers the
way OpenAI does (language named "english", bare words without punctuation beside the segments) or the way
speaches does (language code, words with probabilities inside each segment). So the client's mapping is
checked on real recognition, and its words can be compared with the in-process recognizer's on the same
real recordings from ../shared/media (the tests skip where ../shared is absent).
"""

from __future__ import annotations

import difflib
import email.parser
import email.policy
import json
import socket
import string
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from localize.core.errors import LocalizeError, ToolFailedError
from localize.core.options import AsrOptions, RunOptions
from localize.stages.script.asr import RECOGNIZERS, RawTranscript
from localize.stages.script.asr.faster_whisper import FasterWhisperRecognizer
from localize.stages.script.asr.openai_transcribe import OpenAITranscriber
from localize.stages.translate.openai_backend import OpenAIConfig
from tests.conftest import shared_media

pytestmark = pytest.mark.integration

KEY = "sk-test-secret-123"
JFK = "And so, my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
LJ = [f"speech/en/ljspeech/LJ001-000{i}.wav" for i in range(1, 9)]


def form_fields(content_type: str, body: bytes) -> tuple[dict[str, list[str]], bytes]:
    """(text fields, uploaded file) of a multipart/form-data body, parsed by the standard library."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields: dict[str, list[str]] = {}
    upload = b""
    for part in message.iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        if name == "file":
            upload = bytes(part.get_payload(decode=True))
        else:
            fields.setdefault(name, []).append(part.get_content())
    return fields, upload


def language_name(code: str) -> str:
    import langcodes

    return langcodes.Language.get(code).display_name().lower()  # OpenAI's style: 'english'


class WhisperServer:
    """POST /v1/audio/transcriptions answered by Whisper base; `failures` are statuses to answer first."""

    def __init__(self, model: Any, style: str = "openai") -> None:
        self.model = model
        self.style = style
        self.failures: list[int] = []
        self.requests: list[dict[str, list[str]]] = []
        self.auth: list[str] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fields, upload = form_fields(self.headers["Content-Type"], body)
                with server._lock:
                    server.requests.append(fields)
                    server.auth.append(self.headers.get("Authorization", ""))
                    failure = server.failures.pop(0) if server.failures else None
                if self.path != "/v1/audio/transcriptions":
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                if self.headers.get("Authorization") != f"Bearer {KEY}":
                    return self._send(401, {"error": {"message": "Incorrect API key provided"}})
                if failure:
                    return self._send(failure, {"error": {"message": "model is loading"}})
                with server._lock:
                    answer = server.transcribe(fields, upload)
                self._send(200, answer)

            def _send(self, status: int, payload: dict) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def transcribe(self, fields: dict[str, list[str]], upload: bytes) -> dict:
        first = {k: v[0] for k, v in fields.items()}
        words_wanted = "word" in fields.get("timestamp_granularities[]", [])
        with tempfile.NamedTemporaryFile(suffix=".audio") as fh:
            fh.write(upload)
            fh.flush()
            kwargs: dict[str, Any] = {}
            if "temperature" in first:
                kwargs["temperature"] = float(first["temperature"])
            segments, info = self.model.transcribe(
                fh.name, language=first.get("language"), beam_size=5, vad_filter=True,
                condition_on_previous_text=False, word_timestamps=words_wanted, **kwargs)
            segments = list(segments)
        text = "".join(s.text for s in segments)
        if first.get("response_format") == "json":
            return {"text": text}
        out_segments, out_words = [], []
        for s in segments:
            seg = {"id": s.id, "seek": s.seek, "start": s.start, "end": s.end, "text": s.text, "tokens": s.tokens,
                   "temperature": s.temperature or 0.0, "avg_logprob": s.avg_logprob,
                   "compression_ratio": s.compression_ratio, "no_speech_prob": s.no_speech_prob}
            words = [{"start": w.start, "end": w.end, "word": w.word, "probability": w.probability}
                     for w in (s.words or [])]
            if self.style == "speaches":
                seg["words"] = words if words_wanted else None
                out_words += words
            else:  # OpenAI: bare words, no punctuation, no probability, beside the segments
                for w in words:
                    bare = w["word"].strip().strip(string.punctuation + "“”‘’")
                    if bare:
                        out_words.append({"word": bare, "start": w["start"], "end": w["end"]})
            out_segments.append(seg)
        language = info.language if self.style == "speaches" else language_name(info.language)
        answer = {"task": "transcribe", "language": language, "duration": info.duration, "text": text,
                  "segments": out_segments}
        if words_wanted:
            answer["words"] = out_words
        return answer

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def whisper() -> Any:
    """The packaged Whisper base, loaded once: the server's model and the in-process reference."""
    return FasterWhisperRecognizer(AsrOptions())._load()


@pytest.fixture
def server(whisper: Any) -> Iterator[WhisperServer]:
    srv = WhisperServer(whisper)
    yield srv
    srv.close()


def client(server: WhisperServer, options: AsrOptions | None = None, *, key: str = KEY,
           sleeps: list[float] | None = None, **config: Any) -> OpenAITranscriber:
    cfg = OpenAIConfig(base_url=server.url, api_key=key, model="Systran/faster-whisper-base", **config)
    record = sleeps if sleeps is not None else []
    return OpenAITranscriber(options, config=cfg, sleep=record.append)


def to_wav(sources: list[Path], out: Path) -> Path:
    """The recordings, one after the other, as the 16 kHz mono WAV the pipeline hands a recognizer."""
    import subprocess

    argv = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-loglevel", "error"]
    for src in sources:
        argv += ["-i", str(src)]
    argv += ["-filter_complex", "".join(f"[{i}:a]" for i in range(len(sources))) + f"concat=n={len(sources)}:v=0:a=1",
             "-ac", "1", "-ar", "16000", "-c:a", "pcm_s16le", str(out)]
    subprocess.run(argv, check=True)
    return out


def words_of(raw: RawTranscript) -> list[tuple[str, int, int]]:
    """(normalised word, start, end) of every recognised word."""
    out = []
    for seg in raw.segments:
        for w in seg:
            norm = "".join(c for c in w.text.lower() if c.isalnum() or c in "-'")
            if norm:
                out.append((norm, w.start_ms, w.end_ms))
    return out


def wer(reference: str, hypothesis: str) -> float:
    import jiwer

    norm = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(),
                          jiwer.Strip(), jiwer.ReduceToListOfListOfWords()])
    return float(jiwer.wer(reference, hypothesis, reference_transform=norm, hypothesis_transform=norm))


def text_of(raw: RawTranscript) -> str:
    return "".join(w.text for seg in raw.segments for w in seg).strip()


def lj_reference() -> str:
    import csv

    with shared_media("speech/transcripts.tsv").open(encoding="utf-8", newline="") as fh:
        refs = {row["file (relative to media/)"]: row["reference"] for row in csv.DictReader(fh, delimiter="\t")}
    return " ".join(refs[path] for path in LJ)


def test_server_words_match_in_process_whisper_on_real_speech(server: WhisperServer, whisper: Any,
                                                              tmp_path: Path) -> None:
    """OpenAI-style answers (language name, bare words beside segments) on 50 s of real read speech: the
    WER is the in-process recognizer's, the words keep their punctuation and times, the request is the API's."""
    from localize.stages.script.asr.lines import LineRules, cut_lines

    audio = to_wav([shared_media(p) for p in LJ], tmp_path / "lj.wav")
    remote = client(server).recognize(audio)
    local = FasterWhisperRecognizer(AsrOptions()).recognize(audio)
    reference = lj_reference()

    assert remote.language == "en" and remote.detected_language == "en"
    assert len(remote.segments) >= 3  # grouped by the server's segments, not one blob
    remote_wer, local_wer = wer(reference, text_of(remote)), wer(reference, text_of(local))
    assert remote_wer <= 0.15, text_of(remote)
    assert abs(remote_wer - local_wer) <= 0.03, (text_of(remote), text_of(local))
    # Same words, same times (the server's words are the in-process model's, rounded to ms by each side).
    a, b = words_of(remote), words_of(local)
    matcher = difflib.SequenceMatcher(a=[w for w, _, _ in a], b=[w for w, _, _ in b], autojunk=False)
    pairs = [(a[blk.a + k], b[blk.b + k]) for blk in matcher.get_matching_blocks() for k in range(blk.size)]
    assert len(pairs) >= 0.95 * len(b)
    assert max(abs(x[1] - y[1]) + abs(x[2] - y[2]) for x, y in pairs) <= 40
    # Punctuation came back from the segment text, so lines still end at sentence ends.
    assert sum(w.text.rstrip().endswith((",", ".")) for seg in remote.segments for w in seg) >= 5
    assert all(w.text.startswith(" ") for seg in remote.segments for w in seg)
    rules = LineRules.for_language("en")
    assert [ln.text for ln in cut_lines(remote.segments, rules)] == [ln.text for ln in cut_lines(local.segments, rules)]

    sent = server.requests[-1]
    assert sent["response_format"] == ["verbose_json"]
    assert sorted(sent["timestamp_granularities[]"]) == ["segment", "word"]
    assert sent["model"] == ["Systran/faster-whisper-base"] and "language" not in sent
    assert server.auth[-1] == f"Bearer {KEY}"


def test_speaches_style_answer_forced_language_clip_and_detection(whisper: Any, tmp_path: Path) -> None:
    """speaches answers with a language code and words inside segments; a forced language is sent; a
    dubbed-line-sized clip is back-transcribed at temperature 0; the preflight's detection asks the server."""
    srv = WhisperServer(whisper, style="speaches")
    try:
        jfk = shared_media("speech/en/jfk.flac")
        audio = to_wav([jfk], tmp_path / "jfk.wav")
        ref = JFK
        asr = client(srv, AsrOptions(language="en"))
        raw = asr.recognize(audio)
        assert srv.requests[-1]["language"] == ["en"]
        assert raw.language == "en" and raw.detected_language == ""  # forced: no detection claimed
        assert wer(ref, text_of(raw)) <= 0.1
        assert all(0 < w.probability <= 1 for seg in raw.segments for w in seg)
        assert words_of(raw) == words_of(FasterWhisperRecognizer(AsrOptions(language="en")).recognize(audio))

        heard = asr.transcribe_clip(audio, "en", max_tokens=120)
        assert wer(ref, heard) <= 0.1
        assert srv.requests[-1]["temperature"] == ["0"] and srv.requests[-1]["response_format"] == ["json"]
        assert asr.transcribe_clip(audio, "en") == heard

        assert asr.detect_language(jfk, seconds=5) == ("en", 1.0)
        assert "language" not in srv.requests[-1]
    finally:
        srv.close()


def test_two_503s_are_retried_then_the_answer_is_used(server: WhisperServer, tmp_path: Path) -> None:
    audio = to_wav([shared_media("speech/en/jfk.flac")], tmp_path / "jfk.wav")
    server.failures = [503, 503]
    sleeps: list[float] = []
    raw = client(server, sleeps=sleeps).recognize(audio)
    assert len(server.requests) == 3
    assert len(sleeps) == 2 and 1.0 <= sleeps[0] < sleeps[1]  # exponential backoff between the tries
    assert "fellow americans" in text_of(raw).lower()


def test_a_wrong_key_is_one_line_naming_the_variable_and_not_retried(server: WhisperServer, tmp_path: Path) -> None:
    audio = to_wav([shared_media("speech/en/jfk.flac")], tmp_path / "jfk.wav")
    with pytest.raises(LocalizeError) as info:
        client(server, key="sk-wrong-key").recognize(audio)
    message = str(info.value)
    assert "\n" not in message and "401" in message and "LOCALIZE_ASR_OPENAI_API_KEY" in message
    assert "sk-wrong-key" not in message
    assert len(server.requests) == 1


def test_an_unreachable_server_names_the_base_url_variable(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps: list[float] = []
    asr = OpenAITranscriber(config=OpenAIConfig(base_url=f"http://127.0.0.1:{port}/v1", retries=2),
                            sleep=sleeps.append)
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"RIFF")
    with pytest.raises(ToolFailedError) as info:
        asr.recognize(wav)
    assert len(sleeps) == 2
    message = str(info.value)
    assert "\n" not in message and "connection failed" in message and "LOCALIZE_ASR_OPENAI_BASE_URL" in message
    assert "after 3 attempts" in message


def test_transcribe_through_the_pipeline_caches_only_a_finished_script(server: WhisperServer, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """`localize.transcribe` with asr_backend='openai': a refused run leaves no asr artifact; a run with the
    right key builds the script from the server's words, and the next run reuses it without a request."""
    import localize

    jfk = shared_media("speech/en/jfk.flac")
    cache = tmp_path / "cache"
    options = RunOptions(asr_backend="openai", speakers="off", cache_dir=cache)
    monkeypatch.setenv("LOCALIZE_ASR_OPENAI_BASE_URL", server.url)
    monkeypatch.setenv("LOCALIZE_ASR_OPENAI_MODEL", "Systran/faster-whisper-base")
    monkeypatch.setenv("LOCALIZE_ASR_OPENAI_API_KEY", "sk-wrong-key")
    port = server.httpd.server_address[1]
    assert RECOGNIZERS.create("openai").model_version() == f"openai:127.0.0.1:{port}:Systran/faster-whisper-base"

    with pytest.raises(LocalizeError, match="LOCALIZE_ASR_OPENAI_API_KEY"):
        localize.transcribe(jfk, options=options)
    assert not [p for p in (cache / "asr").glob("*/*") if not p.name.startswith(".")]

    monkeypatch.setenv("LOCALIZE_ASR_OPENAI_API_KEY", KEY)
    script = localize.transcribe(jfk, options=options)
    assert script.language == "en" and script.backend == "openai"
    assert script.model.startswith("openai:127.0.0.1:") and KEY not in script.model
    ref = JFK
    assert wer(ref, " ".join(ln.text for ln in script.lines)) <= 0.1
    assert all(ln.words and ln.words[0].start_ms == ln.start_ms for ln in script.lines)
    assert [p for p in (cache / "asr").glob("*/*") if not p.name.startswith(".")]

    sent = len(server.requests)
    assert localize.transcribe(jfk, options=options).lines == script.lines
    assert len(server.requests) == sent  # cached: no second upload
