"""`asr stream`: live transcription in the terminal, from a microphone (sounddevice) or from a file as if live.

The work is asr/live/streaming.py's StreamingTranscriber (two passes: partials from the streaming model, finals
decoded again by the final model on a thread of their own, picked up between blocks; or one pass); this module
only moves audio into it and events out of it:
  microphone  sounddevice.InputStream -> its callback puts blocks in a queue -> the main thread feeds them
  --source    the file read in blocks of --block-ms, each fed when the wall clock reaches its end (or at once
              with --fast)
Output: a live line of partials replaced by each final (stdout a terminal), finals only (stdout not a terminal),
or one JSON event per line (--format jsonl). Ctrl-C (or SIGTERM) stops the input, flushes the open utterance
and exits 0. sounddevice (and its PortAudio library) is imported only for the microphone.
"""
from __future__ import annotations

import contextlib
import json
import queue
import shutil
import signal
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

CLEAR_LINE = "\r\033[K"  # back to the start of the line and clear it
POLL_S = 0.05  # how often the main thread looks at the stop flag while it waits
NO_DEVICE_HINT = "use --list-devices to see the devices, or --source FILE to read a file"


class _Stop:
    """Set by SIGINT/SIGTERM: the main loop ends at its next check, so a feed() is never cut in half.
    A second Ctrl-C raises KeyboardInterrupt as usual."""

    def __init__(self):
        self.requested = False

    def __call__(self, signum, frame):
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True


@contextlib.contextmanager
def _stop_on_signals():
    stop = _Stop()
    saved = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            saved[sig] = signal.signal(sig, stop)
        except ValueError:  # not the main thread: no handler, Ctrl-C raises as usual
            pass
    try:
        yield stop
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def _error(message: str) -> None:
    print(f"asr: error: {message}", file=sys.stderr, flush=True)


class Printer:
    """Writes events to `out`: "text" (a live partial line on a terminal, finals as lines) or "jsonl"."""

    def __init__(self, fmt: str, out=None):
        self.out = out or sys.stdout
        self.fmt = fmt
        self.live = fmt == "text" and self.out.isatty()
        self.partial_shown = False

    def __call__(self, events) -> None:
        for event in events:
            if self.fmt == "jsonl":
                self.out.write(json.dumps(event.to_dict()) + "\n")
            elif event.type == "final":  # an empty final (nothing recognised) only clears the partial
                self.out.write((CLEAR_LINE if self.partial_shown else "") + (event.text + "\n" if event.text else ""))
                self.partial_shown = False
            elif self.live:
                width = shutil.get_terminal_size().columns - 1  # a wrapped line could not be cleared
                self.out.write(CLEAR_LINE + event.text[-width:] if width > 0 else CLEAR_LINE)
                self.partial_shown = True
        if events:
            self.out.flush()

    def close(self) -> None:
        if self.partial_shown:
            self.out.write(CLEAR_LINE)
            self.out.flush()
            self.partial_shown = False


# -- devices ---------------------------------------------------------------------------------------------------

def _sounddevice():
    """The sounddevice module, or None (after one error line) when PortAudio is missing."""
    try:
        import sounddevice
    except OSError as e:  # sounddevice raises OSError when the PortAudio library cannot be loaded
        _error(f"no audio input device: PortAudio is not available ({e}); install libportaudio2, "
               f"or use --source FILE to read a file")
        return None
    return sounddevice


def _input_devices(sd) -> list[dict]:
    try:
        return [d for d in sd.query_devices() if d["max_input_channels"] > 0]
    except sd.PortAudioError:
        return []


def _default_input(sd) -> int | None:
    try:
        return sd.query_devices(kind="input")["index"]
    except (sd.PortAudioError, ValueError):  # "Error querying device -1": no default input
        return None


def list_devices() -> int:
    """Print the input devices (index, channels, default rate, name; the default marked with *)."""
    sd = _sounddevice()
    if sd is None:
        return 2
    devices = _input_devices(sd)
    if not devices:
        _error("no audio input device found (is a sound server such as PulseAudio running?)")
        return 2
    default = _default_input(sd)
    print(f"  {'index':>5}  {'channels':>8}  {'rate Hz':>7}  name")
    for d in devices:
        mark = "*" if d["index"] == default else " "
        print(f"{mark} {d['index']:>5}  {d['max_input_channels']:>8}  {d['default_samplerate']:>7.0f}  {d['name']}")
    print("(* the default input)")
    return 0


def find_device(sd, wanted: str | None) -> dict:
    """The input device for --device (an index, or a case-insensitive part of a name; an exact name wins),
    or the default input. ValueError with a one-line reason when there is none."""
    devices = _input_devices(sd)
    if not devices:
        raise ValueError("no audio input device found (is a sound server such as PulseAudio running?)")
    if wanted is None:
        default = _default_input(sd)
        for d in devices:
            if d["index"] == default:
                return d
        raise ValueError("no default audio input device")
    if wanted.strip().isdigit():
        for d in devices:
            if d["index"] == int(wanted):
                return d
        raise ValueError(f"no audio input device with index {wanted}")
    matches = [d for d in devices if wanted.lower() in d["name"].lower()]
    exact = [d for d in matches if d["name"].lower() == wanted.lower()]
    if not matches:
        raise ValueError(f"no audio input device named like {wanted!r}")
    return (exact or matches)[0]


