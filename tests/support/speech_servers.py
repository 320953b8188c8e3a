"""Local stand-ins for the speech services, on 127.0.0.1, answering with real speech.

:class:`OpenAISpeechServer` answers ``POST /v1/audio/speech`` (OpenAI's JSON shape, vLLM-Omni's cloning
fields ``task_type``/``ref_audio``) and lists its voices at ``GET /v1/audio/voices`` as Kokoro-FastAPI
does. :class:`ElevenLabsServer` answers ``POST /v1/text-to-speech/{voice_id}?output_format=pcm_24000``
(raw 16-bit PCM), ``GET /v1/voices``, ``GET /v1/voices/{voice_id}`` and ``POST /v1/voices/add``
(multipart instant cloning), with ElevenLabs' error shapes.

Both speak with Piper's packaged en_US-joe-medium voice, pitch-shifted (ffmpeg rubberband, formants kept) per voice, so
voices differ; a cloned voice is shifted toward the reference clip's median pitch. ``failures`` is a list of
HTTP statuses to answer speech requests with first (429 carries ``Retry-After: 0``); every request is
recorded (method, path, headers, a summary of the body) for the tests to read.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import json
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import numpy as np
import soundfile as sf

from localize.core.media.ffmpeg import run_ffmpeg
from localize.stages.voice.casting import median_f0
from localize.stages.voice.tts.piper import PiperSynthesizer

PIPER_VOICE = "en_US-joe-medium"
RATE = 24_000


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)  # JSON or form fields (files as their byte counts)


class _Speaker:
    """Piper, pitch-shifted, at 24 kHz; one line at a time."""

    def __init__(self) -> None:
        self.piper = PiperSynthesizer()
        self.lock = threading.Lock()
        self._base_f0 = 0.0

    def speak(self, text: str, ratio: float, speed: float = 1.0) -> np.ndarray:
        with self.lock, tempfile.TemporaryDirectory(prefix="speech-server-") as tmp:
            raw, out = Path(tmp) / "raw.wav", Path(tmp) / "out.wav"
            self.piper.synthesize(text, PIPER_VOICE, raw)
            # Formants kept: a voice shifted up reads as a higher voice, not a sped-up tape.
            run_ffmpeg(["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(raw), "-af",
                        f"rubberband=tempo={speed:.4f}:pitch={ratio:.4f}:pitchq=quality:formant=preserved",
                        "-ar", str(RATE), "-ac", "1", "-c:a", "pcm_s16le", str(out)], "shifting the test voice")
            return sf.read(out, dtype="int16", always_2d=False)[0]

    def base_f0(self) -> float:
        if not self._base_f0:
            with self.lock, tempfile.TemporaryDirectory(prefix="speech-server-") as tmp:
                raw = Path(tmp) / "raw.wav"
                self.piper.synthesize("This is how the packaged voice sounds when it reads a sentence.",
                                      PIPER_VOICE, raw)
                samples, rate = sf.read(raw, dtype="float32", always_2d=False)
                self._base_f0 = median_f0(samples, rate) or 110.0
        return self._base_f0

    def ratio_for(self, clip: bytes) -> float:
        """The shift that moves the Piper voice to the clip's median pitch (the stand-in's 'cloning')."""
        samples, rate = sf.read(_as_file(clip), dtype="float32", always_2d=False)
        if samples.ndim > 1:
            samples = samples.mean(axis=1)
        f0 = median_f0(samples, rate)
        return float(np.clip(f0 / self.base_f0(), 0.7, 2.0)) if f0 else 1.0


def _as_file(data: bytes) -> Any:
    import io

    return io.BytesIO(data)


def wav_bytes(samples: np.ndarray, rate: int = RATE) -> bytes:
    import io

    buf = io.BytesIO()
    sf.write(buf, samples, rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def form_fields(content_type: str, body: bytes) -> dict[str, list[Any]]:
    """A multipart/form-data body: text fields as str, files as bytes."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields: dict[str, list[Any]] = {}
    for part in message.iter_parts():
        name = str(part.get_param("name", header="content-disposition"))
        if part.get_filename():
            fields.setdefault(name, []).append(bytes(part.get_payload(decode=True)))
        else:
            fields.setdefault(name, []).append(part.get_content())
    return fields


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1 whose handler calls ``self.route``."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.failures: list[int] = []
        self.requests: list[Request] = []
        self.speaker = _Speaker()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self, method: str) -> None:
                parts = urlsplit(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0") or 0))
                request = Request(method, parts.path, parse_qs(parts.query), dict(self.headers.items()))
                status, headers, payload = server.route(request, raw, self.headers.get("Content-Type", ""))
                with server._lock:
                    server.requests.append(request)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def route(self, request: Request, raw: bytes, content_type: str) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    def fault(self) -> int | None:
        with self._lock:
            return self.failures.pop(0) if self.failures else None

    def speech_requests(self) -> list[Request]:
        return [r for r in self.requests if r.method == "POST" and self.is_speech(r.path)]

    def is_speech(self, path: str) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> _Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _json(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(payload).encode()


class OpenAISpeechServer(_Server):
    """``/v1/audio/speech`` as OpenAI, Kokoro-FastAPI and vLLM-Omni serve it."""

    VOICES: ClassVar[dict[str, float]] = {"onyx": 1.0, "echo": 1.15, "nova": 1.7, "shimmer": 1.5}

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def is_speech(self, path: str) -> bool:
        return path == "/v1/audio/speech"

    def route(self, request: Request, raw: bytes, content_type: str) -> tuple[int, dict[str, str], bytes]:
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            return _json(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
        if request.method == "GET" and request.path == "/v1/audio/voices":
            return _json(200, {"voices": sorted(self.VOICES)})
        if request.method != "POST" or request.path != "/v1/audio/speech":
            return _json(404, {"detail": "Not Found"})
        body = json.loads(raw)
        request.body = {k: (len(v) if k == "ref_audio" else v) for k, v in body.items()}
        failure = self.fault()
        if failure:
            return _json(failure, {"error": {"message": "server busy"}}, {"Retry-After": "0"} if failure == 429 else {})
        if body.get("response_format", "mp3") != "wav":
            return _json(400, {"error": {"message": "this stand-in answers wav only"}})
        if body.get("task_type") == "Base":
            ref = str(body.get("ref_audio", ""))
            if not ref.startswith("data:audio/wav;base64,"):
                return _json(400, {"error": {"message": "ref_audio must be a data URL for task_type Base"}})
            ratio = self.speaker.ratio_for(base64.b64decode(ref.split(",", 1)[1]))
        else:
            parts = [p.split("(")[0] for p in str(body.get("voice", "")).split("+")]
            unknown = [p for p in parts if p not in self.VOICES]
            if unknown:
                return _json(400, {"error": {"message": f"Voice '{unknown[0]}' not found. Available: "
                                                        f"{', '.join(sorted(self.VOICES))}"}})
            ratio = float(np.mean([self.VOICES[p] for p in parts]))
        samples = self.speaker.speak(str(body["input"]), ratio, float(body.get("speed", 1.0)))
        return 200, {"Content-Type": "audio/wav"}, wav_bytes(samples)


class ElevenLabsServer(_Server):
    """ElevenLabs' text-to-speech, voices and instant voice cloning routes."""

    VOICES: ClassVar[dict[str, tuple[str, float]]] = {
        "JBFqnCBsd6RMkjVDRZzb": ("George", 1.0), "EXAVITQu4vr4xnVydUG1": ("Sarah", 1.7),
        "FGY2WhTYpPnrIDTdsKH5": ("Laura", 1.5)}

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.url = f"http://127.0.0.1:{self.port}"
        self.voices: dict[str, tuple[str, float]] = dict(self.VOICES)
        self.added: list[str] = []  # voice ids made by /v1/voices/add

    def is_speech(self, path: str) -> bool:
        return path.startswith("/v1/text-to-speech/")

    def route(self, request: Request, raw: bytes, content_type: str) -> tuple[int, dict[str, str], bytes]:
        if request.headers.get("xi-api-key") != self.key:
            return _json(401, {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}})
        path = request.path
        if request.method == "GET" and path == "/v1/voices":
            return _json(200, {"voices": [{"voice_id": v, "name": n} for v, (n, _) in self.voices.items()]})
        if request.method == "GET" and path.startswith("/v1/voices/"):
            voice_id = path.rsplit("/", 1)[1]
            if voice_id not in self.voices:
                return _not_found(voice_id)
            return _json(200, {"voice_id": voice_id, "name": self.voices[voice_id][0]})
        if request.method == "POST" and path == "/v1/voices/add":
            fields = form_fields(content_type, raw)
            request.body = {k: [len(x) if isinstance(x, bytes) else x for x in v] for k, v in fields.items()}
            if not fields.get("name") or not fields.get("files"):
                return _json(422, {"detail": [{"loc": ["body", "files"], "msg": "field required"}]})
            voice_id = f"cloned{len(self.added) + 1:02d}"
            self.voices[voice_id] = (str(fields["name"][0]), self.speaker.ratio_for(fields["files"][0]))
            self.added.append(voice_id)
            return _json(200, {"voice_id": voice_id, "requires_verification": False})
        if request.method == "POST" and self.is_speech(path):
            voice_id = path.rsplit("/", 1)[1]
            body = json.loads(raw)
            request.body = body
            failure = self.fault()
            if failure:
                return _json(failure, {"detail": {"status": "too_many_concurrent_requests" if failure == 429
                                                  else "internal_error", "message": "try again"}},
                             {"Retry-After": "0"} if failure == 429 else {})
            if voice_id not in self.voices:
                return _not_found(voice_id)
            fmt = request.query.get("output_format", ["mp3_44100_128"])[0]
            if fmt != f"pcm_{RATE}":
                return _json(400, {"detail": {"status": "invalid_output_format", "message": "stand-in: pcm_24000"}})
            speed = float((body.get("voice_settings") or {}).get("speed", 1.0))
            samples = self.speaker.speak(str(body["text"]), self.voices[voice_id][1], speed)
            return 200, {"Content-Type": "audio/pcm"}, samples.astype("<i2").tobytes()
        return _json(404, {"detail": "Not Found"})


def _not_found(voice_id: str) -> tuple[int, dict[str, str], bytes]:
    return _json(404, {"detail": {"status": "voice_not_found",
                                  "message": f"A voice with the voice_id {voice_id} was not found."}})


__all__ = ["ElevenLabsServer", "OpenAISpeechServer", "Request", "form_fields", "wav_bytes"]
