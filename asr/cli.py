"""The `asr` command: a thin layer over the Python API. The only module that parses arguments."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from pathlib import Path

from asr import formats, native_log
from asr.config import STRATEGIES
from asr.formats import FORMATS
from asr.model.exported import FORMATS as EXPORT_FORMATS
from asr.model.exported import QUANTIZE
from asr.models import DEFAULT_MODEL

NEEDS_TENSORFLOW = {"train": "asr train", "export": "asr export"}  # the rest run in NumPy
DEFAULT_STREAMING_MODEL = "english-stream"
STDIN = "-"  # the input path that reads audio from standard input


def _quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class UsageError(Exception):
    """Bad arguments: reported in one line, exit code 2."""


def _import_tensorflow(what: str) -> None:
    """Load TensorFlow once, its start-up messages hidden; a UsageError naming the extra when it is missing."""
    from asr.training import MissingTensorFlow, require_tensorflow
    try:
        with native_log.silenced():
            require_tensorflow(what)
    except MissingTensorFlow as e:
        raise UsageError(str(e)) from None


def _error(message: str) -> None:
    print(f"asr: error: {message}", file=sys.stderr, flush=True)


def cmd_train(args) -> int:
    from asr import config
    from asr.training import train
    overrides = {}
    try:
        for text in args.set or []:
            overrides = config.merge(overrides, config.parse_override(text))
        if args.strategy:
            overrides = config.merge(overrides, {"train": {"strategy": args.strategy}})
        cfg = config.load(args.config, overrides)
    except (ValueError, TypeError, OSError) as e:
        raise UsageError(f"{args.config or '--set'}: {e}") from None
    for manifest in (*args.train, args.valid):
        if not Path(manifest).is_file():
            raise UsageError(f"{manifest}: no such manifest")
    from asr.training.checkpoint import CheckpointError
    from asr.training.distribute import StrategyError
    try:
        with native_log.filtered():  # TensorFlow's native lines can come at any step (oneDNN's, on a first op)
            train.run(cfg, args.train, args.valid, args.out, cache_dir=args.cache_dir,
                      max_minutes=args.max_minutes, progress=args.progress)
    except (CheckpointError, StrategyError) as e:  # a damaged checkpoint or init_from model, no TF_CONFIG, ...
        raise UsageError(str(e)) from None
    return 0


LM_WEIGHT_RANGE = (0.0, 10.0)  # the shipped models' tuned weights are 0.5-1.2
WORD_BONUS_RANGE = (-20.0, 20.0)  # tuned: 1-3


def _positive_int(text: str) -> int:
    """--beam: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, got {text!r}")
    return value


def _number_in(low: float, high: float):
    """A finite number between `low` and `high`, for argparse."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a number from {low:g} to {high:g}, got {text!r}")
        return value
    return parse


def _prior_scale(text: str) -> float:
    """--prior-scale: a finite number of at least 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number of at least 0, got {text!r}")
    return value


def _hotwords(texts) -> dict[str, float]:
    from asr.decoding.fusion import parse_hotword
    try:
        return dict(parse_hotword(t) for t in texts or [])
    except ValueError as e:
        raise UsageError(str(e)) from None


def _load(args):
    """The model named by --model, with --beam (and --hotword); a missing or broken model is a UsageError."""
    hotwords = _hotwords(getattr(args, "hotword", None))
    with warnings.catch_warnings(record=True) as caught, native_log.silenced():
        from asr import load_model
        from asr.model.exported import ExportError
        from asr.models import CheckpointError
        from asr.recognizer import LMFallbackWarning
        try:
            model = load_model(args.model, beam_width=args.beam, use_lexicon=not args.no_lexicon, hotwords=hotwords,
                               lm=False if args.no_lm else (args.lm or True), lm_weight=args.lm_weight,
                               word_bonus=args.word_bonus, prior_scale=args.prior_scale)
        except (FileNotFoundError, CheckpointError, ExportError) as e:
            raise UsageError(str(e)) from None
    for w in caught:  # ours in one line, after stderr is back; the libraries' notes stay hidden
        if issubclass(w.category, LMFallbackWarning):
            print(f"asr: warning: {w.message}", file=sys.stderr, flush=True)
    return model


