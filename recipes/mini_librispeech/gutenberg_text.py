"""Write language-model text from Project Gutenberg e-texts: one normalised sentence a line, filtered.

Each e-text of LIST (gutenberg.tsv: file, ebook, title, author, published_by; gutenberg.md tells where the files
come from) is read from RAW_DIR and
- skipped when its header names a language other than English, or when it has no "*** START OF" marker;
- cut to what lies between the "*** START OF ..." and "*** END OF ..." markers (the Project Gutenberg header,
  licence and footer removed), then into paragraphs (blank lines apart); illustration captions, footnotes,
  paragraphs naming Project Gutenberg and short ones naming e-texts or their producers removed;
- dropped whole when it holds half or more of the 5-grams of LJ_BOOK_SENTENCES or more LJ Speech sentences (the
  books LJ Speech reads from), or when half or more of its sentences are already in the text kept before it (the
  books of DATA_DIR/books, then the e-texts, largest first: a book's parts after the whole);
- stripped of every paragraph holding half or more of the 5-grams of a dev-clean-2 utterance (the only use of
  dev-clean-2 here);
- cut into sentences and normalised as lm_text.py does the books (a sentence holding a digit dropped).

OUT_DIR/gutenberg.txt         the sentences, the e-texts in LIST's order
OUT_DIR/gutenberg-counts.tsv  per e-text: words kept, paragraphs dropped for dev-clean-2, LJ Speech sentences
                              matched, and why a text was dropped

usage: python recipes/mini_librispeech/gutenberg_text.py LIST RAW_DIR DATA_DIR OUT_DIR   (DATA_DIR: ../shared/data)
"""
from __future__ import annotations

import argparse
import csv
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from lm_text import books, librispeech, ljspeech, paragraph_sentences

from asr.decoding.text import normalize

N = 5  # n-gram length of the overlap filters
LJ_BOOK_SENTENCES = 20  # an e-text covering this many LJ Speech sentences is one of LJ Speech's books
DUPLICATE_SHARE = 0.5  # an e-text with this share of its sentences already kept is a duplicate

START = re.compile(r"^\s*\*{3}\s*START OF", re.IGNORECASE | re.MULTILINE)
END = re.compile(r"^\s*(\*{3}\s*END OF|End of (the |this )?Project Gutenberg)", re.IGNORECASE | re.MULTILINE)
LANGUAGE = re.compile(r"^Language:\s*(\S+)", re.MULTILINE)
BRACKETED = re.compile(r"\[(Illustration|Footnote)[^\]]*\]?", re.IGNORECASE)  # captions and footnotes
GUTENBERG = re.compile(r"gutenberg", re.IGNORECASE)
BOILERPLATE = re.compile(r"\be-?texts?\b|\be-?books?\b|produced by|prepared by|transcriber|proofread", re.IGNORECASE)
BOILERPLATE_WORDS = 60  # longer paragraphs are text even when they say "prepared by"


