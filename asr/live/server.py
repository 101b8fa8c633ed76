"""`asr serve`: live transcription in the browser, a WebSocket server and a small web page on one port.

HTTP GET `/` is the page (asr/live/web/index.html), `/app.js` and `/pcm-worklet.js` its scripts; anything else is 404.
The WebSocket is at `/ws`. Protocol, one stream at a time per connection:

    client -> server  {"type": "start", "sample_rate": 48000}   text (JSON); sample_rate optional, default the
                                                                model's; an integer in 8000..192000
    client -> server  <binary>                                  little-endian int16 mono PCM at that rate, any
                                                                whole number of samples (~40-100 ms a message)
    client -> server  {"type": "stop"}                          end of the stream
    server -> client  {"type": "ready", "sample_rate": 48000}   after start
    server -> client  {"type": "partial"|"final", "text": ..., "start_s": ..., "end_s": ..., "words": [...]}
                                                                as they happen (StreamEvent.to_dict; finals carry
                                                                word times in seconds from the stream's start)
    server -> client  {"type": "done"}                          after stop, once the last finals are sent; the
                                                                connection may then start another stream
    server -> client  {"type": "error", "message": ...}         a rejected message (see below)

Errors: a malformed message (not JSON, not an object, unknown type, audio before start, an odd byte count,
start while started, stop before start, a bad sample rate) or one over MAX_MESSAGE_BYTES gets an error reply
and is otherwise ignored: the connection and its stream go on. Only these close a connection: a server at
--max-clients (error reply, then close code 1013 "try again later"), a message over MAX_FRAME_BYTES (websockets
closes with 1009), and a failure inside the recognizer (error reply, then 1011). Each connection has its own
StreamingTranscriber; its feed()/finish() run on a thread pool, one call at a time and in arrival order, so a
slow client delays only itself. A client that goes away mid-stream just drops its transcriber.
"""
from __future__ import annotations

import asyncio
import json
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
MAX_FRAME_BYTES = 4 * MAX_MESSAGE_BYTES  # websockets itself closes the connection above this
MIN_RATE_HZ, MAX_RATE_HZ = 8000, 192000
CLOSE_BUSY, CLOSE_INTERNAL = 1013, 1011


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


def _parse_control(message: str) -> dict:
    try:
        obj = json.loads(message)
    except ValueError as e:
        raise ProtocolError(f"not JSON: {e}") from None
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

    async def send(self, obj: dict) -> None:
        await self.ws.send(json.dumps(obj))

    async def run_in_pool(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.app.pool, fn, *args)

    async def events(self, events) -> None:
        for event in events:
            await self.send(event.to_dict())

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

    async def start(self, obj: dict) -> None:
        if self.stream is not None:
            raise ProtocolError("already started: send {\"type\": \"stop\"} first")
        rate = _start_rate(obj, self.app.model.sample_rate_hz)
        self.stream = await self.run_in_pool(self.app.open_stream, rate)
        await self.send({"type": "ready", "sample_rate": rate})

    async def stop(self) -> None:
        if self.stream is None:
            raise ProtocolError("stop before start")
        stream, self.stream = self.stream, None
        await self.events(await self.run_in_pool(stream.finish))
        await self.send({"type": "done"})


class App:
    """The server's shared state: the model, the thread pool, the count of connected clients."""

    def __init__(self, model, max_clients: int):
        from asr.live.streaming import StreamingTranscriber
        self.model, self.max_clients = model, max_clients
        self._transcriber = StreamingTranscriber
        self.pool = ThreadPoolExecutor(max_workers=max(1, max_clients), thread_name_prefix="asr-serve")
        self.clients = 0

    def open_stream(self, rate: int):
        return self._transcriber(self.model, sample_rate=rate)

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
        try:
            async for message in ws:
                try:
                    await conn.handle(message)
                except ProtocolError as e:
                    await conn.send({"type": "error", "message": str(e)})
                except Exception as e:  # noqa: BLE001 - the recognizer failed: tell the client, drop it
                    print(f"asr: error in a stream: {type(e).__name__}: {e}", file=sys.stderr)
                    await conn.send({"type": "error", "message": f"internal error: {type(e).__name__}: {e}"})
                    await ws.close(CLOSE_INTERNAL, "internal error")
                    return
        except ConnectionClosed:
            pass  # the client went away; its stream goes with `conn`
        finally:
            self.clients -= 1


async def serve(model, host: str, port: int, max_clients: int, stop: asyncio.Event, on_listening=None) -> None:
    """Serve until `stop` is set; `on_listening(host, port)` is called with the bound address."""
    from websockets.asyncio.server import serve as ws_serve

    app = App(model, max_clients)
    try:
        async with ws_serve(app.handler, host, port, process_request=_page_response,
                            max_size=MAX_FRAME_BYTES) as server:
            bound = server.sockets[0].getsockname()
            if on_listening is not None:
                on_listening(bound[0], bound[1])
            await stop.wait()
    finally:
        app.pool.shutdown(wait=False, cancel_futures=True)


def run(args, model) -> int:
    """`asr serve`: print the URL on stderr and serve until Ctrl-C or SIGTERM (exit 0)."""
    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

        def listening(host, port):
            shown = f"[{host}]" if ":" in host else host
            print(f"asr: serving on http://{shown}:{port}/", file=sys.stderr, flush=True)
        await serve(model, args.host, args.port, args.max_clients, stop, listening)

    if args.max_clients < 1:
        print("asr: error: --max-clients must be at least 1", file=sys.stderr)
        return 2
    try:
        asyncio.run(main())
    except OSError as e:
        print(f"asr: error: cannot listen on {args.host}:{args.port}: {e.strerror or e}", file=sys.stderr)
        return 1
    print("asr: server stopped", file=sys.stderr)
    return 0