def _output_name(relative: Path, used: set, suffix: str) -> str:
    """The output file for an input: its path relative to the folder given (a file given itself: its name), with
    `suffix`, and -2, -3, ... before it where an earlier input took that name."""
    stem = relative.with_suffix("").as_posix()
    name, n = stem + suffix, 1
    while name in used:
        n += 1
        name = f"{stem}-{n}{suffix}"
    used.add(name)
    return name


def _inputs(paths) -> list[tuple[str, Path | None, str | None, Path | None]]:
    """(shown path, file or None, error or None, path relative to the folder given) for every input, in the order
    given, folders expanded; "-" is standard input."""
    from asr.audio.load import find_audio_files
    out = []
    for path in paths:
        if path == STDIN:
            out.append((STDIN, STDIN, None, Path("stdin")))
            continue
        files, errors = find_audio_files([path])
        folder = Path(path) if files and files[0] != Path(path) else None  # a folder, walked
        out += [(str(f), f, None, f.relative_to(folder) if folder else Path(f.name)) for f in files]
        out += [(path, None, e, None) for e in errors]
    return out


def _render(fmt: str, rec: dict, result) -> str:
    if fmt == "srt":
        return formats.to_srt(result.words)
    if fmt == "vtt":
        return formats.to_vtt(result.words)
    return {"text": result.text, "jsonl": formats.to_jsonl(rec), "json": json.dumps(rec, indent=2)}[fmt]


def _progress(show: bool, total: int):
    """tqdm bars on stderr (only where it is a terminal, or always with --progress): files, and one long file."""
    from tqdm import tqdm
    files = tqdm(total=total, unit="file", disable=None if show is None else not show, leave=False)
    state = {"bar": None}

    def long_file(done_s: float, total_s: float) -> None:
        if state["bar"] is None:
            state["bar"] = tqdm(total=round(total_s), unit="audio s", disable=files.disable, leave=False)
        state["bar"].update(round(done_s) - state["bar"].n)

    def next_file() -> None:
        """Call after each file."""
        if state["bar"] is not None:
            state["bar"].close()
            state["bar"] = None
        files.update(1)
    return files, long_file, next_file


def _transcribe_one(model, shown: str, path, alternatives: int, progress):
    """(transcript, None, warnings) or (None, one-line error, warnings) for one input; never raises for a bad
    file. `path` STDIN reads the audio from standard input."""
    from asr.audio.load import AudioError, AudioWarning, load_audio_bytes
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AudioWarning)
        try:
            audio = load_audio_bytes(sys.stdin.buffer.read(), STDIN, model.sample_rate_hz) if path == STDIN else path
            outcome = model.transcribe(audio, alternatives=alternatives, progress=progress), None
        except AudioError as e:
            outcome = None, str(e)
        except Exception as e:  # noqa: BLE001 - one bad input must not end the batch
            detail = str(e).splitlines()[0] if str(e) else ""
            outcome = None, f"{shown}: transcription failed ({type(e).__name__}: {detail})"
    notes = [str(w.message) for w in caught if issubclass(w.category, AudioWarning)]
    return (*outcome, notes)


def _print_result(args, shown: str, rendered: str, result, several: bool) -> None:
    if args.format == "text":
        print(f"{shown}\t{result.text}" if several else result.text, flush=True)
        for alt in result.alternatives[1:]:
            print(f"  alternative ({alt.score:.2f}): {alt.text}", flush=True)
    elif args.format in ("srt", "vtt"):
        print(f"==> {shown} <==\n{rendered}" if several else rendered, flush=True)
    elif args.format == "jsonl":
        print(rendered, flush=True)


