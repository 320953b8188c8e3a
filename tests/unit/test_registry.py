"""Backend registries (localize/core/registry.py) and error messages (localize/core/errors.py)."""

from __future__ import annotations

import sys
import types
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from localize.core import registry as registry_module
from localize.stages.script.asr import RECOGNIZERS
from localize.core.errors import (
    DiskFullError, InputError, LocalizeError, MediaError, MissingExtraError, MissingToolError, NoRouteError,
    SubtitleError, ToolFailedError, UnknownNameError,
)
from localize.core.registry import Registry
from localize.stages.translate import TRANSLATORS
from localize.stages.voice.tts import SYNTHESIZERS


class Dummy:
    def __init__(self, **options):
        self.options = options


@pytest.fixture
def fake_module(monkeypatch):
    mod = types.ModuleType("localize_test_fake_backends")
    mod.Dummy = Dummy
    monkeypatch.setitem(sys.modules, mod.__name__, mod)
    return mod.__name__


@pytest.mark.parametrize(("reg", "known"), [
    (TRANSLATORS, ["apertium", "bergamot", "openai"]),
    (SYNTHESIZERS, ["espeak", "piper"]),
    (RECOGNIZERS, ["faster-whisper", "whisperx"]),
])
def test_unknown_backend_lists_the_known_ones(reg, known):
    assert set(known) <= set(reg.names())
    with pytest.raises(UnknownNameError) as info:
        reg.load("nope")
    err = info.value
    assert err.name == "nope"
    assert err.kind == f"{reg.stage} backend"
    message = str(err)
    assert message.startswith(f"unknown {reg.stage} backend 'nope' (known: ")
    for name in known:
        assert name in message
    with pytest.raises(UnknownNameError):
        reg.create("nope")


def test_load_and_create_resolve_module_colon_class(fake_module):
    reg = Registry("demo", {"dummy": f"{fake_module}:Dummy"})
    assert reg.names() == ["dummy"]
    assert reg.load("dummy") is Dummy
    made = reg.create("dummy", voice="x", speed=2)
    assert isinstance(made, Dummy) and made.options == {"voice": "x", "speed": 2}


def test_entry_points_add_backends_for_their_stage_only(fake_module, monkeypatch):
    eps = [
        EntryPoint(name="demo.extra", value=f"{fake_module}:Dummy", group="localize.backends"),
        EntryPoint(name="demo.dummy", value="elsewhere:Other", group="localize.backends"),
        EntryPoint(name="other.thing", value=f"{fake_module}:Dummy", group="localize.backends"),
        EntryPoint(name="demo", value=f"{fake_module}:Dummy", group="localize.backends"),
    ]
    monkeypatch.setattr(registry_module, "entry_points", lambda group: eps if group == "localize.backends" else [])
    reg = Registry("demo", {"dummy": f"{fake_module}:Dummy"})
    assert reg.names() == ["dummy", "extra"]
    assert reg.specs()["dummy"] == f"{fake_module}:Dummy"  # a built-in is not replaced
    assert reg.load("extra") is Dummy


def test_missing_extra_message_says_what_to_install():
    err = MissingExtraError("whisperx", "whisperx", "whisperx")
    assert isinstance(err, LocalizeError)
    assert "pip install 'localize[whisperx]'" in str(err)
    assert (err.backend, err.extra, err.module) == ("whisperx", "whisperx", "whisperx")
    assert str(MissingExtraError("llm", "llm", "transformers")).endswith("pip install 'localize[llm]'.")


def test_unknown_name_error_lists_sorted_and_handles_none_known():
    err = UnknownNameError("voice", "zz", ["b", "a"], "run `localize backends`")
    assert str(err) == "unknown voice 'zz' (known: a, b); run `localize backends`."
    assert str(UnknownNameError("voice", "zz", [])) == "unknown voice 'zz' (known: none)."


def test_input_errors_name_the_path():
    err = InputError("clips/ep1.mp4", "no such file", "check the path")
    assert str(err) == "clips/ep1.mp4: no such file; check the path."
    assert err.path == Path("clips/ep1.mp4")
    assert str(SubtitleError("a.srt", "holds no subtitle cues")) == "a.srt: holds no subtitle cues."
    assert issubclass(MediaError, InputError) and issubclass(SubtitleError, InputError)


def test_other_error_messages():
    assert str(MissingToolError("ffmpeg", "apt-get install ffmpeg")) == "ffmpeg is not installed; apt-get install ffmpeg."
    assert str(ToolFailedError("ffmpeg", "decoding x", "")) == "ffmpeg failed while decoding x: no error output."
    assert "Invalid data" in str(ToolFailedError("ffmpeg", "decoding x", "Invalid data"))
    err = NoRouteError("zh", "ca", ["bergamot", "apertium"])
    assert err.tried == ("bergamot", "apertium")
    assert "zh->ca" in str(err) and "(tried: bergamot, apertium)" in str(err)
    assert "--translation ca=FILE.srt" in str(err)
    assert "(tried: none)" in str(NoRouteError("a", "b", []))
    assert "/mnt/full" in str(DiskFullError("/mnt/full"))
