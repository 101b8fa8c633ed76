"""recipes/mini_librispeech/synth.py and synth_filter.py: which book sentences a voice may speak, the voice and
settings each sentence gets, train and test sentences apart, clips that resume, and the Whisper read-back filter's
decisions; one real synthesis with flite or espeak-ng where installed."""
import json
import shutil
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile
from conftest import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "recipes" / "mini_librispeech"))
import synth  # noqa: E402
import synth_filter  # noqa: E402


@pytest.mark.parametrize("sentence, spoken", [
    ("The old man looked at the sea, and wondered.", "The old man looked at the sea, and wondered."),
    ("  He said _never_ again,\n to-day!  ", "He said never again, to-day!"),  # emphasis marks, spaces
    ("\u201cWhy,\u201d said she, \u201cit is not so.\u201d", "\u201cWhy,\u201d said she, \u201cit is not so.\u201d"),
])
def test_a_plain_sentence_is_spoken_as_written(sentence, spoken):
    assert synth.speakable(sentence) == spoken


@pytest.mark.parametrize("sentence", [
    "He paid 20 shillings for the old grey horse.",          # a digit
    "Mr. Smith walked slowly down the long road.",           # an abbreviation
    "And then J. Smith walked slowly down the road.",        # an initial
    "It was in CHAPTER the first that he spoke.",            # an all-capital word
    "He gave the book to Louis XIV and his court.",          # a Roman numeral
    "The price of the house was five pounds & more.",        # a symbol the normaliser drops
    "She sat down in the caf\u00e9 by the quiet river.",       # an accent a voice reads its own way
    "and so the long line of verse goes on and on",          # not a finished sentence
    "Go away now.",                                          # under five words
    " ".join(["word"] * 31) + ".",                           # over thirty
])
def test_a_sentence_the_normaliser_would_not_write_as_spoken_is_dropped(sentence):
    assert synth.speakable(sentence) is None


def write_books(folder, paragraphs_by_book):
    folder.mkdir(parents=True, exist_ok=True)
    for name, paragraphs in paragraphs_by_book.items():
        (folder / name).write_text("\n".join(paragraphs) + "\n", encoding="utf-8")
    return folder


BOOK = ["It was a bright cold day in the month of April. The clocks were striking loudly in the hall.",
        "She turned away from the window and sat down. He had 3 dogs.",
        "It was a bright cold day in the month of April."]  # a duplicate


def test_the_pool_is_every_speakable_sentence_once_shuffled_by_the_seed(tmp_path):
    books = write_books(tmp_path / "books", {"a.txt": BOOK, "b.txt": ["Nobody knew where the old road went at night."]})
    pool = synth.sentence_pool(books, tmp_path / "missing.csv", seed=0, log=lambda _: None)
    expected = {"It was a bright cold day in the month of April.", "The clocks were striking loudly in the hall.",
                "She turned away from the window and sat down.", "Nobody knew where the old road went at night."}
    assert sorted(pool) == sorted(expected) and len(pool) == 4
    assert synth.sentence_pool(books, tmp_path / "missing.csv", seed=0, log=lambda _: None) == pool
    orders = {tuple(synth.sentence_pool(books, tmp_path / "missing.csv", seed=s, log=lambda _: None))
              for s in range(6)}
    assert len(orders) > 1  # the seed orders the pool


def test_a_book_holding_ljspeechs_text_is_left_out(tmp_path):
    lj_sentences = [f"{w} the witness stated that the car turned slowly into elm street at noon {x}."
                    for w in ("first", "then", "later", "and", "so") for x in ("today", "again", "once", "twice")]
    metadata = tmp_path / "metadata.csv"
    metadata.write_text("".join(f"LJ{i:03d}|{s}|{s}\n" for i, s in enumerate(lj_sentences)), encoding="utf-8")
    books = write_books(tmp_path / "books", {"lj-source.txt": [" ".join(s.capitalize() for s in lj_sentences)],
                                             "other.txt": ["Nobody knew where the old road went at night."]})
    said = []
    pool = synth.sentence_pool(books, metadata, seed=0, log=said.append)
    assert pool == ["Nobody knew where the old road went at night."]
    assert len(said) == 1 and "lj-source.txt" in said[0] and "LJ Speech" in said[0]