_WORKER_MODEL = None  # the model a --jobs worker process transcribes with (inherited from the parent by fork)


def _worker_init() -> None:
    from threadpoolctl import threadpool_limits

    from asr.model.network import directions_in_turn
    threadpool_limits(1)  # N processes on N cores: one BLAS thread each,
    directions_in_turn()  # and one thread for the acoustic model


def _worker_transcribe(job):
    shown, path, alternatives = job
    return _transcribe_one(_WORKER_MODEL, shown, path, alternatives, None)


def _transcriptions(model, inputs, args, long_file):
    """(shown, relative path, result, error, warnings) for every input, in input order: here, or in --jobs worker
    processes (forked after the model has loaded, so they share its weights and start at once)."""
    jobs = [(shown, path, args.alternatives) for shown, path, error, _ in inputs if error is None]
    if args.jobs > 1 and len(jobs) > 1 and STDIN not in (path for _, path, _ in jobs):
        import multiprocessing
        global _WORKER_MODEL
        _WORKER_MODEL = model
        context = multiprocessing.get_context("fork")
        with context.Pool(min(args.jobs, len(jobs)), initializer=_worker_init) as pool:
            done = pool.imap(_worker_transcribe, jobs)
            for shown, path, error, relative in inputs:
                yield (shown, relative, None, error, []) if error is not None else (shown, relative, *next(done))
        return
    for shown, path, error, relative in inputs:
        if error is not None:
            yield shown, relative, None, error, []
        else:
            yield (shown, relative, *_transcribe_one(model, shown, path, args.alternatives, long_file))


def cmd_transcribe(args) -> int:
    import time
    if args.alternatives < 1:
        raise UsageError(f"--alternatives must be at least 1, got {args.alternatives}")
    if args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    inputs = _inputs(args.paths)
    for _, _, error, _ in inputs:  # a missing or unreadable path is told at once, not after the model has loaded
        if error is not None:
            _error(error)
    model = None  # no input to transcribe: no model to load
    if any(error is None for _, _, error, _ in inputs):
        model = _load(args)
        with native_log.silenced():  # runtimes print set-up notes on the first call (LiteRT's XNNPACK line)
            model.warm_up()  # a TFLite model's first call, now, so that the real-time factor measures transcription
    out_dir = Path(args.output_dir) if args.output_dir else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    records, used, failed = [], set(), 0
    files_bar, long_file, next_file = _progress(args.progress, len(inputs))
    started, audio_s = time.perf_counter(), 0.0
    for shown, relative, result, error, notes in _transcriptions(model, inputs, args, long_file):
        next_file()
        for note in notes:
            print(f"asr: warning: {note}", file=sys.stderr, flush=True)
        if error is not None:
            failed += 1
            if relative is not None:  # (an input's path was told before the model loaded)
                _error(error)
            records.append(formats.record(shown, error=error))
            if args.format == "jsonl" and not out_dir:
                print(formats.to_jsonl(records[-1]), flush=True)
            continue
        audio_s += result.duration_s
        records.append(formats.record(shown, result))
        rendered = _render(args.format, records[-1], result)
        if args.alternatives > 1 and len(result.alternatives) < args.alternatives:
            print(f"asr: note: {shown}: {len(result.alternatives) or 1} of the {args.alternatives} alternatives "
                  f"asked for exist" + (" (a long file is decoded in segments: one transcript)"
                                         if not result.alternatives else ""), file=sys.stderr, flush=True)
        if out_dir:
            suffix = {"text": ".txt", "jsonl": ".json", "json": ".json", "srt": ".srt", "vtt": ".vtt"}[args.format]
            output = out_dir / _output_name(relative, used, suffix)
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(rendered + "\n", encoding="utf-8")
            records[-1] = {**records[-1], "output": str(output)}
        else:
            _print_result(args, shown, rendered, result, len(inputs) > 1)
    if args.format == "json" and not out_dir:
        print(json.dumps(records, indent=2))
    if out_dir:
        with open(out_dir / "summary.jsonl", "w", encoding="utf-8") as f:
            f.writelines(formats.to_jsonl(r) + "\n" for r in records)
    files_bar.close()
    if not args.quiet:
        wall_s = time.perf_counter() - started
        rtf = f"{wall_s / audio_s:.3f}" if audio_s > 0 else "-"
        print(f"asr: {len(inputs) - failed} of {len(inputs)} file(s) transcribed, {audio_s:.1f} s of audio in "
              f"{wall_s:.1f} s (real-time factor {rtf})", file=sys.stderr, flush=True)
    return 1 if failed else 0


