"""recipes/mini_librispeech/gutenberg_text.py: the Project Gutenberg header and licence removed, and passages
holding half or more of an evaluation sentence's 5-grams dropped, on small made-up e-texts."""
import subprocess
import sys

from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "recipes" / "mini_librispeech"))
import gutenberg_text  # noqa: E402

SCRIPT = REPO_ROOT / "recipes" / "mini_librispeech" / "gutenberg_text.py"

ETEXT = """The Project Gutenberg EBook of A Tale, by Somebody

This eBook is for the use of anyone anywhere at no cost.

Title: A Tale

Language: English

*** START OF THIS PROJECT GUTENBERG EBOOK A TALE ***




Produced by Some Volunteers


[Illustration: A house]

It was a dark night.  The wind
blew hard.

"Who is there?" she cried.

End of the Project Gutenberg EBook of A Tale, by Somebody

*** END OF THIS PROJECT GUTENBERG EBOOK A TALE ***

***** This file should be named 1234.txt or 1234.zip *****
1.E.  Unless you have removed all references to Project Gutenberg: the licence.
"""


def test_strips_header_licence_and_boilerplate():
    body = gutenberg_text.strip_gutenberg(ETEXT)
    assert "START OF" not in body and "END OF" not in body and "licence" not in body
    assert gutenberg_text.paragraphs(body) == ["It was a dark night. The wind blew hard.",
                                               '"Who is there?" she cried.']


def test_start_marker_wrapped_onto_two_lines_and_missing():
    text = "Header\n***START OF THE PROJECT GUTENBERG EBOOK A VERY\nLONG TITLE***\n\nBody text.\n"
    assert gutenberg_text.paragraphs(gutenberg_text.strip_gutenberg(text)) == ["Body text."]
    assert gutenberg_text.strip_gutenberg("No markers at all.\n") is None


def test_five_gram_filter_drops_passages_holding_half_of_a_sentence():
    overlap = gutenberg_text.Overlap(["one two three four five six seven"])  # three 5-grams
    assert overlap.covered(gutenberg_text.ngrams("zero one two three four five six".split())) == [0]  # 2 of 3
    assert overlap.covered(gutenberg_text.ngrams("one two three four five".split())) == []  # 1 of 3
    assert gutenberg_text.Overlap(["too short"]).sizes == []  # under five words: nothing to match


def test_script_filters_dev_clean_2_and_ljspeech_books(tmp_path):
    data = tmp_path / "data"
    chapter = data / "librispeech-mini" / "dev-clean-2" / "84" / "1"
    chapter.mkdir(parents=True)
    (chapter / "84-1.trans.txt").write_text("84-1-0000 THE WIND BLEW HARD AND LONG\n")
    (data / "ljspeech").mkdir()
    lj = [f"LJ1-{i}|the prisoner number {w} was taken away at once|the prisoner number {w} was taken away at once"
          for i, w in enumerate(["one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                                 "fifteen sixteen seventeen eighteen nineteen twenty"][0].split())]
    (data / "ljspeech" / "metadata.csv").write_text("\n".join(lj) + "\n")
    (data / "books").mkdir()
    (data / "books" / "01-a.txt").write_text("A book already in the books folder is here for all of us.\n")
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "tale.txt").write_text(ETEXT.replace("It was a dark night.  The wind\nblew hard.",
                                                "The wind blew hard and long that night.\n\nIt was dark."))
    (raw / "newgate.txt").write_text(ETEXT.replace("It was a dark night.", " ".join(r.split("|")[2] + "." for r in lj)))
    (raw / "copy.txt").write_text(ETEXT.replace("It was a dark night.",
                                                "A book already in the books folder is here for all of us."))
    (raw / "french.txt").write_text(ETEXT.replace("Language: English", "Language: French"))
    (tmp_path / "list.tsv").write_text("file\tebook\ttitle\tauthor\tpublished_by\n"
                                       "tale.txt\t1\tA Tale\tSomebody\t1900\nnewgate.txt\t2\tN\tX\t1900\n"
                                       "copy.txt\t3\tC\tY\t1900\nfrench.txt\t4\tF\tZ\t1900\n")
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path / "list.tsv"), str(raw), str(data), str(out)],
                         check=False, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert (out / "gutenberg.txt").read_text() == "it was dark\nwho is there\nshe cried\n"
    rows = [line.split("\t") for line in (out / "gutenberg-counts.tsv").read_text().splitlines()]
    assert rows[0] == ["file", "paragraphs", "dev_paragraphs_dropped", "lj_sentences", "words", "dropped"]
    assert rows[1] == ["tale.txt", "3", "1", "0", "8", ""]
    assert rows[2][3:] == ["20", "0", "LJ Speech source"]
    assert rows[3][5] == "duplicate"
    assert rows[4][5] == "language French"
