"""recipes/mini_librispeech/nbest_study.py: the n-best lists' oracle and their reranking (an analysis the RESULTS
cite), checked on the tiny model so that the script keeps working."""
import itertools
import re
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO_ROOT, copy_with_lm, load_script, write_manifest

from asr.decoding.ctc import collapse

SCRIPT = REPO_ROOT / "recipes" / "mini_librispeech" / "nbest_study.py"


@pytest.fixture(scope="module")
def study():
    return load_script(SCRIPT, "nbest_study")


def test_word_edits(study):
    assert study.word_edits("a b c", "a b c") == 0
    assert study.word_edits("a b c", "a x c d") == 2
    assert study.word_edits("", "a b") == 2 and study.word_edits("a b", "") == 2


def test_ctc_log_likelihood_sums_every_alignment(study, tiny_model_dir):
    from asr.transcribe import Transcriber
    model = Transcriber(tiny_model_dir, lm=False)
    rng = np.random.default_rng(0)
    logits = rng.standard_normal([3, model.vocab.size])
    log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    texts = ["a", "ab", "aa", ""]
    got = study.ctc_log_likelihood(log_probs.astype(np.float32), texts, model)
    for text, value in zip(texts, got):
        target = model.vocab.encode(text)
        total = sum(np.exp(sum(log_probs[t, k] for t, k in enumerate(path)))
                    for path in itertools.product(range(model.vocab.size), repeat=3)
                    if collapse(path, model.vocab.blank_id) == target)
        assert value == pytest.approx(np.log(total), abs=1e-4), text


def test_the_study_runs_and_the_oracle_is_no_worse_than_the_first(tmp_path, tiny_model_dir, sample_rows):
    model = copy_with_lm(tiny_model_dir, tmp_path / "model", sample_rows,
                         {"beam_width": 8, "lm_weight": 0.3, "word_bonus": 0.5})
    manifest = write_manifest(tmp_path / "clips.jsonl", list(sample_rows.values()))
    run = subprocess.run([sys.executable, str(SCRIPT), str(manifest), "--model", str(model), "--rescorer",
                          str(tiny_model_dir), "--weights", "0.5", "--bonuses", "0", "--temperatures", "1",
                          "--top", "4"], capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    rates = dict(re.findall(r"^(.+): ([\d.]+) %$", run.stdout, re.MULTILINE))
    assert set(rates) == {"first (the decoding as it is)", "oracle", "rescored by " + str(tiny_model_dir) +
                          ", weight 0.5, bonus 0.0", "minimum Bayes risk, temperature 1.0, top 4"}
    assert float(rates["oracle"]) <= float(rates["first (the decoding as it is)"])
    assert f"{len(sample_rows)} clips, " in run.stdout