def cmd_evaluate(args) -> int:
    from asr.evaluate import evaluate
    if not Path(args.manifest).is_file():
        raise UsageError(f"{args.manifest}: no such manifest")
    model = _load_streaming(args) if args.streaming else _load(args)
    try:
        summary = evaluate(model, args.manifest, args.out, limit=args.limit, pad_s=args.pad_s,
                           streaming=args.streaming)
    except ValueError as e:  # a malformed manifest line, or nothing readable
        _error(str(e))
        return 1
    return 1 if summary["skipped"] else 0


MODELS_WIDTH = 100  # `asr models` fits a terminal this wide


def cmd_models(args) -> int:
    from asr import models
    from asr.model import ensemble
    if args.name:
        return _model_details(args.name)
    rows = []
    for name in models.shipped():
        path = models.SHIPPED_DIR / name
        info = models.read_metrics(path)
        first = (info.get("evaluations") or [{}])[0]  # each card lists its default decoding first
        measured = f"{first['data']}: WER {first['wer']:.1%}" if "wer" in first else "-"
        rows.append((name + (" (default)" if name == models.DEFAULT_MODEL else ""),
                     f"{ensemble.weights_bytes(path) / 1e6:.1f} MB", f"{info.get('parameters', 0) / 1e6:.2f} M",
                     measured))
    header = ("name", "weights", "params", "measured (default decoding)")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    for row in [header, *rows]:
        line = f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}"
        print(line[:MODELS_WIDTH])
    print("details: asr models NAME")
    return 0


def _model_details(name: str) -> int:
    """One shipped model (or model directory): what it is, its files and every measured score, one per line."""
    import textwrap

    from asr import models
    from asr.model import ensemble
    try:
        path = models.resolve(name)
    except FileNotFoundError as e:
        raise UsageError(str(e)) from None
    info = models.read_metrics(path)
    config = json.loads((path / "config.json").read_text()) if (path / "config.json").is_file() else {}
    model = config.get("model", {})
    networks = len(ensemble.members(path))
    wrap = textwrap.TextWrapper(width=MODELS_WIDTH, subsequent_indent="    ")
    print(f"{name}: {path}")
    if model:
        shape = (f"{model.get('layers')} x {'Bi' if model.get('bidirectional') else ''}"
                 f"{model.get('cell', '').upper()}-{model.get('units')}")
        print(wrap.fill(f"network: {f'{networks} networks, the first ' if networks > 1 else ''}{shape}, "
                        f"{model.get('tokens', 'chars')}; {info.get('parameters', 0):,} parameters, "
                        f"{ensemble.weights_bytes(path) / 1e6:.1f} MB of weights"))
    for e in info.get("evaluations", []):
        print(wrap.fill(f"- {e['data']}: WER {e['wer']:.2%}" + (f", CER {e['cer']:.2%}" if "cer" in e else "")
                        + f" ({e['decoding']})"))
    card = path / "README.md"
    if card.is_file():
        print(f"card: {card}")
    return 0


