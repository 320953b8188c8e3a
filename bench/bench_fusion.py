"""ASR alone vs ASR fused with burned-in subtitles, on episodes built from real speech.

Builds the episodes of tests/integration/test_fusion_real.py (the sample's picture, a real recording
as sound, its human reference burned in as subtitles) and scores each script against the reference:
CER for Mandarin, WER for English (jiwer; case and punctuation removed).

    .venv/bin/python bench/bench_fusion.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import jiwer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import SHARED_MEDIA  # noqa: E402
from tests.integration.test_fusion_real import build, scripts  # noqa: E402

NORM = jiwer.Compose([jiwer.ToLowerCase(), jiwer.RemovePunctuation(), jiwer.RemoveMultipleSpaces(), jiwer.Strip()])
CASES = [
    ("Mandarin sr_chinese.flac", "speech/zh/sr_chinese.flac", 2000, [(1800, 3600, "砸自己的脚")], "cer"),
    ("English LJ001-0007.wav", "speech/en/ljspeech/LJ001-0007.wav", 500,
     [(400, 4600, "The earliest book printed with movable types, the Gutenberg,"),
      (4700, 8800, 'or "forty-two line Bible" of about 1455,')], "wer"),
]


def main() -> int:
    rows = []
    for name, rel, delay, cues, metric in CASES:
        tmp = Path(tempfile.mkdtemp(prefix="bench-fusion-"))
        fused, heard = scripts(build(tmp, SHARED_MEDIA / rel, delay, cues), tmp)
        ref = " ".join(text for _, _, text in cues)
        score = (lambda h: jiwer.cer(ref, h.replace(" ", ""))) if metric == "cer" else \
            (lambda h: jiwer.wer(NORM(ref), NORM(h)))
        row = {"episode": name, "metric": metric,
               "asr": round(score(" ".join(ln.text for ln in heard.lines)), 3),
               "fused": round(score(" ".join(ln.text for ln in fused.lines)), 3),
               "asr_text": [ln.text for ln in heard.lines], "fused_text": [ln.text for ln in fused.lines],
               "fused_origins": [ln.origin for ln in fused.lines]}
        rows.append(row)
        print(f"{name}: {metric.upper()} ASR {row['asr']:.3f} -> fused {row['fused']:.3f}  {row['fused_text']}")
    out = ROOT / "bench" / "results"
    (out / "fusion.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False))
    md = ["# ASR alone vs fused with burned-in subtitles", "", "| episode | metric | ASR | fused | fused text |",
          "|---|---|---:|---:|---|"]
    md += [f"| {r['episode']} | {r['metric'].upper()} | {r['asr']:.3f} | {r['fused']:.3f} | "
           f"{' / '.join(r['fused_text'])} |" for r in rows]
    (out / "fusion.md").write_text("\n".join(md) + "\n\nRe-run: `.venv/bin/python bench/bench_fusion.py`\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