def test_each_training_sentence_gets_one_voice_and_settings_from_the_seed_and_its_index():
    voices = ["flite_awb", "espeak_ng", "kokoro"]
    a = [synth.assign(i, "Some words to say here.", voices, seed=0) for i in range(200)]
    assert a == [synth.assign(i, "Some words to say here.", voices, seed=0) for i in range(200)]
    assert {c.voice for c in a} == set(voices)  # every voice is used, no other
    assert all(c.id == f"{c.voice}-{i:06d}" for i, c in enumerate(a))
    espeak = [c.settings for c in a if c.voice == "espeak_ng"]
    assert len({(s["language"], s["variant"], s["rate"], s["pitch"]) for s in espeak}) > len(espeak) // 2
    assert all(130 <= s["rate"] <= 190 and 25 <= s["pitch"] <= 75 for s in espeak)
    assert [synth.assign(i, "x", voices, seed=1) for i in range(200)] != [
        synth.assign(i, "x", voices, seed=0) for i in range(200)]
    alone = synth.assign(150, "Other words.", voices, seed=0)  # the same whatever else is asked for
    assert (alone.id, alone.voice, alone.settings) == (a[150].id, a[150].voice, a[150].settings)


def test_train_and_test_share_no_sentence_and_the_test_voice_speaks_only_the_test(monkeypatch):
    monkeypatch.setattr(synth, "TEST_POOL", 30)
    pool = [f"Sentence number {i} is here." for i in range(100)]
    train_voices = [v for v in synth.VOICES if v != "piper_joe"]
    train = list(synth.training_clips(pool, train_voices, seed=0))
    test = synth.test_clips(pool, "piper_joe", 20)
    assert len(train) == 70 and len(test) == 20
    assert not {c.text for c in train} & {c.text for c in test}
    assert {c.voice for c in test} == {"piper_joe"} and "piper_joe" not in {c.voice for c in train}
    assert all(c.settings == synth.VOICES["piper_joe"].default for c in test)
    assert [c.text for c in synth.test_clips(pool, "piper_joe", 10)] == [c.text for c in test[:10]]  # a prefix
    with pytest.raises(ValueError, match="at most 30"):
        synth.test_clips(pool, "piper_joe", 31)


@pytest.fixture
def counting_voice(monkeypatch):
    """A voice that speaks a tone of 0.1 s per word at 22.05 kHz and counts what it spoke."""
    spoken = []

    def speak(text, settings, tmp):
        spoken.append(text)
        n = int(0.1 * 22050 * len(text.split()))
        return 0.5 * np.sin(np.arange(n) * 0.05).astype(np.float32), 22050

    voice = synth.Voice("tone", "test", (), lambda rng: {"pitch": int(rng.integers(100))}, speak, {})
    monkeypatch.setitem(synth.VOICES, "tone", voice)
    return spoken


def test_clips_on_disk_are_kept_and_a_rerun_makes_only_what_is_missing(tmp_path, counting_voice):
    pool = [f"This is sentence {w} of the pool." for w in ("one", "two", "three", "four", "five", "six")]
    clips = [synth.assign(i, text, ["tone"], seed=0) for i, text in enumerate(pool)]
    rows, settings, stats = synth.make_clips(clips, tmp_path, None, "train", log=lambda _: None)
    assert len(counting_voice) == 6 and stats["tone"]["clips"] == 6
    info = soundfile.info(str(tmp_path / rows[0]["audio"]))
    assert (info.samplerate, info.channels) == (16000, 1)
    assert rows[0] == {"id": "tone-000000", "audio": "tone/tone-000000.flac", "text": "THIS IS SENTENCE ONE OF THE POOL",
                       "duration_s": 0.7}
    assert settings[0] == {"id": "tone-000000", "voice": "tone", "spoken": pool[0], **clips[0].settings}

    (tmp_path / rows[2]["audio"]).unlink()
    (tmp_path / "tone" / "tone-000004.flac.tmp").write_bytes(b"half a clip")  # an interrupted write
    again, _, stats = synth.make_clips(clips, tmp_path, None, "train", log=lambda _: None)
    assert again == rows
    assert counting_voice[6:] == [pool[2]] and stats["tone"]["made_s"] == pytest.approx(0.7)


def test_a_target_duration_stops_the_clips_once_reached(tmp_path, counting_voice):
    clips = (synth.assign(i, "Five words are said here.", ["tone"], seed=0) for i in range(100))
    rows, _, _ = synth.make_clips(clips, tmp_path, 2.2, "train", log=lambda _: None)
    assert len(rows) == 5  # 0.5 s a clip: 2.0 s < 2.2 s after four, 2.5 s after five


def test_a_failing_engine_skips_its_clip_with_a_one_line_warning(tmp_path, monkeypatch, capsys):
    def fail(text, settings, tmp):
        synth.run_quiet(["sh", "-c", "echo 'Error: no such voice' >&2; exit 3"], "flite -voice nobody")

    monkeypatch.setitem(synth.VOICES, "broken", synth.Voice("broken", "test", (), lambda rng: {}, fail, {}))
    rows, _, stats = synth.make_clips([synth.assign(0, "Five words are said here.", ["broken"], 0)], tmp_path,
                                      None, "train", log=lambda _: None)
    assert rows == [] and stats["broken"]["failed"] == 1
    assert "warning: broken-000000: flite -voice nobody failed: Error: no such voice" in capsys.readouterr().err