def cmd_plot(args) -> int:
    from asr.training import plots
    try:
        if args.what == "training":
            out = plots.plot_training(args.target, args.out or Path(args.target) / "training.png")
        else:
            out = plots.plot_alignment(_load(args), args.target, args.out or Path(args.target).stem + "-alignment.png")
    except (OSError, ValueError, RuntimeError) as e:
        _error(str(e))
        return 1
    print(out)
    return 0


def cmd_export(args) -> int:
    if args.format == "savedmodel" and args.quantize != "none":
        raise UsageError("--quantize is for --format tflite (a SavedModel is float32)")
    if args.quantize == "int8" and not args.calibration:
        raise UsageError("--quantize int8 needs --calibration PATH: audio like the model's training audio")
    if args.calibration and args.quantize != "int8":
        raise UsageError("--calibration is only used by --quantize int8")
    calibration = []
    for _, path, error, _ in _inputs(args.calibration or []):
        if error:
            raise UsageError(error)
        calibration.append(path)
    failure = None
    with native_log.silenced():  # the converter prints pages of MLIR notes on file descriptor 2
        from asr.audio.load import AudioError
        from asr.training.checkpoint import CheckpointError
        from asr.training.export import ExportError, export
        try:
            out = export(args.model, args.format, args.out, args.quantize, calibration)
        except (FileNotFoundError, CheckpointError, AudioError) as e:
            raise UsageError(str(e)) from None
        except (ExportError, OSError) as e:
            failure = str(e)
    if failure:
        _error(f"export failed: {failure}")
        return 1
    files = [out] if out.is_file() else [f for f in out.rglob("*") if f.is_file()]
    print(f"{out}\t{sum(f.stat().st_size for f in files) / 1e6:.2f} MB")
    return 0


def cmd_lm(args) -> int:
    from tqdm import tqdm

    from asr.decoding import lm
    from asr.decoding.text import normalize
    if args.order < 1:
        raise UsageError(f"--order must be at least 1, got {args.order}")
    try:
        lm.prune_thresholds(args.prune or (), args.order)
    except ValueError as e:
        raise UsageError(f"--prune: {e}") from None
    for path in args.text + ([args.vocab] if args.vocab else []):
        if not Path(path).is_file():
            raise UsageError(f"{path}: {'not a file' if Path(path).exists() else 'no such file'}")

    def lines():
        for path in args.text:
            with open(path, encoding="utf-8") as f:
                yield from tqdm(f, desc=Path(path).name, unit=" lines", disable=None, leave=False)
    try:
        vocabulary = None
        if args.vocab:  # one word a line, normalised as the text is; a line that is not one word is skipped
            with open(args.vocab, encoding="utf-8") as f:
                vocabulary = [w[0] for w in lm.sentences_from_lines(f, normalize) if len(w) == 1]
        model = lm.estimate(lm.sentences_from_lines(lines(), normalize), order=args.order, prune=args.prune or (),
                            vocabulary=vocabulary)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        lm.write_arpa(model, args.out)
    except (ValueError, OSError) as e:  # not UTF-8 (UnicodeDecodeError is a ValueError), no text, unwritable
        _error(str(e).splitlines()[0])
        return 1
    counts = " ".join(f"{n}-grams={c}" for n, c in enumerate(model.counts, 1))
    print(f"{args.out}\t{counts}\t{Path(args.out).stat().st_size / 1e6:.2f} MB")
    return 0


def _load_streaming(args):
    """The model named by --model (default: the shipped streaming model), checked to be able to stream."""
    args.model = args.model or DEFAULT_STREAMING_MODEL
    model = _load(args)
    with native_log.silenced():
        try:
            model.streaming().warm_up()
        except ValueError as e:  # asr.model.stream.NotStreamable, or a TFLite file
            raise UsageError(str(e)) from None
    return model