def read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def strip_gutenberg(text: str) -> str | None:
    """The body of a Project Gutenberg e-text: after the line of its (last) START marker and before its END marker
    or "End of the Project Gutenberg EBook" line; None without a START marker."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    starts = list(START.finditer(text))
    if not starts:
        return None
    line_end = text.find("\n", starts[-1].end())
    body = text[line_end + 1:] if line_end >= 0 else ""
    if not text[starts[-1].end():line_end].rstrip().endswith("*"):  # the marker wraps onto the next line
        body = body.split("\n", 1)[1] if "\n" in body else ""
    end = END.search(body)
    return body[:end.start()] if end else body


def paragraphs(body: str) -> list[str]:
    """Paragraphs (blank lines apart, lines joined) without captions, footnotes and e-text boilerplate."""
    out = []
    for block in re.split(r"\n\s*\n", BRACKETED.sub(" ", body)):
        paragraph = " ".join(block.split())
        if paragraph and not GUTENBERG.search(paragraph) and not (
                BOILERPLATE.search(paragraph) and paragraph.count(" ") < BOILERPLATE_WORDS):
            out.append(paragraph)
    return out


def ngrams(words: list[str], n: int = N) -> set[tuple[str, ...]]:
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


class Overlap:
    """Which of some reference sentences a passage holds half or more of the N-grams of."""

    def __init__(self, sentences: Iterable[str]):
        self.index: dict[tuple[str, ...], list[int]] = {}
        self.sizes: list[int] = []
        for sentence in sentences:
            grams = ngrams(normalize(sentence).split())
            if grams:
                for gram in grams:
                    self.index.setdefault(gram, []).append(len(self.sizes))
                self.sizes.append(len(grams))

    def covered(self, grams: set[tuple[str, ...]]) -> list[int]:
        """Ids of the reference sentences with half or more of their N-grams among `grams`."""
        hits = Counter(i for gram in grams for i in self.index.get(gram, ()))
        return [i for i, count in hits.items() if 2 * count >= self.sizes[i]]


def read_list(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def filter_text(text: str, dev: Overlap, lj: Overlap, seen: set[int]) -> tuple[list[str], dict]:
    """Sentences kept from one e-text, and its counts (`dropped` says why a whole text was dropped)."""
    counts = {"paragraphs": 0, "dev_paragraphs_dropped": 0, "lj_sentences": 0, "words": 0, "dropped": ""}
    language = LANGUAGE.search(text[:5000])
    if language and language.group(1).lower() != "english":
        counts["dropped"] = f"language {language.group(1)}"
        return [], counts
    body = strip_gutenberg(text)
    if body is None:
        counts["dropped"] = "no START marker"
        return [], counts
    passages = []
    for paragraph in paragraphs(body):
        words = normalize(paragraph).split()
        if words:
            passages.append((paragraph, ngrams(words)))
    counts["paragraphs"] = len(passages)
    counts["lj_sentences"] = len(lj.covered(set().union(*(g for _, g in passages))))
    if counts["lj_sentences"] >= LJ_BOOK_SENTENCES:
        counts["dropped"] = "LJ Speech source"
        return [], counts
    sentences = []
    for paragraph, grams in passages:
        if dev.covered(grams):
            counts["dev_paragraphs_dropped"] += 1
        else:
            sentences += paragraph_sentences(paragraph)[0]
    long = [hash(s) for s in sentences if s.count(" ") >= 5]
    if long and sum(h in seen for h in long) >= DUPLICATE_SHARE * len(long):
        counts["dropped"] = "duplicate"
        return [], counts
    seen.update(long)
    counts["words"] = sum(s.count(" ") + 1 for s in sentences)
    return sentences, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("list", type=Path, help="gutenberg.tsv")
    parser.add_argument("raw_dir", type=Path, help="the folder of the e-texts the list names")
    parser.add_argument("data_dir", type=Path, help="../shared/data")
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args()
    rows = read_list(args.list)
    missing = [row["file"] for row in rows if not (args.raw_dir / row["file"]).is_file()]
    if missing:
        raise SystemExit(f"{args.raw_dir}: {len(missing)} of the {len(rows)} e-texts {args.list.name} names are "
                         f"missing, e.g. {missing[0]} (gutenberg.md says where they come from)")
    dev = Overlap(s for spoken in librispeech(args.data_dir / "librispeech-mini" / "dev-clean-2").values()
                  for s in spoken)
    lj = Overlap(ljspeech(args.data_dir / "ljspeech" / "metadata.csv")[0])
    seen = {hash(s) for s in books(args.data_dir / "books")[0] if s.count(" ") >= 5}
    kept: dict[int, list[str]] = {}
    counts: dict[int, dict] = {}
    for i in sorted(range(len(rows)), key=lambda i: -(args.raw_dir / rows[i]["file"]).stat().st_size):
        kept[i], counts[i] = filter_text(read_text(args.raw_dir / rows[i]["file"]), dev, lj, seen)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    with open(args.out_dir / "gutenberg.txt", "w", encoding="utf-8") as f:
        for i in range(len(rows)):
            f.writelines(s + "\n" for s in kept[i])
    columns = ["paragraphs", "dev_paragraphs_dropped", "lj_sentences", "words", "dropped"]
    with open(args.out_dir / "gutenberg-counts.tsv", "w", encoding="utf-8") as f:
        f.write("\t".join(["file", *columns]) + "\n")
        for i, row in enumerate(rows):
            f.write("\t".join([row["file"], *(str(counts[i][c]) for c in columns)]) + "\n")
    total = Counter(c["dropped"] or "kept" for c in counts.values())
    print(f"{args.out_dir / 'gutenberg.txt'}: {sum(len(s) for s in kept.values())} sentences, "
          f"{sum(c['words'] for c in counts.values())} words from {total['kept']} of {len(rows)} e-texts; "
          f"{sum(c['dev_paragraphs_dropped'] for c in counts.values())} paragraphs dropped for dev-clean-2; "
          f"texts dropped: {dict((k, v) for k, v in total.items() if k != 'kept')}")


if __name__ == "__main__":
    main()
