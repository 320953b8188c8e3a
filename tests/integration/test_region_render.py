"""Region renders for real: Thai, Arabic, Hindi and Chinese subtitles burned with libass into a
1080x1920 preset, checked with ffprobe, pixels and OCR; soft vs burned streams; H.265; C2PA."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import msgspec
import numpy as np
import pytest

from localize.core.markets import builtin_markets
from localize.stages.render.fonts import font_files
from localize.stages.render.market import render_market_video
from localize.stages.render.presets import SHORT_VIDEO
from localize.stages.render.subtitles import Cue
from tests.conftest import SAMPLE, ffprobe

pytestmark = pytest.mark.integration

TEXTS = {
    "th-TH": "สวัสดีครับ วันนี้อากาศดีมาก",
    "ar-SA": "مرحبا بك في بيتنا الجديد",
    "hi-IN": "नमस्ते, आज मौसम बहुत अच्छा है",
    "zh-CN": "今天天气很好",
}
CUE_MS = (500, 2500)  # the cue is on screen in this span of the 3 s clip


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The first 3 s of the sample episode, and its sound as the market's mix."""
    d = tmp_path_factory.mktemp("clip")
    video, audio = d / "clip.mp4", d / "mix.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(SAMPLE), "-t", "3", "-c:v", "libx264", "-preset",
                    "ultrafast", "-c:a", "aac", str(video)], check=True)
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(video), "-vn", "-ac", "2", "-ar", "48000", str(audio)],
                   check=True)
    return video, audio


def _market(tag: str, label: bool = True, **render):
    market = builtin_markets()[tag]
    return msgspec.structs.replace(market, render=msgspec.structs.replace(market.render, **render),
                                   ai_label=msgspec.structs.replace(market.ai_label, visible=label))


def _render(clip, tmp_path: Path, tag: str, cues=None, label: bool = True, **render) -> Path:
    video, audio = clip
    cues = cues if cues is not None else [Cue(start_ms=CUE_MS[0], end_ms=CUE_MS[1], text=TEXTS[tag])]
    out = tmp_path / f"{tag}-{len(list(tmp_path.iterdir()))}"
    out.mkdir()
    return render_market_video(_market(tag, label, **render), picture=video, audio=audio, cues=cues, out_dir=out,
                               title=f"clip ({tag})")