def cmd_pack(args) -> int:
    from asr import models
    from asr.decoding.tables import TABLES_DIR
    from asr.models import CheckpointError
    from asr.pack import pack
    failed = 0
    for name in args.models:
        try:
            path = models.resolve(name)
            sizes = pack(path)
        except (FileNotFoundError, CheckpointError) as e:
            raise UsageError(str(e)) from None
        except (OSError, ValueError) as e:
            _error(f"{name}: cannot pack ({str(e).splitlines()[0] if str(e) else type(e).__name__})")
            failed += 1
            continue
        for table, size in sizes.items():
            print(f"{path / TABLES_DIR / table}\t{size / 1e6:.2f} MB")
    return 1 if failed else 0


OWN_DECODING = dict(beam=None, no_lexicon=False, lm=None, no_lm=False, lm_weight=None, word_bonus=None,
                    prior_scale=None)  # a model's own decoding settings (decoding.json), as no options give


def _load_live(args):
    """(streaming model, final model or None) for `asr stream` and `asr serve`. The decoding options go to the
    model that writes the finals: --final-model (default: the one the streaming model's live.json names, else the
    default model), or with --one-pass --model; in
    two passes the streaming model writes partials with its own decoding settings."""
    if args.one_pass:
        return _load_streaming(args), None
    from asr.models import CheckpointError, final_model_for
    stream = _load_streaming(argparse.Namespace(**{**vars(args), **OWN_DECODING}))
    try:
        final_name = args.final_model or final_model_for(args.model or DEFAULT_STREAMING_MODEL)
    except CheckpointError as e:
        raise UsageError(str(e)) from None
    final = _load(argparse.Namespace(**{**vars(args), "model": final_name}))
    return stream, final


def cmd_stream(args) -> int:
    from asr.live import terminal as live
    if args.list_devices:
        return live.list_devices()
    return live.run(args, _load_live)


