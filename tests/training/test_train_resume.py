"""Training stops with a checkpoint and resumes where it stopped; damaged checkpoints and unusable clips are
reported, not trained on."""
import json
import shutil

import numpy as np
import pytest
import soundfile

from asr import config
from asr.decoding.text import Vocabulary
from asr.training.checkpoint import CheckpointError
from asr.training.data import load_features
from asr.training.keras_model import output_lengths
from asr.training.train import Trainer, prepare_data

CFG = config.load(overrides={
    "model": {"cell": "lstm", "layers": 1, "units": 16, "stack_frames": 3, "dropout": 0.0},
    "train": {"epochs": 2, "batch_frames": 100, "warmup_steps": 2, "spec_augment": False, "validate_utterances": 0,
              "checkpoint_minutes": 60.0},
})


@pytest.fixture(scope="module")
def stopped_and_resumed(tmp_path_factory, sample_rows):
    """Run 1 stops at its (already passed) time limit after one batch; a copy of that experiment is kept;
    run 2 resumes it to the end. Returns what each stage looked like."""
    folder = tmp_path_factory.mktemp("resume")
    manifest = folder / "digits.jsonl"
    rows = [sample_rows[i] for i in ("0_jackson_0", "7_nicolas_1", "9_yweweler_2")]
    manifest.write_text("".join(json.dumps({**r, "id": f"{r['id']}-{k}"}) + "\n" for r in rows for k in range(3)))
    exp = folder / "exp"
    first = Trainer(CFG, manifest, manifest, exp, log=lambda *a: None)
    stopped_result = first.run(max_minutes=1e-9)
    stopped = {"result": stopped_result, "state": dict(first.state), "steps": int(first.optimizer.iterations),
               "checkpoints": sorted(p.name for p in (exp / "checkpoints").iterdir()),
               "weights": [w.numpy().copy() for w in first.model.weights],
               "train_log": (exp / "train_log.jsonl").exists()}
    shutil.copytree(exp, folder / "stopped")
    log = []
    changed = config.load(overrides={**CFG.to_dict(), "train": {**CFG.to_dict()["train"], "learning_rate": 0.5}})
    second = Trainer(changed, manifest, manifest, exp, log=log.append)
    resumed = {"state": dict(second.state), "steps": int(second.optimizer.iterations), "log": list(log),
               "weights": [w.numpy().copy() for w in second.model.weights], "cfg": second.cfg}
    result = second.run()
    return {"folder": folder, "manifest": manifest, "exp": exp, "stopped": stopped, "resumed": resumed,
            "result": result, "trainer": second}


def test_a_run_stopped_at_the_time_limit_leaves_a_mid_epoch_checkpoint(stopped_and_resumed):
    stopped = stopped_and_resumed["stopped"]
    assert stopped["result"] == {}
    assert stopped["steps"] == 1
    assert stopped["state"]["epoch"] == 0 and stopped["state"]["batch_in_epoch"] == 1
    assert stopped["checkpoints"] == ["step-0000001"]
    assert not stopped["train_log"]  # no epoch finished
    assert stopped_and_resumed["trainer"].steps_per_epoch > 2  # so batch 1 really is mid-epoch


def test_the_next_run_resumes_from_that_batch(stopped_and_resumed):
    resumed, stopped = stopped_and_resumed["resumed"], stopped_and_resumed["stopped"]
    assert resumed["state"]["epoch"] == 0 and resumed["state"]["batch_in_epoch"] == 1
    assert resumed["steps"] == 1
    assert any(line.startswith("resumed from") and "step-0000001" in line for line in resumed["log"])
    for restored, saved in zip(resumed["weights"], stopped["weights"], strict=True):
        np.testing.assert_array_equal(restored, saved)


def test_the_saved_config_wins_over_a_different_one(stopped_and_resumed):
    resumed = stopped_and_resumed["resumed"]
    assert resumed["cfg"] == CFG
    assert any("configuration saved there" in line for line in resumed["log"])