def _frame(video: Path, at_s: float, size=(1080, 1920)) -> np.ndarray:
    raw = subprocess.run(["ffmpeg", "-v", "error", "-ss", f"{at_s}", "-i", str(video), "-frames:v", "1", "-f",
                          "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(size[1], size[0])


@pytest.fixture(scope="module")
def renders(clip, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    missing = [f for f in ("Noto Sans Thai", "Noto Sans Arabic", "Noto Sans Devanagari", "Noto Sans CJK SC")
               if not font_files(f)]
    if missing:
        pytest.skip(f"fonts {missing} are not installed (Debian: apt-get install fonts-noto-core fonts-noto-cjk)")
    d = tmp_path_factory.mktemp("renders")
    # Without the visible label (it differs per market), so a frame minus the plain one is the subtitle.
    out = {tag: _render(clip, d, tag, label=False, subtitles="burned", preset="tiktok-1080x1920") for tag in TEXTS}
    out["plain"] = _render(clip, d, "th-TH", cues=[], label=False, subtitles="burned", preset="tiktok-1080x1920")
    return out


@pytest.mark.parametrize("tag", list(TEXTS))
def test_burned_render_is_1080x1920_h264_with_no_subtitle_track(renders, tag):
    info = ffprobe(renders[tag])
    kinds = [s["codec_type"] for s in info["streams"]]
    assert kinds.count("subtitle") == 0 and "video" in kinds and "audio" in kinds
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"], video["codec_name"]) == (1080, 1920, "h264")
    assert info["format"]["tags"]["ai_generated"] == "true"


@pytest.mark.parametrize("tag", list(TEXTS))
def test_burned_text_lands_inside_the_safe_area(renders, tag):
    with_text, without = _frame(renders[tag], 1.5).astype(int), _frame(renders["plain"], 1.5).astype(int)
    changed = np.abs(with_text - without) > 60
    ys, xs = np.nonzero(changed)
    assert len(ys) > 500, "no subtitle drawn"
    left, right, _, bottom = SHORT_VIDEO.margins(1080, 1920)
    assert xs.min() >= left and xs.max() <= 1080 - right
    assert ys.max() <= 1920 - bottom and ys.min() >= 1920 * 0.5  # in the lower half, above the apps' UI
    # Before the cue starts, nothing differs.
    assert (np.abs(_frame(renders[tag], 0.1).astype(int) - _frame(renders["plain"], 0.1)) > 60).sum() < 50


def test_chinese_burned_text_reads_back_with_ocr(renders):
    pytest.importorskip("rapidocr_onnxruntime", reason="the ocr extra is not installed")
    from localize.stages.script.ocr import READERS

    reader = READERS.create("rapidocr", language="ch")
    try:
        (boxes,) = reader.read([_frame(renders["zh-CN"], 1.5)])
    finally:
        reader.release()
    found = [b for b in boxes if "天气" in b.text]
    assert found, [b.text for b in boxes]
    left, right, _, bottom = SHORT_VIDEO.margins(1080, 1920)
    for b in found:
        assert b.x >= left and b.x + b.width <= 1080 - right and b.y + b.height <= 1920 - bottom


def test_soft_and_both_streams_and_h265(clip, tmp_path):
    soft = ffprobe(_render(clip, tmp_path, "th-TH", subtitles="soft", preset="source"))
    both = ffprobe(_render(clip, tmp_path, "hi-IN", subtitles="both", preset="hevc-1080x1920"))
    soft_kinds = {s["codec_type"]: s for s in soft["streams"]}
    assert soft_kinds["subtitle"]["codec_name"] == "mov_text" and soft_kinds["subtitle"]["tags"]["language"] == "tha"
    assert (soft_kinds["video"]["width"], soft_kinds["video"]["height"]) == (404, 720)  # "source" keeps the size
    both_kinds = {s["codec_type"]: s for s in both["streams"]}
    assert both_kinds["subtitle"]["codec_name"] == "mov_text"
    assert (both_kinds["video"]["codec_name"], both_kinds["video"]["width"]) == ("hevc", 1080)
    assert both_kinds["video"]["codec_tag_string"] == "hvc1"


def _certificates(directory: Path) -> tuple[Path, Path]:
    """A throwaway CA and an ES256 signing certificate it issued (leaf first in the chain)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "localize tests")])

    def usage(**on: bool) -> x509.KeyUsage:
        flags = dict.fromkeys(("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
                               "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only"), False)
        return x509.KeyUsage(**{**flags, **on})

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    base = lambda subject, public: (x509.CertificateBuilder().subject_name(subject).issuer_name(name("test CA"))
                                    .public_key(public).serial_number(x509.random_serial_number())
                                    .not_valid_before(now - dt.timedelta(days=1))
                                    .not_valid_after(now + dt.timedelta(days=7)))
    ca = (base(name("test CA"), ca_key.public_key())
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(usage(key_cert_sign=True, crl_sign=True), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (base(name("localize test signer"), key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    chain, pem = directory / "chain.pem", directory / "key.pem"
    chain.write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM))
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return chain, pem


def test_c2pa_manifest_is_signed_and_reads_back(clip, tmp_path, caplog):
    pytest.importorskip("c2pa", reason="the c2pa extra is not installed")
    pytest.importorskip("cryptography", reason="cryptography makes the test certificate")
    from localize.stages.render.credentials import AI_COMPOSITE, Credentials, read_manifest

    chain, key = _certificates(tmp_path)
    video, audio = clip
    out = tmp_path / "signed"
    out.mkdir()
    signed = render_market_video(_market("ar-SA"), picture=video, audio=audio,
                                 cues=[Cue(start_ms=0, end_ms=2000, text=TEXTS["ar-SA"])], out_dir=out,
                                 title="clip (ar-SA)", credentials=Credentials(cert=chain, key=key))
    manifest = read_manifest(signed)
    assert manifest is not None and manifest["validation_state"] == "Valid"
    # Valid, not Trusted: the test CA is on no trust list.
    assert {s["code"] for s in manifest["validation_status"]} <= {"signingCredential.untrusted"}
    actions = next(a for a in manifest["assertions"] if a["label"] == "c2pa.actions.v2")["data"]["actions"]
    assert actions[0]["action"] == "c2pa.created" and actions[0]["digitalSourceType"] == AI_COMPOSITE
    label = next(a for a in manifest["assertions"] if a["label"] == "localize.ai_label")["data"]
    assert label == {"ai_generated": True, "text": builtin_markets()["ar-SA"].ai_label.text}
    assert manifest["signature_info"]["common_name"] == "localize test signer"
    assert not (out / "unsigned.mp4").exists()
    info = ffprobe(signed)  # still a playable MP4 with its metadata label
    assert info["format"]["tags"]["ai_generated"] == "true"

    unsigned_dir = tmp_path / "unsigned"
    unsigned_dir.mkdir()
    with caplog.at_level("INFO", logger="localize.stages.render.market"):
        unsigned = render_market_video(_market("ar-SA"), picture=video, audio=audio, cues=[], out_dir=unsigned_dir,
                                       title="clip")
    assert read_manifest(unsigned) is None
    assert "no C2PA signing certificate given" in caplog.text


def test_missing_font_is_a_clear_error(clip, tmp_path):
    from localize.core.errors import ConfigError

    market = builtin_markets()["th-TH"]
    market = msgspec.structs.replace(market, subtitles=msgspec.structs.replace(market.subtitles, font="No Such Sans"))
    with pytest.raises(ConfigError, match="'No Such Sans'.*not installed"):
        render_market_video(market, picture=clip[0], audio=clip[1], cues=[], out_dir=tmp_path, title="x")
    assert shutil.which("fc-list")


def test_picture_stage_hands_processors_the_picture_as_players_show_it(clip, tmp_path):
    """A phone video stored sideways with rotation metadata: processors get it upright, the result has
    no rotation left to apply."""
    from localize.stages.picture.frames import process_video

    rotated = tmp_path / "rotated.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(clip[0]), "-c", "copy", "-metadata:s:v:0", "rotate=90",
                    str(rotated)], check=True)

    class Shapes:
        name = "shapes"

        def __init__(self) -> None:
            self.seen: set[tuple[int, ...]] = set()

        def cache_options(self) -> dict:
            return {}

        def prepare(self) -> None:
            pass

        def process(self, frame, index, t_ms):
            self.seen.add(frame.shape)
            return frame

        def release(self) -> None:
            pass

    shapes = Shapes()
    out = tmp_path / "upright.mp4"
    frames = process_video(rotated, out, [shapes], fps=25.0)
    assert frames >= 70 and shapes.seen == {(404, 720, 3)}  # 720 wide, 404 high: turned
    video = next(s for s in ffprobe(out)["streams"] if s["codec_type"] == "video")
    assert (video["width"], video["height"]) == (720, 404)
    assert not any(d.get("rotation") for d in video.get("side_data_list", []))
