"""`asr serve`: live transcription in the browser, a WebSocket server and a small web page on one port.

HTTP GET `/` is the page (asr/live/web/index.html), `/app.js` and `/pcm-worklet.js` its scripts; anything else is 404.
The WebSocket is at `/ws`. Protocol, one stream at a time per connection:

    client -> server  {"type": "start", "sample_rate": 48000}   text (JSON); sample_rate optional, default the
                                                                model's; an integer in 8000..192000
    client -> server  <binary>                                  little-endian int16 mono PCM at that rate, any
                                                                whole number of samples (~40-100 ms a message)
    client -> server  {"type": "stop"}                          end of the stream
    server -> client  {"type": "ready", "sample_rate": 48000,   after start, with the models that write the
                       "model": "english-stream",               partials and the finals (null: one pass)
                       "final_model": "english-phones"}
    server -> client  {"type": "partial"|"final", "text": ..., "start_s": ..., "end_s": ..., "words": [...]}
                                                                as they happen (StreamEvent.to_dict; finals carry
                                                                word times in seconds from the stream's start)
    server -> client  {"type": "done"}                          after stop, once the last finals are sent; the
                                                                connection may then start another stream
    server -> client  {"type": "error", "message": ...}         a rejected message (see below)

With a final model (two passes, asr.live.streaming), each final is decoded on the server's pool of final
workers and sent as soon as it is ready, while the stream's partials go on.

Errors: a malformed message (not JSON, nested deeper than MAX_JSON_DEPTH, not an object, unknown type, audio
before start, an odd byte count, start while started, stop before start, a bad sample rate), a text message over
MAX_CONTROL_BYTES or any message over MAX_MESSAGE_BYTES gets an error reply and is otherwise ignored: the
connection and its stream go on. Only these close a connection: a server at --max-clients (error reply, then
close code 1013 "try again later"), a message over MAX_FRAME_BYTES (websockets closes with 1009), and a failure
inside the recognizer (error reply, then 1011). Each connection has its own StreamingTranscriber; its
feed()/finish() run on a thread pool, one call at a time and in arrival order, so a slow client delays only
itself. A client that goes away mid-stream just drops its transcriber; connections and disconnections are
logged at info level (the "asr.serve" logger), failures at error level.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

WEB_DIR = Path(__file__).parent / "web"
PAGES = {"/": ("index.html", "text/html; charset=utf-8"),
         "/app.js": ("app.js", "text/javascript; charset=utf-8"),
         "/pcm-worklet.js": ("pcm-worklet.js", "text/javascript; charset=utf-8")}
WS_PATH = "/ws"
MAX_MESSAGE_BYTES = 1 << 20  # larger messages get an error reply (1 MiB is 33 s of 16 kHz int16 audio)
MAX_CONTROL_BYTES = 1 << 16  # larger text (JSON) messages get an error reply: a control message is tiny
MAX_JSON_DEPTH = 4  # a control message nested deeper gets an error reply (start and stop are flat objects)
MAX_FRAME_BYTES = 4 * MAX_MESSAGE_BYTES  # websockets itself closes the connection above this
MIN_RATE_HZ, MAX_RATE_HZ = 8000, 192000
CLOSE_BUSY, CLOSE_INTERNAL = 1013, 1011
log = logging.getLogger("asr.serve")


class ProtocolError(ValueError):
    """A message the protocol does not allow: reported to the client, the connection goes on."""


def _page_response(connection, request):
    """websockets' process_request: serve the page and its scripts; None lets /ws go on to the handshake."""
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    path = urlsplit(request.path).path
    if path == WS_PATH:
        return None
    if path not in PAGES:
        return connection.respond(404, "Not found\n")
    name, content_type = PAGES[path]
    body = (WEB_DIR / name).read_bytes()
    headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body))),
                       ("Cache-Control", "no-store"), ("Connection", "close")])
    return Response(200, "OK", headers, body)


def _depth(obj, limit: int) -> int:
    """How deeply `obj` nests lists and dicts (a scalar: 0), counted no further than `limit` + 1."""
    if not isinstance(obj, (list, dict)) or limit < 0:
        return 0
    items = obj.values() if isinstance(obj, dict) else obj
    return 1 + max((_depth(v, limit - 1) for v in items), default=0)