def test_bad_arguments_are_one_line_errors(tmp_path, capsys):
    assert synth.main([str(tmp_path), str(tmp_path / "out"), "--voices", "espeak_ng", "--sentences", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"error: {tmp_path / 'books'}: no *.txt books") or err.startswith(
        "error: voice espeak_ng needs espeak-ng")
    assert synth.main([str(tmp_path), str(tmp_path / "out"), "--voices", "piper_joe", "--held-out", "piper_joe",
                       "--hours", "1"]) == 1
    assert capsys.readouterr().err.startswith("error: no training voice left")


@pytest.mark.parametrize("reference, hypothesis, kept", [
    ("THE CAT SAT ON THE MAT", "The cat sat on the mat.", True),           # read back exactly
    ("ONE TWO THREE FOUR FIVE", "One, two, three, four, fine.", True),     # 1 error in 5 words: WER 0.2
    ("ONE TWO THREE FOUR FIVE", "One, two, tree, four, fine.", False),     # 2 errors: 0.4
    ("TO DAY HE WENT HOME", "Today he went home.", False),                 # 2 errors in 5 ("to day" / "today")
    ("THE CAT SAT ON THE MAT", "", False),                                 # nothing heard
])
def test_the_filter_keeps_a_clip_read_back_within_the_wer(reference, hypothesis, kept):
    assert synth_filter.keep(reference, hypothesis, 0.2) is kept


def test_the_filter_writes_the_kept_manifest_and_resumes_from_its_transcripts(tmp_path):
    rows = []
    for i, (voice, text) in enumerate([("flite_awb", "THE CAT SAT ON THE MAT"), ("flite_awb", "A DOG RAN FAST HOME"),
                                       ("kokoro", "THE SUN ROSE OVER THE HILL")]):
        path = tmp_path / voice / f"{voice}-{i:06d}.flac"
        path.parent.mkdir(exist_ok=True)
        soundfile.write(path, np.zeros(1600 * (i + 1), np.float32), 16000)
        rows.append({"id": f"{voice}-{i:06d}", "audio": f"{voice}/{path.name}", "text": text,
                     "duration_s": 0.1 * (i + 1)})
    manifest = tmp_path / "train.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    heard = {1600: "The cat sat on the mat.", 3200: "A frog ran past, Rome.", 4800: "The sun rose over the hill"}
    calls = []

    def transcribe(samples):
        calls.append(len(samples))
        return heard[len(samples)]

    table = synth_filter.filter_manifest(manifest, lambda: transcribe, 0.2, log=lambda _: None)
    kept = [json.loads(line) for line in (tmp_path / "train.kept.jsonl").read_text().splitlines()]
    assert [r["id"] for r in kept] == ["flite_awb-000000", "kokoro-000002"] and kept[0] == rows[0]
    assert [(r["voice"], r["clips"], r["kept"], r["kept_fraction"]) for r in table] == [
        ("flite_awb", 2, 1, 0.5), ("kokoro", 1, 1, 1.0)]
    recogs = (tmp_path / "train.jsonl.readback" / "flite_awb" / "recogs.txt").read_text().splitlines()
    assert recogs[1] == "flite_awb-000001\tref=a dog ran fast home\thyp=a frog ran past rome"
    assert (tmp_path / "train.jsonl.readback" / "kept.tsv").read_text().splitlines()[1].startswith("flite_awb\t2\t1\t0.5")

    assert synth_filter.filter_manifest(manifest, lambda: transcribe, 0.8, log=lambda _: None)[0]["kept"] == 2
    assert len(calls) == 3  # the second run read every transcript from the cache

    for cache in (tmp_path / "train.jsonl.readback").glob("*.tsv"):
        cache.unlink()
    (tmp_path / "train.kept.jsonl").unlink()
    table_jobs = synth_filter.filter_manifest(manifest, lambda: transcribe, 0.2, log=lambda _: None, jobs=2)
    assert table_jobs == table  # two processes, one voice each: the same read-backs, table and kept manifest
    assert [json.loads(line)["id"] for line in (tmp_path / "train.kept.jsonl").read_text().splitlines()] == [
        "flite_awb-000000", "kokoro-000002"]
    assert sorted(p.name for p in (tmp_path / "train.jsonl.readback").glob("*.tsv")) == [
        "flite_awb.tsv", "kept.tsv", "kokoro.tsv"]
    assert len(calls) == 3  # the workers' calls are in their own processes, not this one's list


def test_packing_groups_consecutive_clips_that_fit_the_window_with_a_gap_after_each():
    clips = [SimpleNamespace(id=str(i), duration_s=d) for i, d in enumerate([10.0, 10.0, 10.0, 40.0, 5.0, 5.0])]
    assert [[u.id for u in g] for g in synth_filter.pack(clips, 28.0)] == [["0", "1"], ["2"], ["3"], ["4", "5"]]


def test_each_timed_word_goes_to_the_clip_its_middle_is_in_or_the_nearest():
    spans = [(0.0, 2.0), (3.0, 5.0)]
    words = [(0.1, 0.5, "a"), (1.8, 2.6, "b"), (2.7, 3.2, "c"), (4.0, 4.5, "d")]
    assert synth_filter.split_words(words, spans) == ["a b", "c d"]
    assert synth_filter.split_words([], spans) == ["", ""]


def test_a_packed_read_back_keeps_what_one_clip_at_a_time_keeps_in_fewer_calls(tmp_path):
    texts = ["THE CAT SAT ON THE MAT", "A DOG RAN FAST HOME", "THE SUN ROSE OVER THE HILL"]
    heard = ["The cat sat on the mat.", "A frog ran past, Rome.", "The sun rose over the hill"]
    rows = []
    for i, text in enumerate(texts):
        path = tmp_path / "flite_awb" / f"flite_awb-{i:06d}.flac"
        path.parent.mkdir(exist_ok=True)
        soundfile.write(path, np.full(8000 * (i + 1), 0.1 * (i + 1), np.float32), 16000)  # clip i: 0.1 (i + 1)
        rows.append({"id": f"flite_awb-{i:06d}", "audio": f"flite_awb/{path.name}", "text": text,
                     "duration_s": 0.5 * (i + 1)})
    manifest = tmp_path / "train.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    calls = []

    def transcribe_words(samples):  # "hears" each clip by its level and times its words inside it
        calls.append(len(samples) / 16000)
        words, at = [], 0
        while at < len(samples):
            if abs(samples[at]) < 0.05:
                at += 1
                continue
            level = round(float(samples[at]) * 10) - 1
            end = at + int(np.argmax(np.append(np.abs(samples[at:] - samples[at]) > 0.01, True)))
            spoken = heard[level].split()
            step = (end - at) / 16000 / len(spoken)
            words += [(at / 16000 + k * step, at / 16000 + (k + 1) * step, w) for k, w in enumerate(spoken)]
            at = end
        return words

    table = synth_filter.filter_manifest(manifest, lambda: transcribe_words, 0.2, log=lambda _: None, pack_s=5.0)
    # 0.5 + 1 + 1 + 1 fits 5 s, adding 1.5 + 1 does not: two calls, of 3.5 s and 2.5 s
    assert calls == [pytest.approx(3.5), pytest.approx(2.5)]
    assert [json.loads(line)["id"] for line in (tmp_path / "train.kept.jsonl").read_text().splitlines()] == [
        "flite_awb-000000", "flite_awb-000002"]
    assert (table[0]["clips"], table[0]["kept"]) == (3, 2)
    cached = synth_filter.read_cache(tmp_path / "train.jsonl.readback" / "flite_awb.tsv")
    assert cached == {r["id"]: h for r, h in zip(rows, heard)}


@pytest.mark.parametrize("args, message", [
    (["--jobs", "0"], "--jobs 0: must be at least 1"),
    (["--pack", "40"], "--pack 40: Whisper reads at most 30 s at once"),
])
def test_bad_filter_arguments_are_one_line_errors(tmp_path, capsys, args, message):
    manifest = tmp_path / "train.jsonl"
    manifest.write_text(json.dumps({"id": "flite_awb-000000", "audio": "a.flac", "text": "A", "duration_s": 1}))
    assert synth_filter.main([str(manifest), *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {message}") and err.count("\n") == 1
    assert synth_filter.main([str(tmp_path / "none.jsonl")]) == 1
    assert "none.jsonl: no such manifest" in capsys.readouterr().err


def installed(voice, binary):
    return pytest.param(voice, marks=pytest.mark.skipif(
        shutil.which(binary) is None, reason=f"{binary} is not installed (apt-get install {binary})"), id=voice)


@pytest.mark.parametrize("voice", [installed("espeak_ng", "espeak-ng"), installed("flite_kal", "flite"),
                                   installed("flite_awb", "flite")])
def test_a_real_voice_writes_a_16_khz_mono_clip_of_speech_length(tmp_path, voice):
    text = "The old man looked at the sea and wondered whether the storm would pass."  # 14 words
    clip = synth.assign(0, text, [voice], seed=0)
    rows, _, stats = synth.make_clips([clip], tmp_path, None, "test", log=lambda _: None)
    assert stats[voice]["failed"] == 0
    samples, rate = soundfile.read(tmp_path / rows[0]["audio"])
    assert rate == 16000 and samples.ndim == 1
    assert 2.0 < len(samples) / rate < 9.0 and rows[0]["duration_s"] == pytest.approx(len(samples) / rate, abs=1e-3)
    assert np.sqrt(np.mean(samples ** 2)) > 0.01  # not silence
