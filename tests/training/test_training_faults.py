"""Training faults: a run killed with SIGKILL mid-epoch, a crash at every point of writing a checkpoint or a model
directory, and damaged checkpoint and model directories. (A run stopped cleanly at its time limit, and a
checkpoint missing optimizer.npz, are in tests/training/test_train_resume.py and tests/training/test_checkpoint.py.)"""
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from conftest import DIGIT_IDS, write_manifest

import asr.training.checkpoint
import asr.transcribe
from asr import config, models
from asr.cli import main
from asr.training.checkpoint import CheckpointError, latest_training_state, load_model_dir, save_model_dir
from asr.training.train import Trainer

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY = {"model": {"cell": "lstm", "layers": 1, "units": 16, "stack_frames": 3, "dropout": 0.0},
        "train": {"epochs": 1, "batch_frames": 100, "warmup_steps": 2, "spec_augment": False,
                  "validate_utterances": 0, "checkpoint_minutes": 60.0, "keep_checkpoints": 2}}
CFG = config.load(overrides=TINY)


def quiet(*_):
    pass


def weights_of(npz: Path) -> list[np.ndarray]:
    with np.load(npz) as data:
        return [data[k].astype(np.float32) for k in sorted(data.files) if k != "names"]


def same_weights(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


# --- (1) SIGKILL mid-epoch, then the same command again -------------------------------------------------------

KILL_SETTINGS = [f"--set={key}" for key in (
    "model.units=16", "model.layers=1", "model.stack_frames=3", "model.dropout=0.0", "train.epochs=2",
    "train.batch_frames=100", "train.warmup_steps=2", "train.spec_augment=false", "train.validate_utterances=0",
    "train.checkpoint_minutes=0.01", "train.keep_checkpoints=2")]
BAR = re.compile(r"epoch (\d+)/(\d+):[^\r\n]*?\|\s*(\d+)/(\d+) \[")  # tqdm: "epoch 1/2:  40%|####  | 72/180 ["


class Drained:
    """Read a process's stdout and stderr as they come (tqdm writes to stderr at every step: a full pipe would
    stall the run)."""

    def __init__(self, process: subprocess.Popen):
        self.chunks = {"out": [], "err": []}
        self.threads = [threading.Thread(target=self._read, args=(stream, self.chunks[name]), daemon=True)
                        for name, stream in (("out", process.stdout), ("err", process.stderr))]
        for thread in self.threads:
            thread.start()

    @staticmethod
    def _read(stream, chunks):
        for chunk in iter(lambda: stream.read1(65536), b""):
            chunks.append(chunk)

    def text(self, name: str, wait: bool = True) -> str:
        """What came so far; with `wait`, all of it (the process has ended)."""
        for thread in self.threads if wait else ():
            thread.join(timeout=30)
        return b"".join(list(self.chunks[name])).decode(errors="replace")


def checkpoint_states(checkpoints: Path) -> dict[int, dict]:
    """{step: state.json} of the finished checkpoints now on disk (one may vanish while it is read)."""
    states = {}
    for path in checkpoints.glob("step-*"):
        try:
            states[int(path.name[5:])] = json.loads((path / "state.json").read_text())
        except (OSError, ValueError):
            continue
    return states


def test_a_run_killed_mid_epoch_resumes_from_its_newest_checkpoint_and_finishes(tmp_path, sample_rows):
    rows = [sample_rows[i] for i in DIGIT_IDS]
    # 600 clips, about 400 steps an epoch: long enough (seconds, even on a fast idle CPU) for several checkpoints
    # 0.6 s apart to be seen before the kill
    train = write_manifest(tmp_path / "train.jsonl", rows, {i: 200 for i in DIGIT_IDS})
    valid = write_manifest(tmp_path / "valid.jsonl", rows)
    exp = tmp_path / "exp"
    command = [sys.executable, "-m", "asr.cli", "train", "--train", str(train), "--valid", str(valid),
               "--out", str(exp), "--progress", *KILL_SETTINGS]  # the bar, though stderr is a pipe
    env = {**{k: v for k, v in os.environ.items() if k != "ASR_VERBOSE"},
           "TQDM_MININTERVAL": "0", "TQDM_MINITERS": "1"}  # the bar shows every step: the steps done when killed

    first = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    output = Drained(first)
    seen: dict[int, dict] = {}
    kill_at = None
    deadline = time.monotonic() + 400
    try:
        # Poll the checkpoints and the bar. Once three checkpoints were seen and the newest is in the first half of
        # an epoch, kill half a checkpoint interval later: between two checkpoints, in the middle of the epoch.
        while True:
            assert first.poll() is None, f"the run ended before it could be killed:\n{output.text('err')[-2000:]}"
            assert time.monotonic() < deadline, "no mid-epoch checkpoint in time"
            seen.update(checkpoint_states(exp / "checkpoints"))
            bars = BAR.findall(output.text("err", wait=False))
            if bars:
                epoch, _, done_in_epoch, steps_per_epoch = map(int, bars[-1])
                step_now = (epoch - 1) * steps_per_epoch + done_in_epoch
                newest_seen = max(seen, default=0)
                if (kill_at is None and len(seen) >= 3
                        and 0 < seen[newest_seen]["batch_in_epoch"] < steps_per_epoch // 2):
                    gap = newest_seen - max(s for s in seen if s < newest_seen)
                    kill_at = newest_seen + max(1, gap // 2)
                if kill_at is not None and step_now >= kill_at:
                    break
            time.sleep(0.01)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert first.returncode == -signal.SIGKILL

    bars = BAR.findall(output.text("err"))
    epoch, epochs, done_in_epoch, steps_per_epoch = map(int, bars[-1])
    assert epochs == 2 and 0 < done_in_epoch < steps_per_epoch  # killed in the middle of an epoch
    steps_done = (epoch - 1) * steps_per_epoch + done_in_epoch
    newest = latest_training_state(exp / "checkpoints")
    assert newest is not None
    resume_step = int(newest.name[5:])
    steps = sorted(seen | {resume_step: None})
    interval_steps = max(b - a for a, b in itertools.pairwise(steps))  # the most steps between two checkpoints seen
    print(f"killed at step {steps_done} (epoch {epoch}, batch {done_in_epoch} of {steps_per_epoch}); newest "
          f"checkpoint {resume_step}; checkpoints seen {sorted(seen)}")
    assert 0 <= steps_done - resume_step <= interval_steps + 1  # at most one checkpoint interval of work lost

    state = json.loads((newest / "state.json").read_text())
    second = subprocess.run(command, check=False, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=400)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Traceback" not in second.stderr
    assert f"resumed from {newest} (epoch {state['epoch'] + 1}, batch {state['batch_in_epoch']})" in second.stdout
    log = [json.loads(line) for line in (exp / "train_log.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in log] == [1, 2]  # no epoch lost, none done twice
    final = latest_training_state(exp / "checkpoints")
    assert final.name == f"step-{2 * steps_per_epoch:07d}"  # every batch of both epochs trained exactly once
    assert json.loads((final / "state.json").read_text())["epoch"] == 2
    for name in ("best", "last"):
        cfg, _, _ = load_model_dir(exp / name)
        assert cfg.model.units == 16
    assert json.loads((exp / "last" / "metrics.json").read_text())["epoch"] == 2


# --- (2) a crash at any point of a save leaves the previous directory whole -----------------------------------

@pytest.fixture(scope="module")
def experiment(tmp_path_factory, sample_rows) -> dict:
    """One finished epoch of a tiny model on the digits: best/, last/ and checkpoints/step-N."""
    folder = tmp_path_factory.mktemp("faults")
    manifest = write_manifest(folder / "digits.jsonl", [sample_rows[i] for i in DIGIT_IDS], {i: 3 for i in DIGIT_IDS})
    trainer = Trainer(CFG, manifest, manifest, folder / "exp", log=quiet)
    trainer.run()
    return {"exp": folder / "exp", "manifest": manifest, "step": int(trainer.optimizer.iterations.numpy())}


@pytest.fixture
def exp(experiment, tmp_path) -> Path:
    """A fresh copy of the experiment (its feature cache is keyed by the manifest, so it is reused)."""
    return Path(shutil.copytree(experiment["exp"], tmp_path / "exp"))


class Crash(BaseException):
    """The process dies here: nothing after this point runs (no except or finally of the code under test
    catches a BaseException that is not an Exception)."""


FILE_SYSTEM_STEPS = [(os, "replace"), (os, "rename"), (shutil, "rmtree"), (Path, "mkdir"), (Path, "write_text"),
                     (np, "savez"), (np, "savez_compressed"), (asr.training.checkpoint, "save_weights")]


@contextmanager
def crash_before_step(k: int | None, counted: list):
    """Count the file system steps of the code inside (each call of FILE_SYSTEM_STEPS, into `counted`), and
    crash instead of running step `k` (k None: never)."""
    with pytest.MonkeyPatch.context() as patch:
        for owner, name in FILE_SYSTEM_STEPS:
            original = getattr(owner, name)

            def step(*args, _original=original, _name=name, **kwargs):
                if len(counted) == k:
                    raise Crash(f"before step {k}: {_name}")
                counted.append(_name)
                return _original(*args, **kwargs)
            patch.setattr(owner, name, step)
        yield


def crash_points(save) -> list[int]:
    """Every step index of one complete save, found by running it once and counting."""
    counted = []
    with crash_before_step(None, counted):
        save()
    assert "save_weights" in counted, counted
    return list(range(len(counted)))


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2", "two-renames"])
def test_a_crash_at_any_point_of_saving_best_leaves_a_loadable_best(exp, exchange, monkeypatch):
    if not exchange:  # as on a system without renameat2 (macOS, Windows, old glibc)
        monkeypatch.setattr(asr.training.checkpoint, "_exchange", lambda a, b: False)
    elif not asr.training.checkpoint._exchange(exp / "best", exp / "best"):
        pytest.skip("renameat2(RENAME_EXCHANGE) is not available here")
    cfg, vocab, model = load_model_dir(exp / "best")
    old = weights_of(exp / "best" / "model.npz")
    for w in model.trainable_weights:
        w.assign(w + 0.5)
    pristine = exp.parent / "pristine-best"
    shutil.copytree(exp / "best", pristine)

    def save():
        save_model_dir(exp / "best", cfg, vocab, model, metrics={"valid_wer": 0.0})
    points = crash_points(save)
    new = weights_of(exp / "best" / "model.npz")
    assert not same_weights(new, old)
    for k in points:
        shutil.rmtree(exp / "best")
        shutil.copytree(pristine, exp / "best")
        with crash_before_step(k, []), pytest.raises(Crash):
            save()
        whole = exp / "best"
        if not exchange and not whole.exists():  # killed between the two renames: the old one waits aside
            whole = exp / ".best.old"
        loaded = weights_of(asr.training.checkpoint.check_model_dir(whole) / "model.npz")
        assert same_weights(loaded, old) or same_weights(loaded, new), f"crash before step {k}"
        load_model_dir(whole)  # config, tokens and weights of one and the same save
        save()  # the next save after a crash succeeds, whatever was left behind
        assert same_weights(weights_of(exp / "best" / "model.npz"), new)
    assert sorted(p.name for p in exp.iterdir() if p.name.startswith(".")) == []  # nothing half-written left


def test_a_crash_at_any_point_of_saving_a_checkpoint_resumes_from_a_whole_one(exp, experiment):
    step = experiment["step"]
    checkpoints = exp / "checkpoints"
    assert [p.name for p in checkpoints.iterdir()] == [f"step-{step:07d}"]
    pristine = exp.parent / "pristine-checkpoints"
    shutil.copytree(checkpoints, pristine)
    trainer = Trainer(CFG, experiment["manifest"], experiment["manifest"], exp, log=quiet)
    old = [w.numpy().copy() for w in trainer.model.weights]
    for w in trainer.model.trainable_weights:  # a step later: other weights, the next step number
        w.assign(w + 0.5)
    trainer.optimizer.iterations.assign_add(1)
    new = [w.numpy().copy() for w in trainer.model.weights]
    points = crash_points(trainer.save_checkpoint)
    assert (checkpoints / f"step-{step + 1:07d}").is_dir()

    for k in points:
        shutil.rmtree(checkpoints)
        shutil.copytree(pristine, checkpoints)
        with crash_before_step(k, []), pytest.raises(Crash):
            trainer.save_checkpoint()
        log = []
        resumed = Trainer(CFG, experiment["manifest"], experiment["manifest"], exp, log=log.append)
        latest = latest_training_state(checkpoints)
        assert latest.name in (f"step-{step:07d}", f"step-{step + 1:07d}"), f"crash before step {k}"
        assert any(line.startswith(f"resumed from {latest} ") for line in log)
        expected = old if latest.name == f"step-{step:07d}" else new
        assert int(resumed.optimizer.iterations.numpy()) == int(latest.name[5:])
        for restored, saved in zip(resumed.model.weights, expected, strict=True):
            np.testing.assert_array_equal(restored.numpy(), saved)


# --- (3) damaged model and checkpoint directories: one line naming what is wrong ------------------------------

def truncate(path: Path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def without_an_array(path: Path):
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.pop(max(k for k in arrays if k != "names"))
    np.savez(path.with_suffix(".tmp.npz"), **arrays)
    os.replace(path.with_suffix(".tmp.npz"), path)


MODEL_DAMAGE = {
    "model.npz missing": (lambda d: (d / "model.npz").unlink(), "missing model.npz"),
    "tokens.txt missing": (lambda d: (d / "tokens.txt").unlink(), "missing tokens.txt"),
    "config.json missing": (lambda d: (d / "config.json").unlink(), "missing config.json"),
    "model.npz truncated": (lambda d: truncate(d / "model.npz"), "model.npz"),
    "model.npz not an npz": (lambda d: (d / "model.npz").write_bytes(b"\x93NUMPY garbage" * 50), "model.npz"),
    "model.npz short of an array": (lambda d: without_an_array(d / "model.npz"), "model.npz"),
    "config.json not JSON": (lambda d: (d / "config.json").write_text('{"model": {"units": 1'), "config.json"),
    "config.json a list": (lambda d: (d / "config.json").write_text("[1, 2]"), "config.json"),
    "config.json of another model": (lambda d: (d / "config.json").write_text(
        (d / "config.json").read_text().replace('"units": 128', '"units": 64')), "model.npz"),
    "tokens.txt empty": (lambda d: (d / "tokens.txt").write_text(""), "tokens.txt"),
}


@pytest.mark.parametrize("damage", MODEL_DAMAGE)
def test_a_damaged_model_directory_is_a_one_line_error_naming_the_file(damage, tmp_path, samples_dir, capsys):
    model_dir = Path(shutil.copytree(models.resolve("digits"), tmp_path / "m"))
    assert json.loads((model_dir / "config.json").read_text())["model"]["units"] == 128
    spoil, names = MODEL_DAMAGE[damage]
    spoil(model_dir)

    code = main(["transcribe", "--model", str(model_dir), str(samples_dir / "fsdd-0_jackson_0.wav")])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""  # a broken --model is a usage error
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"asr: error: {model_dir}: ") and names in err, err

    with pytest.raises(CheckpointError) as caught:  # the Python API says the same
        asr.transcribe.load_model(str(model_dir))
    assert str(caught.value) == err[len("asr: error: "):].rstrip("\n")


CHECKPOINT_DAMAGE = {
    "model.npz missing": (lambda d: (d / "model.npz").unlink(), "missing model.npz"),
    "state.json missing": (lambda d: (d / "state.json").unlink(), "missing state.json"),
    "model.npz truncated": (lambda d: truncate(d / "model.npz"), "model.npz"),
    "optimizer.npz not an npz": (lambda d: (d / "optimizer.npz").write_bytes(os.urandom(500)), "optimizer.npz"),
    "optimizer.npz truncated": (lambda d: truncate(d / "optimizer.npz"), "optimizer.npz"),
    "state.json not JSON": (lambda d: (d / "state.json").write_text('{"epoch": '), "state.json"),
}


@pytest.mark.parametrize("damage", CHECKPOINT_DAMAGE)
def test_resuming_from_a_damaged_checkpoint_is_a_one_line_error_naming_the_file(damage, exp, experiment):
    newest = latest_training_state(exp / "checkpoints")
    spoil, names = CHECKPOINT_DAMAGE[damage]
    spoil(newest)
    with pytest.raises(CheckpointError) as caught:
        Trainer(CFG, experiment["manifest"], experiment["manifest"], exp, log=quiet)
    message = str(caught.value)
    assert message.startswith(f"{newest}: ") and names in message and "\n" not in message, message


def test_asr_train_on_a_damaged_checkpoint_is_a_one_line_usage_error(exp, experiment, capsys):
    (latest_training_state(exp / "checkpoints") / "state.json").write_text("{")
    manifest = str(experiment["manifest"])
    code = main(["train", "--train", manifest, "--valid", manifest, "--out", str(exp),
                 *(f"--set={k}" for k in ("model.units=16", "model.layers=1", "model.stack_frames=3"))])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("asr: error: ") == 1 and "state.json" in err and "Traceback" not in err


def test_a_crash_after_an_epoch_is_logged_but_before_its_checkpoint_does_not_log_it_twice(
        experiment, tmp_path, monkeypatch):
    exp = tmp_path / "exp"
    first = Trainer(CFG, experiment["manifest"], experiment["manifest"], exp, log=quiet)

    def killed(*_):
        raise Crash("after the epoch was validated, logged and kept in best/")
    monkeypatch.setattr(first, "save_checkpoint", killed)
    with pytest.raises(Crash):
        first.run()
    assert (exp / "best").is_dir() and [json.loads(line)["epoch"] for line in
                                        (exp / "train_log.jsonl").read_text().splitlines()] == [1]
    Trainer(CFG, experiment["manifest"], experiment["manifest"], exp, log=quiet).run()
    assert [json.loads(line)["epoch"] for line in (exp / "train_log.jsonl").read_text().splitlines()] == [1]