def _parse_control(message: str) -> dict:
    size = len(message.encode())
    if size > MAX_CONTROL_BYTES:
        raise ProtocolError(f"text message of {size} bytes is over the limit of {MAX_CONTROL_BYTES}")
    try:
        obj = json.loads(message)
    except RecursionError:
        raise ProtocolError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as e:
        raise ProtocolError(f"not JSON: {e}") from None
    if _depth(obj, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
        raise ProtocolError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if not isinstance(obj, dict):
        raise ProtocolError("a text message must be a JSON object with a 'type'")
    if obj.get("type") not in ("start", "stop"):
        raise ProtocolError(f"unknown message type {obj.get('type')!r} (expected 'start' or 'stop')")
    return obj


def _start_rate(obj: dict, default_hz: int) -> int:
    rate = obj.get("sample_rate", default_hz)
    if isinstance(rate, float) and rate.is_integer():
        rate = int(rate)
    if isinstance(rate, bool) or not isinstance(rate, int) or not MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        raise ProtocolError(f"sample_rate must be an integer from {MIN_RATE_HZ} to {MAX_RATE_HZ}, got {rate!r}")
    return rate


class _Connection:
    """One client: its stream (None when not started) and the protocol state machine."""

    def __init__(self, app: "App", ws):
        self.app, self.ws = app, ws
        self.stream = None
        self.sending = asyncio.Lock()  # batches of events go out whole, in the order they were taken
        self.watcher: asyncio.Task | None = None  # sends the stream's finals as they are decoded

    async def send(self, obj: dict) -> None:
        await self.ws.send(json.dumps(obj))

    async def run_in_pool(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.app.pool, fn, *args)

    async def events(self, events) -> None:
        async with self.sending:
            for event in events:
                await self.send(event.to_dict())

    def watch_finals(self) -> None:
        """Send the stream's finals when their decoding (on the final workers) is done."""
        if self.stream is not None and self.stream.next_pending_final() is not None and \
                (self.watcher is None or self.watcher.done()):
            self.watcher = asyncio.create_task(self._send_finals(self.stream))

    async def _send_finals(self, stream) -> None:
        from websockets.exceptions import ConnectionClosed
        try:
            while (future := stream.next_pending_final()) is not None:
                await asyncio.wait([asyncio.wrap_future(future)])
                await self.events(stream.poll())
        except ConnectionClosed:
            pass
        except Exception as e:  # noqa: BLE001 - the final model failed: tell the client, drop it
            await self.fail(e)

    async def fail(self, e: Exception) -> None:
        from websockets.exceptions import ConnectionClosed
        log.error("error in a stream: %s: %s", type(e).__name__, e)
        try:
            await self.send({"type": "error", "message": f"internal error: {type(e).__name__}: {e}"})
            await self.ws.close(CLOSE_INTERNAL, "internal error")
        except ConnectionClosed:
            pass

    async def handle(self, message) -> None:
        size = len(message.encode() if isinstance(message, str) else message)
        if size > MAX_MESSAGE_BYTES:
            raise ProtocolError(f"message of {size} bytes is over the limit of {MAX_MESSAGE_BYTES}")
        if isinstance(message, str):
            obj = _parse_control(message)
            if obj["type"] == "start":
                await self.start(obj)
            else:
                await self.stop()
            return
        if self.stream is None:
            raise ProtocolError("audio before start: send {\"type\": \"start\"} first")
        if size % 2:
            raise ProtocolError(f"audio must be int16 samples: {size} bytes is an odd count")
        samples = np.frombuffer(message, dtype="<i2")
        await self.events(await self.run_in_pool(self.stream.feed, samples))
        self.watch_finals()

    async def start(self, obj: dict) -> None:
        if self.stream is not None:
            raise ProtocolError("already started: send {\"type\": \"stop\"} first")
        rate = _start_rate(obj, self.app.model.sample_rate_hz)
        self.stream = await self.run_in_pool(self.app.open_stream, rate)
        await self.send({"type": "ready", "sample_rate": rate, **self.app.models})

    async def stop(self) -> None:
        if self.stream is None:
            raise ProtocolError("stop before start")
        stream, self.stream = self.stream, None
        await self.events(await self.run_in_pool(stream.finish))
        await self.send({"type": "done"})


class App:
    """The server's shared state: the model, the thread pool, the count of connected clients."""

    def __init__(self, model, max_clients: int, final_model=None):
        from asr.live.streaming import StreamingTranscriber
        self.model, self.final_model, self.max_clients = model, final_model, max_clients
        self._transcriber = StreamingTranscriber
        self.pool = ThreadPoolExecutor(max_workers=max(1, max_clients), thread_name_prefix="asr-serve")
        # finals on workers of their own: a stream's finish() waits for its finals, so they must not queue
        # behind it; no more of them than cores, since each keeps one busy
        self.final_pool = ThreadPoolExecutor(max_workers=max(1, min(max_clients, os.cpu_count() or 1)),
                                             thread_name_prefix="asr-final") if final_model is not None else None
        self.clients = 0
        self.models = {"model": _name(model), "final_model": _name(final_model) if final_model is not None else None}

    def open_stream(self, rate: int):
        return self._transcriber(self.model, sample_rate=rate, final_model=self.final_model,
                                 executor=self.final_pool)

    def shutdown(self) -> None:
        for pool in (self.pool, self.final_pool):
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    async def handler(self, ws) -> None:
        from websockets.exceptions import ConnectionClosed

        if self.clients >= self.max_clients:
            try:
                await ws.send(json.dumps({"type": "error", "message": f"server busy: {self.max_clients} clients "
                                                                      "connected, try again later"}))
                await ws.close(CLOSE_BUSY, "server busy")
            except ConnectionClosed:
                pass
            return
        self.clients += 1
        conn = _Connection(self, ws)
        peer = _peer(ws)
        log.info("client %s connected (%d of at most %d)", peer, self.clients, self.max_clients)
        try:
            async for message in ws:
                try:
                    await conn.handle(message)
                except ProtocolError as e:
                    await conn.send({"type": "error", "message": str(e)})
                except Exception as e:  # noqa: BLE001 - the recognizer failed: tell the client, drop it
                    await conn.fail(e)
                    return
        except ConnectionClosed:
            pass  # the client went away; its stream goes with `conn`
        finally:
            self.clients -= 1
            if conn.watcher is not None:
                conn.watcher.cancel()
            log.info("client %s disconnected (%s)", peer, _close_reason(ws))


def _name(recognizer) -> str:
    """A loaded model's name: its directory's (english-stream), or its file's."""
    path = getattr(recognizer, "model_dir", None) or getattr(getattr(recognizer, "exported", None), "path", None)
    return path.name if path is not None else type(recognizer).__name__


def _peer(ws) -> str:
    address = ws.remote_address
    return f"{address[0]}:{address[1]}" if address else "?"


def _close_reason(ws) -> str:
    """How a connection ended, in words: "code 1001 going away", "no close frame"."""
    close = ws.protocol.close_rcvd or ws.protocol.close_sent
    if close is None:
        return "no close frame"
    return f"code {close.code}" + (f" {close.reason}" if close.reason else "")


async def serve(model, host: str, port: int, max_clients: int, stop: asyncio.Event, on_listening=None,
                final_model=None) -> None:
    """Serve until `stop` is set; `on_listening(host, port)` is called with the bound address. With a
    `final_model`, finals are decoded again by it (two passes)."""
    from websockets.asyncio.server import serve as ws_serve

    app = App(model, max_clients, final_model)
    try:
        async with ws_serve(app.handler, host, port, process_request=_page_response,
                            max_size=MAX_FRAME_BYTES) as server:
            bound = server.sockets[0].getsockname()
            if on_listening is not None:
                on_listening(bound[0], bound[1])
            await stop.wait()
    finally:
        app.shutdown()


def _log_to_stderr() -> None:
    """asr.serve's lines on stderr as "asr: ..." (info and up); websockets' own only from warnings up."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("asr: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    logging.getLogger("websockets").setLevel(logging.WARNING)


def run(args, model, final_model=None) -> int:
    """`asr serve`: print the URL on stderr and serve until Ctrl-C or SIGTERM (exit 0)."""
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        def listening(host, port):
            shown = f"[{host}]" if ":" in host else host
            print(f"asr: serving on http://{shown}:{port}/", file=sys.stderr, flush=True)
        await serve(model, args.host, args.port, args.max_clients, stop, listening, final_model)

    if args.max_clients < 1:
        print("asr: error: --max-clients must be at least 1", file=sys.stderr)
        return 2
    _log_to_stderr()
    try:
        asyncio.run(main())
    except OSError as e:
        print(f"asr: error: cannot listen on {args.host}:{args.port}: {e.strerror or e}", file=sys.stderr)
        return 1
    print("asr: server stopped", file=sys.stderr)
    return 0