def test_the_resumed_run_finishes_both_epochs_without_repeating_a_batch(stopped_and_resumed):
    trainer, exp = stopped_and_resumed["trainer"], stopped_and_resumed["exp"]
    assert int(trainer.optimizer.iterations) == 2 * trainer.steps_per_epoch
    assert trainer.state["epoch"] == 2 and trainer.state["batch_in_epoch"] == 0
    log = [json.loads(line) for line in (exp / "train_log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in log] == [1, 2]
    assert stopped_and_resumed["result"]["epoch"] == 2
    latest = sorted((exp / "checkpoints").glob("step-*"))[-1]
    assert latest.name == f"step-{2 * trainer.steps_per_epoch:07d}"
    assert json.loads((latest / "state.json").read_text())["epoch"] == 2


def test_a_damaged_checkpoint_is_named_with_its_missing_file(stopped_and_resumed):
    stopped = stopped_and_resumed["folder"] / "stopped"
    (stopped / "checkpoints" / "step-0000001" / "optimizer.npz").unlink()
    manifest = stopped_and_resumed["manifest"]
    with pytest.raises(CheckpointError, match=r"step-0000001.*missing optimizer\.npz"):
        Trainer(CFG, manifest, manifest, stopped, log=lambda *a: None)


def test_clips_too_short_for_their_label_are_filtered(tmp_path, sample_rows):
    short = tmp_path / "short.wav"
    soundfile.write(short, np.random.default_rng(0).normal(0, 0.1, 800).astype(np.float32), 16000)  # 0.05 s
    zero = sample_rows["0_jackson_0"]["audio"]
    probe = tmp_path / "probe.jsonl"
    probe.write_text(json.dumps({"id": "z", "audio": zero, "text": "zero", "duration_s": 0.64}) + "\n")
    frames = int(output_lengths(load_features(probe, CFG.features, progress=False).lengths, CFG.model)[0])
    fits = ("ab" * frames)[:frames]  # no repeated letters: needs exactly `frames` output frames
    one_too_many = ("ab" * frames)[:frames + 1]
    repeat = "aa" + ("ba" * frames)[:frames - 2]  # `frames` letters, but the repeat needs a blank between
    rows = [("short", str(short), "a transcript much longer than one output frame"), ("fits", zero, fits),
            ("too-long", zero, one_too_many), ("repeat", zero, repeat), ("untranscribed", zero, ""),
            ("zero", zero, "zero")]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({"id": i, "audio": a, "text": t, "duration_s": 1.0}) + "\n"
                                for i, a, t in rows))
    log = []
    split = prepare_data(manifest, CFG, Vocabulary(), None, log=log.append)
    assert split.features.ids == ["fits", "zero"]
    assert [len(lab) for lab in split.labels] == [frames, 4]
    assert len(split.features.lengths) == 2
    assert len(log) == 1 and "skipped 4 clip(s)" in log[0]


