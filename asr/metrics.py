"""Word and character error rates (jiwer alignments), corpus-level, with per-utterance reports.

Both sides go through `asr.decoding.text.normalize` before scoring. Rates are corpus-level: total errors over
total reference tokens, never a mean of per-utterance rates. CER counts the spaces between words as
characters.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import jiwer

from asr.decoding.text import normalize

# One aligned position: (op, reference token, hypothesis token). op is "=", "S", "D" or "I";
# the missing side of a deletion or insertion is "".
Edit = tuple[str, str, str]

_UNITS = {"words": (jiwer.process_words, str.split), "characters": (jiwer.process_characters, list)}
_JIWER_OPS = {"equal": "=", "substitute": "S", "delete": "D", "insert": "I"}
_MARKS = {"=": " ", "S": "S", "D": "D", "I": "I"}
_GAP = "*"


@dataclass(frozen=True)
class Scores:
    """Corpus-level error rates and the counts behind them; rates are fractions (0.125, not 12.5)."""

    wer: float
    cer: float
    substitutions: int
    deletions: int
    insertions: int
    reference_words: int
    utterances: int

    @property
    def word_errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    def as_dict(self) -> dict:
        return asdict(self)


def score(references: list[str], hypotheses: list[str]) -> Scores:
    """Corpus WER and CER of hypotheses against references, after normalising both sides."""
    references, hypotheses = _normalized(references, hypotheses)
    return _scores(_align(references, hypotheses, "words"),
                   _align(references, hypotheses, "characters"))


def summary_line(scores: Scores) -> str:
    """One line, e.g. "WER 12.50% [5 / 40, 1 ins, 2 del, 2 sub] CER 4.10% over 10 utterances"."""
    return (f"WER {_percent(scores.wer)} [{scores.word_errors} / {scores.reference_words}, "
            f"{scores.insertions} ins, {scores.deletions} del, {scores.substitutions} sub] "
            f"CER {_percent(scores.cer)} over {scores.utterances} utterances")


def write_report(out_dir, ids: list[str], references: list[str], hypotheses: list[str]) -> Scores:
    """Score a test set and write recogs.txt, errs.txt and wer.json into `out_dir`; returns the Scores.

    recogs.txt: one line per utterance in the given order, "id<TAB>ref=...<TAB>hyp=..." (normalised).
    errs.txt: the summary line, then each utterance with word errors, most errors first, as aligned
    REF/HYP lines with S/D/I marks underneath (a "*" fills the missing side).
    wer.json: Scores.as_dict(); an infinite WER (insertions against no reference words) is written
    as Infinity, which Python's json reads back.
    """
    if len(ids) != len(references):
        raise ValueError(f"{len(ids)} ids for {len(references)} references")
    references, hypotheses = _normalized(references, hypotheses)
    word_edits = _align(references, hypotheses, "words")
    scores = _scores(word_edits, _align(references, hypotheses, "characters"))

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    recogs = [f"{i}\tref={r}\thyp={h}\n" for i, r, h in zip(ids, references, hypotheses)]
    (out_dir / "recogs.txt").write_text("".join(recogs), encoding="utf-8")
    (out_dir / "errs.txt").write_text(_errs_text(scores, ids, word_edits), encoding="utf-8")
    (out_dir / "wer.json").write_text(json.dumps(scores.as_dict(), indent=2) + "\n", encoding="utf-8")
    return scores


def format_alignment(edits: list[Edit]) -> list[str]:
    """Three lines "REF: ...", "HYP: ..." and the S/D/I marks, each token padded to its column width."""
    ref, hyp, marks = [], [], []
    for op, r, h in edits:
        r, h = r or _GAP, h or _GAP
        width = max(len(r), len(h))
        ref.append(r.ljust(width))
        hyp.append(h.ljust(width))
        marks.append(_MARKS[op].ljust(width))
    return [f"REF: {' '.join(ref)}".rstrip(), f"HYP: {' '.join(hyp)}".rstrip(),
            f"     {' '.join(marks)}".rstrip()]


def _errs_text(scores: Scores, ids: list[str], word_edits: list[list[Edit]]) -> str:
    """Body of errs.txt: the summary line, then the utterances with errors, most errors first."""
    counted = [(sum(op != "=" for op, _, _ in edits), i, edits) for i, edits in zip(ids, word_edits)]
    with_errors = sorted((c for c in counted if c[0] > 0), key=lambda c: -c[0])
    lines = [summary_line(scores)]
    for errors, utterance_id, edits in with_errors:
        ops = [op for op, _, _ in edits]
        noun = "error" if errors == 1 else "errors"
        lines += ["", f"{utterance_id}: {errors} {noun} in {len(edits) - ops.count('I')} reference words "
                      f"({ops.count('S')} sub, {ops.count('D')} del, {ops.count('I')} ins)",
                  *format_alignment(edits)]
    return "\n".join(lines) + "\n"


def _normalized(references: list[str], hypotheses: list[str]) -> tuple[list[str], list[str]]:
    """Both sides through `normalize`; raises ValueError if their lengths differ."""
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(references)} references but {len(hypotheses)} hypotheses")
    return [normalize(r) for r in references], [normalize(h) for h in hypotheses]


def _align(references: list[str], hypotheses: list[str], unit: str) -> list[list[Edit]]:
    """Per-utterance edit sequences over `unit` ("words" or "characters"), aligned by jiwer.

    Utterances with an empty reference never reach jiwer (older versions reject them): every
    hypothesis token is an insertion.
    """
    process, tokenize = _UNITS[unit]
    edits: list[list[Edit]] = [[] for _ in references]
    scored = [i for i, r in enumerate(references) if r]
    if scored:
        output = process([references[i] for i in scored], [hypotheses[i] for i in scored])
        for i, ref, hyp, chunks in zip(scored, output.references, output.hypotheses, output.alignments):
            edits[i] = _chunk_edits(ref, hyp, chunks)
    for i, r in enumerate(references):
        if not r:
            edits[i] = [("I", "", t) for t in tokenize(hypotheses[i])]
    return edits


def _chunk_edits(ref: list[str], hyp: list[str], chunks) -> list[Edit]:
    """Expand jiwer AlignmentChunks over token lists into one Edit per aligned position."""
    edits: list[Edit] = []
    for chunk in chunks:
        op = _JIWER_OPS[chunk.type]
        r = ref[chunk.ref_start_idx:chunk.ref_end_idx]
        h = hyp[chunk.hyp_start_idx:chunk.hyp_end_idx]
        if op == "D":
            edits += [(op, t, "") for t in r]
        elif op == "I":
            edits += [(op, "", t) for t in h]
        else:
            edits += [(op, a, b) for a, b in zip(r, h, strict=True)]
    return edits


def _scores(word_edits: list[list[Edit]], char_edits: list[list[Edit]]) -> Scores:
    """Corpus totals and rates from per-utterance word and character edits."""
    words = [op for edits in word_edits for op, _, _ in edits]
    chars = [op for edits in char_edits for op, _, _ in edits]
    reference_words = len(words) - words.count("I")
    return Scores(
        wer=_rate(len(words) - words.count("="), reference_words),
        cer=_rate(len(chars) - chars.count("="), len(chars) - chars.count("I")),
        substitutions=words.count("S"), deletions=words.count("D"), insertions=words.count("I"),
        reference_words=reference_words, utterances=len(word_edits))


def _rate(errors: int, reference_tokens: int) -> float:
    """errors / reference_tokens; with no reference tokens, 0.0 if there are no errors else inf."""
    if reference_tokens == 0:
        return 0.0 if errors == 0 else math.inf
    return errors / reference_tokens


def _percent(rate: float) -> str:
    return f"{100 * rate:.2f}%" if math.isfinite(rate) else "inf%"