# -- run -------------------------------------------------------------------------------------------------------

def run(args, load_live) -> int:
    """`asr stream`: from args.source (a file) or the microphone; `load_live(args)` gives the models (streaming,
    final or None)."""
    if args.block_ms <= 0:
        _error(f"--block-ms must be positive, got {args.block_ms}")
        return 2
    if args.source:
        from asr.audio.load import AudioError, duration_s
        try:
            duration_s(args.source)  # a bad file is reported before the model loads
        except AudioError as e:
            _error(str(e))
            return 1
        return _run_file(args, *load_live(args))
    sd = _sounddevice()
    if sd is None:
        return 2
    try:
        device = find_device(sd, args.device)
    except ValueError as e:
        _error(f"{e}; {NO_DEVICE_HINT}")
        return 2
    rate = int(args.sample_rate or device["default_samplerate"])
    try:
        sd.check_input_settings(device=device["index"], samplerate=rate, channels=1, dtype="float32")
    except (sd.PortAudioError, ValueError) as e:
        _error(f"audio input device {device['name']!r} cannot record at {rate} Hz ({e}); try another --sample-rate")
        return 2
    return _run_microphone(args, sd, device, rate, *load_live(args))


@contextlib.contextmanager
def _transcriber(model, final_model, sample_rate: int):
    """A StreamingTranscriber whose finals (two passes) are decoded on a thread of their own."""
    from asr.live.streaming import StreamingTranscriber
    if final_model is None:
        yield StreamingTranscriber(model, sample_rate=sample_rate)
        return
    with ThreadPoolExecutor(1, thread_name_prefix="asr-final") as pool:
        yield StreamingTranscriber(model, sample_rate=sample_rate, final_model=final_model, executor=pool)


def _closing(stream, started: float) -> None:
    print(f"asr: streamed {stream.heard_s:.1f} s of audio in {time.monotonic() - started:.1f} s",
          file=sys.stderr, flush=True)


def _run_file(args, model, final_model) -> int:
    with _transcriber(model, final_model, model.sample_rate_hz) as stream:
        return _play_file(args, stream)


def _play_file(args, stream) -> int:
    from asr.audio.load import AudioError, stream_audio
    rate = stream.rate
    show = Printer(args.format)
    fed = 0  # samples fed so far
    started = time.monotonic()
    try:
        with _stop_on_signals() as stop:
            for block in stream_audio(args.source, rate, block_s=args.block_ms / 1000):
                if not args.fast:  # the block "arrives" when the wall clock reaches its end
                    due = started + (fed + len(block)) / rate
                    while not stop.requested and time.monotonic() < due:
                        time.sleep(min(POLL_S, max(due - time.monotonic(), 0)))
                        show(stream.poll())
                if stop.requested:
                    break
                show(stream.feed(block))
                fed += len(block)
            show(stream.finish())
    except AudioError as e:  # the file went bad part-way: what was heard is still flushed
        show(stream.finish())
        _error(str(e))
        return 1
    finally:
        show.close()
    _closing(stream, started)
    return 0


def _run_microphone(args, sd, device: dict, rate: int, model, final_model) -> int:
    with _transcriber(model, final_model, rate) as stream:
        return _listen(args, sd, device, rate, stream)


def _listen(args, sd, device: dict, rate: int, stream) -> int:
    blocks: queue.Queue[np.ndarray] = queue.Queue()
    overflows = []

    def callback(indata, frames, time_info, status):  # PortAudio's thread: copy and hand over, nothing more
        if status.input_overflow:
            overflows.append(frames)
        blocks.put(indata[:, 0].copy())

    show = Printer(args.format)
    try:
        mic = sd.InputStream(device=device["index"], samplerate=rate, channels=1, dtype="float32",
                             blocksize=max(1, round(rate * args.block_ms / 1000)), callback=callback)
    except (sd.PortAudioError, ValueError) as e:
        _error(f"cannot open audio input device {device['name']!r} at {rate} Hz ({e}); {NO_DEVICE_HINT}")
        return 2
    started = time.monotonic()
    try:
        with _stop_on_signals() as stop:
            with mic:
                print(f"asr: listening to {device['name']!r} at {rate} Hz (Ctrl-C to stop)", file=sys.stderr,
                      flush=True)
                while not stop.requested and mic.active:
                    try:
                        block = blocks.get(timeout=POLL_S)
                    except queue.Empty:
                        show(stream.poll())
                        continue
                    show(stream.feed(block))
            while not blocks.empty():  # what was captured before the input stopped
                show(stream.feed(blocks.get()))
            show(stream.finish())
    finally:
        show.close()
    if overflows:
        print(f"asr: warning: the input overflowed {len(overflows)} time(s): some audio was lost", file=sys.stderr)
    _closing(stream, started)
    return 0