def test_speed_perturbation_trains_each_clip_once_per_epoch_at_a_drawn_speed(tmp_path, sample_rows):
    """train.speeds = [0.9, 1.0, 1.1]: the split holds every clip at every speed (11 % more frames at 0.9,
    9 % fewer at 1.1); an epoch takes each clip exactly once, the speeds vary from epoch to epoch, and training
    runs, resumes and ends like any other."""
    manifest = tmp_path / "digits.jsonl"
    rows = [sample_rows[i] for i in ("0_jackson_0", "7_nicolas_1", "9_yweweler_2")]
    manifest.write_text("".join(json.dumps({**r, "id": f"{r['id']}-{k}"}) + "\n" for r in rows for k in range(2)))
    cfg = config.load(overrides={**CFG.to_dict(), "train": {**CFG.to_dict()["train"], "speeds": [0.9, 1.0, 1.1]}})
    log = []
    trainer = Trainer(cfg, manifest, manifest, tmp_path / "exp", log=log.append)
    split = trainer.train
    assert len(split.features) == 18 and sorted(np.bincount(split.source)) == [3] * 6
    by_speed = split.features.lengths.reshape(3, 6)  # load order: speed 0.9, 1.0, 1.1
    assert np.all(by_speed[0] > by_speed[1]) and np.all(by_speed[2] < by_speed[1])
    np.testing.assert_allclose(by_speed[0] / by_speed[1], 1 / 0.9, atol=0.03)
    epochs = [split.epoch_indices(seed) for seed in range(20)]
    for chosen in epochs:
        assert sorted(split.source[chosen]) == list(range(6))  # each clip once
    assert len({tuple(c) for c in epochs}) > 1 and {int(i) // 6 for c in epochs for i in c} == {0, 1, 2}
    batches = trainer._batches(0)
    assert sorted(np.concatenate(batches)) == sorted(epochs[CFG.train.seed])
    assert not trainer.valid.source  # validation: speed 1.0 only
    result = trainer.run()
    assert result["epoch"] == 2 and np.isfinite(result["train_loss"])
    assert any("each at one of the speeds 0.9, 1.0, 1.1" in line for line in log)
    saved = json.loads((tmp_path / "exp" / "config.json").read_text())
    assert saved["train"]["speeds"] == [0.9, 1.0, 1.1]
    assert Trainer(config.load(overrides=saved), manifest, manifest, tmp_path / "exp", log=log.append).cfg == cfg


def test_corrupted_copies_join_the_versions_an_epoch_draws_from(tmp_path, sample_rows):
    """train.augment_copies = 2: each clip has its clean version and two corrupted ones (asr/training/augment.py),
    an epoch takes each clip once as one of them, validation stays clean, and training runs."""
    manifest = tmp_path / "digits.jsonl"
    rows = [sample_rows[i] for i in ("0_jackson_0", "7_nicolas_1", "9_yweweler_2")]
    manifest.write_text("".join(json.dumps({**r, "id": f"{r['id']}-{k}"}) + "\n" for r in rows for k in range(2)))
    cfg = config.load(overrides={**CFG.to_dict(), "train": {**CFG.to_dict()["train"], "augment_copies": 2,
                                                            "augment_kinds": ["noise", "gain", "telephone"]}})
    log = []
    trainer = Trainer(cfg, manifest, manifest, tmp_path / "exp", log=log.append)
    split = trainer.train
    assert len(split.features) == 18 and sorted(np.bincount(split.source)) == [3] * 6
    lengths = split.features.lengths.reshape(3, 6)  # load order: clean, copy 1, copy 2
    assert np.all(lengths == lengths[0])  # a corrupted copy keeps its clip's length
    versions = np.split(split.features.frames, split.features.offsets[[6, 12]])
    assert not np.array_equal(versions[0], versions[1]) and not np.array_equal(versions[1], versions[2])
    epochs = [split.epoch_indices(seed) for seed in range(20)]
    assert all(sorted(split.source[c]) == list(range(6)) for c in epochs)  # each clip once
    assert {int(i) // 6 for c in epochs for i in c} == {0, 1, 2}
    assert trainer.valid.source is None and len(trainer.valid.features) == 6  # validation: clean only
    result = trainer.run()
    assert result["epoch"] == 2 and np.isfinite(result["train_loss"])
    assert any("each as recorded or as one of 2 corrupted copies" in line for line in log)


def test_several_training_manifests_are_read_one_after_another_each_with_its_own_cache(tmp_path, sample_rows):
    """prepare_data([A, B]): the clips of both, each version (speed, corrupted copy) of A's clips then B's; every
    manifest caches its own features, so a run that adds a corpus to A computes only the new corpus's."""
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    for path, names in ((a, ("0_jackson_0", "7_nicolas_1")), (b, ("9_yweweler_2",)), (c, ("7_nicolas_1",))):
        path.write_text("".join(json.dumps({**sample_rows[n], "id": f"{path.stem}-{n}"}) + "\n" for n in names))
    cfg = config.load(overrides={**CFG.to_dict(), "train": {**CFG.to_dict()["train"], "speeds": [1.0, 1.1],
                                                            "augment_copies": 1, "augment_kinds": ["gain"]}})
    cache = tmp_path / "cache"
    split = prepare_data([a, b], cfg, Vocabulary(), cache, log=lambda *x: None, speeds=cfg.train.speeds,
                         augment_copies=1)
    ids = ["a-0_jackson_0", "a-7_nicolas_1", "b-9_yweweler_2"]
    assert split.features.ids == ids * 3  # speed 1.0, speed 1.1, the corrupted copy
    assert sorted(np.bincount(split.source)) == [3] * 3
    alone = prepare_data(b, cfg, Vocabulary(), cache, speeds=cfg.train.speeds, augment_copies=1)
    np.testing.assert_array_equal(alone.features.frames[:alone.features.offsets[1]],
                                  split.features.frames[split.features.offsets[2]:split.features.offsets[3]])
    cached = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    assert sum(name.startswith("a-") for name in cached) == 3 and sum(name.startswith("b-") for name in cached) == 3
    again = prepare_data([a, c], cfg, Vocabulary(), cache, speeds=cfg.train.speeds, augment_copies=1)
    assert again.features.ids == ["a-0_jackson_0", "a-7_nicolas_1", "c-7_nicolas_1"] * 3
    assert {n: t for n, t in ((p.name, p.stat().st_mtime_ns) for p in cache.iterdir()) if n in cached} == cached
    assert sum(p.name.startswith("c-") for p in cache.iterdir()) == 3  # only the new manifest's were computed


def test_rerunning_a_finished_run_says_so_and_trains_nothing(tiny_experiment):
    from conftest import TINY_OVERRIDES

    from asr import config
    from asr.training import train
    cfg = config.load(overrides=TINY_OVERRIDES)
    before = (tiny_experiment / "train_log.jsonl").read_text()
    log = []
    result = train.run(cfg, tiny_experiment.parent / "train.jsonl", tiny_experiment.parent / "valid.jsonl",
                       tiny_experiment, log=log.append)
    assert result == {}
    assert any(f"already finished at epoch {cfg.train.epochs} of {cfg.train.epochs}" in line for line in log), log
    assert (tiny_experiment / "train_log.jsonl").read_text() == before


def test_without_a_terminal_progress_is_plain_lines_in_the_log_not_a_bar(stopped_and_resumed, tmp_path, capsys):
    import re
    log = []
    cfg = config.load(overrides={**CFG.to_dict(), "train": {**CFG.to_dict()["train"], "epochs": 1}})
    Trainer(cfg, stopped_and_resumed["manifest"], stopped_and_resumed["manifest"], tmp_path / "exp",
            log=log.append).run()
    lines = [line for line in log if re.fullmatch(r"epoch 1/1: \d+/\d+ batches \(\d+%\), loss \d+\.\d{3}, "
                                                  r"\d+\.\d\d batches/s", line)]
    assert lines and lines[-1].startswith("epoch 1/1: ") and "(100%)" in lines[-1], log
    done = [int(re.match(r"epoch 1/1: (\d+)/", line).group(1)) for line in lines]
    assert done == sorted(set(done))  # each line further on, none twice
    assert "\r" not in capsys.readouterr().err  # no tqdm bar where stderr is not a terminal
