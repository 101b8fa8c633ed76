"""Keeping native libraries' log lines off the user's terminal.

TensorFlow (and LiteRT) log from C++ straight to file descriptor 2, in absl's format (`E0000 00:00:... util.cc:131]
...`), and ignore TF_CPP_MIN_LOG_LEVEL for the lines they write before their logging is set up; some come later,
on the first operation of their kind (oneDNN's "supports DT_BOOL only on platforms with AVX-512" on a CPU
without it). `silenced()` hides file descriptor 2 for a short step (loading TensorFlow, a conversion); `filtered()`
keeps it open for a long one (a training run, whose progress and errors the user needs) and drops the native log
lines only. ASR_VERBOSE=1 shows everything.
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import threading

# absl's prefix (severity, month and day, time (00:00:<seconds since 1970> before set-up), thread, file:line]),
# and the note it writes before it is set up
ABSL_NOTE = b"WARNING: All log messages before absl::InitializeLog() is called"
NATIVE_LINE = re.compile(rb"[IWEF]\d{4} [\d:.]+ +\d+ [^\s:\]]+:\d+\] |" + re.escape(ABSL_NOTE))


def verbose() -> bool:
    return bool(os.environ.get("ASR_VERBOSE"))


@contextlib.contextmanager
def silenced():
    """File descriptor 2 sent to /dev/null while the block runs (Python exceptions still print, after it is
    restored)."""
    if verbose():
        yield
        return
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


@contextlib.contextmanager
def filtered():
    """File descriptor 2 through a pipe while the block runs: a thread passes everything on to the real stderr
    but the lines that begin with a native log prefix (NATIVE_LINE), so progress bars and messages still show."""
    if verbose():
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    thread = threading.Thread(target=_pass_on, args=(read_end, saved), name="asr-stderr-filter", daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end: the thread reads to its end, then stops
        thread.join(timeout=5)
        if not thread.is_alive():  # else a child process still holds the pipe: the thread keeps writing to saved
            os.close(saved)


def _pass_on(read_end: int, out: int) -> None:
    """Copy `read_end` to `out` until it closes, less NATIVE_LINE lines. A line is judged once it ends (at a
    newline or a carriage return, as progress bars redraw); an unfinished piece is passed on at once unless it
    may be the start of a native line (a native line comes in one write)."""
    pending = b""
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        while chunk := pipe.read(65536):
            pending = _write_kept(pending + chunk, out)
    if pending:
        _write_kept(pending + b"\n", out)


def _write_kept(data: bytes, out: int) -> bytes:
    """Write the lines of `data` that are not native log lines to `out`; return the unfinished end held back."""
    kept, start = [], 0
    for match in re.finditer(rb"[\r\n]", data):
        line = data[start:match.end()]
        if not NATIVE_LINE.match(line):
            kept.append(line)
        start = match.end()
    rest = data[start:]
    if rest and not _may_begin_native(rest):
        kept.append(rest)
        rest = b""
    if kept:
        _write_all(out, b"".join(kept))
    return rest


def _may_begin_native(piece: bytes) -> bool:
    """Whether an unfinished piece (under a pipe's atomic write) may be the start of a native log line."""
    if len(piece) >= 4096:
        return False
    return bool(re.match(rb"[IWEF](\d|$)", piece)) or ABSL_NOTE.startswith(piece[:len(ABSL_NOTE)])


def _write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            data = data[os.write(fd, data):]
        except OSError:  # the terminal went away: nothing left to show it to
            return
