"""Stand-ins for the outside world the tests cannot reach: the live ClinicalTrials.gov API
(answered with recorded real responses) and an SMTP server (a real local one, aiosmtpd)."""

import json
import socket
import threading
import time
import urllib.parse
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RecordedApi:
    """A local HTTP server answering GET /api/v2/studies with the pages it is given, in order,
    and keeping the query parameters of every request."""

    def __init__(self, pages: list[dict], status_codes: list[int] | None = None):
        self.pages = list(pages)
        self.status_codes = list(status_codes or [])
        self.requests: list[dict[str, str]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                api.requests.append(dict(urllib.parse.parse_qsl(url.query)))
                if api.status_codes:
                    code = api.status_codes.pop(0)
                    if code != 200:
                        self.send_response(code)
                        self.send_header("Retry-After", "0")
                        self.end_headers()
                        return
                body = json.dumps(api.pages.pop(0) if api.pages else {"studies": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/api/v2"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class SmtpSink:
    """A real SMTP server on localhost that keeps what it accepts.

    `refuse(n, code)` makes it answer the next n messages with an SMTP error (e.g. 451: try
    later); `hold()` makes it stall in DATA until `release()` (a worker mid-send).
    """

    def __init__(self):
        self.messages = []
        self.in_data = 0  # sessions whose message is being received (or held) right now
        self.lock = threading.RLock()
        self._refusals: list[str] = []
        self._held = threading.Event()
        self._held.set()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                import asyncio

                with sink.lock:
                    sink.in_data += 1
                try:
                    while not sink._held.is_set():
                        await asyncio.sleep(0.05)
                    with sink.lock:
                        if sink._refusals:
                            return sink._refusals.pop(0)
                        sink.messages.append(envelope)
                    return "250 Message accepted for delivery"
                finally:
                    # Also when the client vanished mid-DATA (aiosmtpd cancels this handler).
                    with sink.lock:
                        sink.in_data -= 1

        self.port = _free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self._held.set()
        self.controller.stop()

    def refuse(self, count: int = 1, reply: str = "451 4.3.0 Try again later"):
        with self.lock:
            self._refusals.extend([reply] * count)

    def hold(self):
        self._held.clear()

    def release(self):
        self._held.set()

    def wait_until(self, condition, timeout: float = 30.0, what: str = "condition"):
        """Poll `condition()` (e.g. lambda: sink.in_data == 1) until true."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}")

    def parsed(self):
        with self.lock:
            return [message_from_bytes(e.content, policy=policy.default) for e in self.messages]

    def wait_for(self, count: int, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return self.parsed()
            time.sleep(0.05)
        raise AssertionError(f"expected {count} messages, got {len(self.messages)}")

    @property
    def env(self) -> dict[str, str]:
        """Settings for a worker process that must send here."""
        return {"EMAIL_BACKEND": "smtp", "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(self.port)}
