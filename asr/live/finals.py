"""The pieces of a live stream's second pass: the open utterance's samples, and the finals being decoded.

`SampleBuffer` holds a stream's recent samples as the chunks that came in (nothing is copied until a slice is
asked for); its owner drops what it no longer needs, so it holds about one utterance. `FinalQueue` holds the
finals of ended utterances in stream order: each is computed at once (no executor) or on an executor (a thread
pool, so that decoding one does not hold up the stream's partials), and comes out only after every earlier one.
A computation may also be started before its place in the queue is known (`start()`, then `add()`: a final decoded
speculatively at a pause) and is queued once its utterance ends. A computation whose event is None (an utterance
with no words) gives no event.
"""
from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor, Future

import numpy as np


class SampleBuffer:
    """Samples [first, end) of a stream, as sample indices from the start of the stream."""

    def __init__(self):
        self._chunks: deque[np.ndarray] = deque()
        self.first = 0  # index of the first sample held
        self.end = 0  # index one past the last sample held

    def __len__(self) -> int:
        return self.end - self.first

    def append(self, samples: np.ndarray) -> None:
        if len(samples):
            self._chunks.append(samples)
            self.end += len(samples)

    def drop_until(self, index: int) -> None:
        """Forget the samples before `index`."""
        index = min(max(index, self.first), self.end)
        while self._chunks and self.first + len(self._chunks[0]) <= index:
            self.first += len(self._chunks.popleft())
        if index > self.first:
            self._chunks[0] = self._chunks[0][index - self.first:]
            self.first = index

    def slice(self, start: int, stop: int) -> np.ndarray:
        """The samples [start, stop) (clipped to those held), float32 [samples]."""
        start, stop = max(start, self.first), min(stop, self.end)
        if stop <= start:
            return np.zeros(0, np.float32)
        out, at = [], self.first
        for chunk in self._chunks:
            lo, hi = max(start - at, 0), min(stop - at, len(chunk))
            if lo < hi:
                out.append(chunk[lo:hi])
            at += len(chunk)
            if at >= stop:
                break
        return np.concatenate(out).astype(np.float32, copy=False)


class FinalQueue:
    """Finals in stream order; `ready()` may be called from another thread than `put()` and `add()`."""

    def __init__(self, executor: Executor | None = None):
        self.executor = executor
        self._queue: deque[tuple[Future, Callable | None]] = deque()  # (computation, its result -> its event)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._queue)

    def start(self, compute: Callable, *args) -> Future:
        """`compute(*args)` begun on the executor, or run now (no executor); not queued until add()."""
        if self.executor is not None:
            return self.executor.submit(compute, *args)
        future = Future()
        try:
            future.set_result(compute(*args))
        except Exception as e:  # noqa: BLE001 - raised again, in order, by ready()
            future.set_exception(e)
        return future

    def add(self, future: Future, then: Callable | None = None) -> None:
        """Queue a computation from start(): its event is `then(result)` (computed by ready()), or the result."""
        with self._lock:
            self._queue.append((future, then))

    def put(self, compute: Callable, *args) -> None:
        """Queue `compute(*args)` (an event, or None for no event): run now, or on the executor."""
        self.add(self.start(compute, *args))

    def ready(self) -> list:
        """The events whose computation is done and whose predecessors are out, in order (a computation's
        exception is raised here)."""
        out = []
        with self._lock:
            while self._queue and self._queue[0][0].done():
                future, then = self._queue.popleft()
                event = future.result() if then is None else then(future.result())
                if event is not None:
                    out.append(event)
        return out

    def next_pending(self) -> Future | None:
        """The oldest computation not yet taken out by ready(), or None."""
        with self._lock:
            return self._queue[0][0] if self._queue else None

    def wait_all(self) -> list:
        """Every remaining event, once all are computed."""
        with self._lock:
            futures = [future for future, _ in self._queue]
        for future in futures:
            future.exception()  # waits
        return self.ready()