def cmd_serve(args) -> int:
    from asr.live import server
    return server.run(args, *_load_live(args))


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line (and exit code 2) instead of the whole usage text."""

    def error(self, message: str):
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr, flush=True)
        sys.exit(2)


def _decoding_arguments(p) -> None:
    p.add_argument("--beam", type=_positive_int, metavar="N",
                   help="beam width (1: greedy; default: the model's decoding.json with its LM, else greedy)")
    p.add_argument("--no-lexicon", action="store_true",
                   help="ignore the model's lexicon.txt, and for a phone model its word list (open vocabulary)")
    lm = p.add_mutually_exclusive_group()
    lm.add_argument("--lm", metavar="ARPA|JSON", help="word n-gram LM (ARPA, .arpa.gz; or a mix of LMs described "
                    "in a .json file, see asr/decoding/mixlm.py) instead of the model's own")
    lm.add_argument("--no-lm", action="store_true", help="do not use the model's language model")
    p.add_argument("--lm-weight", type=_number_in(*LM_WEIGHT_RANGE), metavar="W",
                   help=f"LM weight, {LM_WEIGHT_RANGE[0]:g} to {LM_WEIGHT_RANGE[1]:g} (default: the model's "
                        "decoding.json)")
    p.add_argument("--word-bonus", type=_number_in(*WORD_BONUS_RANGE), metavar="B",
                   help=f"bonus per word, {WORD_BONUS_RANGE[0]:g} to {WORD_BONUS_RANGE[1]:g} (default: decoding.json)")
    p.add_argument("--prior-scale", type=_prior_scale, metavar="S",
                   help="with the LM, divide the posteriors by the model's token priors (priors.json) to this power; "
                        "0 turns it off (default: decoding.json)")


def _live_arguments(p) -> None:
    passes = p.add_mutually_exclusive_group()
    passes.add_argument("--final-model", metavar="NAME",
                        help=f"the offline model that decodes each utterance again for its final (shipped name, "
                             f"model directory or .tflite; default: the one the streaming model's live.json names "
                             f"(english-stream: english-phones, digits-stream: digits), else {DEFAULT_MODEL})")
    passes.add_argument("--one-pass", action="store_true",
                        help="finals from the streaming model itself: less accurate, for small machines")
    _decoding_arguments(p)
    p.epilog = ("Two passes: partials from the streaming model (--model), each final decoded again by --final-model. "
                "The decoding options (--beam, --lm, ...) apply to the model that writes the finals.")


def build_parser() -> argparse.ArgumentParser:
    from asr import __version__
    parser = _Parser(prog="asr", description="RNN-CTC speech recognition.")
    parser.add_argument("--version", action="version", version=f"asr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train or resume an acoustic model")
    p.add_argument("--config", help="TOML file of overrides of the defaults in asr/config.py")
    p.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help="one more override (repeatable)")
    p.add_argument("--train", required=True, nargs="+", metavar="MANIFEST",
                   help="training manifest(s) (JSONL); several are read one after another, each with its own "
                        "feature cache")
    p.add_argument("--valid", required=True, help="validation manifest (JSONL), greedy WER every epoch")
    p.add_argument("--out", required=True, help="experiment directory; an existing one is resumed")
    p.add_argument("--cache-dir", help="feature cache directory (default OUT/features)")
    p.add_argument("--max-minutes", type=float, help="stop (with a checkpoint) after this much wall time")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="a progress bar per epoch on stderr (default: when stderr is a terminal; otherwise a plain "
                        "line at every tenth of an epoch)")
    p.add_argument("--strategy", choices=STRATEGIES,
                   help="train.strategy: one device, this host's GPUs, or the hosts in TF_CONFIG "
                        "(recipes/README.md)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("transcribe", help="transcribe audio files or folders")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="audio file or folder (walked recursively); - reads an audio file from standard input")
    p.add_argument("--model",
                   help=f"shipped model name (see `asr models`) or model directory; default: {DEFAULT_MODEL}")
    p.add_argument("--format", choices=FORMATS, default="text")
    _decoding_arguments(p)
    p.add_argument("--output-dir", help="write one file per input here, plus summary.jsonl")
    p.add_argument("--alternatives", type=int, default=1, metavar="N",
                   help="also give the N best hypotheses with their scores (beam search)")
    p.add_argument("--hotword", action="append", metavar="WORD[:BOOST]",
                   help="favour this word in the beam search (repeatable; boost in log units, default 5)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bars on stderr (default: when stderr is a terminal)")
    p.add_argument("--quiet", action="store_true", help="no closing line with the duration and real-time factor")
    p.add_argument("--jobs", type=int, default=1, metavar="N",
                   help="transcribe with N worker processes (results keep the input order; default 1)")
    p.set_defaults(func=cmd_transcribe)

    p = sub.add_parser("evaluate", help="score a model on a manifest: recogs, aligned errors, WER/CER")
    p.add_argument("manifest", help="JSONL manifest with reference texts")
    p.add_argument("--model", help=f"shipped model name or model directory; default: {DEFAULT_MODEL}")
    _decoding_arguments(p)
    p.add_argument("--out", required=True, help="folder for recogs.txt, errs.txt, wer.json, summary.json")
    p.add_argument("--limit", type=int, help="only the first N utterances")
    p.add_argument("--pad-s", type=float, default=0.0, metavar="S",
                   help="put S seconds of faint noise before and after each clip (as live audio has)")
    p.add_argument("--streaming", action="store_true",
                   help="transcribe by streaming each clip in 40 ms chunks (a unidirectional model)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("plot", help="PNG of an experiment's training curves, or of a clip's CTC alignment")
    p.add_argument("what", choices=("training", "alignment"))
    p.add_argument("target", help="experiment directory (training) or audio file (alignment)")
    p.add_argument("--model", help=f"model for an alignment (default: {DEFAULT_MODEL})")
    p.add_argument("--out", help="PNG to write (default: EXP/training.png or CLIP-alignment.png)")
    p.set_defaults(func=cmd_plot, beam=1, no_lexicon=False, no_lm=True, lm=None, lm_weight=None, word_bonus=None,
                   prior_scale=None)

    p = sub.add_parser("export", help="write a SavedModel or TFLite file: waveform in, log-probabilities out")
    p.add_argument("--format", choices=EXPORT_FORMATS, required=True)
    p.add_argument("--quantize", choices=QUANTIZE, default="none",
                   help="tflite only: dynamic (int8 weights) or int8 (weights and activations); default none")
    p.add_argument("--model", help=f"shipped model name or model directory; default: {DEFAULT_MODEL}")
    p.add_argument("--calibration", nargs="+", metavar="PATH",
                   help="audio files or folders like the model's training audio, for --quantize int8")
    p.add_argument("--out", required=True, help="SavedModel directory or .tflite file to write (replaced)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("lm", help="estimate a word n-gram language model (modified Kneser-Ney) as an ARPA file")
    p.add_argument("text", nargs="+", metavar="TEXT_FILE", help="UTF-8 text, one sentence per line (normalised)")
    p.add_argument("--order", type=int, default=3, help="n-gram order (default 3)")
    p.add_argument("--prune", type=int, nargs="+", metavar="COUNT",
                   help="per order, drop n-grams seen at most COUNT times; the last value repeats for higher "
                        "orders (as lmplz: 0 0 1 drops 3-grams and longer seen once)")
    p.add_argument("--vocab", metavar="WORDS_FILE",
                   help="one word a line: the model's vocabulary instead of the text's (other words of the text "
                        "count as <unk>; words the text lacks get the uniform share the unigrams are interpolated "
                        "with)")
    p.add_argument("--out", required=True, help="ARPA file to write (.arpa, or .arpa.gz for gzip)")
    p.set_defaults(func=cmd_lm)

    p = sub.add_parser("stream", help="live transcription from the microphone, or from a file as if live")
    p.add_argument("--model", help=f"the unidirectional model that streams partials (shipped name or "
                                   f"directory); default: {DEFAULT_STREAMING_MODEL}")
    p.add_argument("--source", metavar="FILE", help="read this audio file instead of the microphone")
    p.add_argument("--fast", action="store_true", help="with --source: as fast as possible, not at real-time speed")
    p.add_argument("--device", help="input device: index or (part of its) name, see --list-devices")
    p.add_argument("--list-devices", action="store_true", help="list the input devices and exit")
    p.add_argument("--sample-rate", type=int, metavar="HZ",
                   help="microphone sample rate (default: the device's own; resampled to the model's)")
    p.add_argument("--block-ms", type=float, default=40.0, help="audio block size in milliseconds (default 40)")
    p.add_argument("--format", choices=("text", "jsonl"), default="text",
                   help="text: a live line of partials and one line per final; jsonl: one JSON event per line")
    _live_arguments(p)
    p.set_defaults(func=cmd_stream)

    p = sub.add_parser("serve", help="WebSocket server and web page for live transcription in the browser")
    p.add_argument("--model", help=f"the unidirectional model that streams partials (shipped name or "
                                   f"directory); default: {DEFAULT_STREAMING_MODEL}")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--max-clients", type=int, default=16, help="refuse connections beyond this many (default 16)")
    _live_arguments(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("pack", help="write a model directory's decoding tables (tables/), so that it loads fast")
    p.add_argument("models", nargs="+", metavar="MODEL", help="shipped model name or model directory")
    p.set_defaults(func=cmd_pack)

    p = sub.add_parser("models", help="list the shipped models with their measured WER; NAME: one in detail")
    p.add_argument("name", nargs="?", metavar="NAME", help="a shipped model or model directory to describe")
    p.set_defaults(func=cmd_models)
    return parser


def main(argv=None) -> int:
    _quiet_tensorflow()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command in NEEDS_TENSORFLOW:
            _import_tensorflow(NEEDS_TENSORFLOW[args.command])
        return args.func(args)
    except UsageError as e:
        _error(str(e))
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (e.g. `| head`): stop quietly, as cat does
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
