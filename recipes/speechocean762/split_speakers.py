"""Split a speechocean762 manifest by speaker: every N-th speaker (in sorted order) held back for scoring, the rest
for training (issue "English accuracy": the other corpora as training data, scored on speakers never trained on).

The speaker is the audio file's folder (`WAVE/SPEAKERxxxx/UTT_ID.opus`). With N = 4, speakers 4, 8, 12, ... of the
sorted list are held back, so children and adults (mixed through the speaker numbers) fall on both sides.

usage: python recipes/speechocean762/split_speakers.py MANIFEST OUT_DIR [--every 4]
       # writes OUT_DIR/train_speakers.jsonl and OUT_DIR/heldout_speakers.jsonl
"""
from __future__ import annotations

import argparse
from pathlib import Path

from asr.manifest import Utterance, read_manifest, write_manifest


def speaker(utterance: Utterance) -> str:
    return Path(utterance.audio).parent.name


def split_by_speaker(utterances: list[Utterance], every: int) -> tuple[list[Utterance], list[Utterance]]:
    """(training, held back): the speakers at positions every-1, 2*every-1, ... of the sorted list held back."""
    if every < 2:
        raise ValueError(f"every must be at least 2 (got {every})")
    speakers = sorted({speaker(u) for u in utterances})
    held = {s for i, s in enumerate(speakers) if i % every == every - 1}
    return [u for u in utterances if speaker(u) not in held], [u for u in utterances if speaker(u) in held]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--every", type=int, default=4, help="hold back every N-th speaker (default 4)")
    args = parser.parse_args()
    train, held = split_by_speaker(read_manifest(args.manifest), args.every)
    for name, part in (("train_speakers", train), ("heldout_speakers", held)):
        write_manifest(args.out_dir / f"{name}.jsonl", part)
        hours = sum(u.duration_s for u in part) / 3600
        print(f"{name}: {len({speaker(u) for u in part})} speakers, {len(part)} clips, {hours:.2f} h")


if __name__ == "__main__":
    main()
