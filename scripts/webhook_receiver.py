"""A tiny retraining-webhook receiver for the demo: verifies the signature and prints.

    python scripts/webhook_receiver.py --port 9099 --secret demo-secret [--log FILE]

It shows what a CI system or orchestrator receives from driftwatch: the JSON body,
the ``Idempotency-Key`` (a retried delivery carries the same key, so it is handled
once) and an HMAC signature checked exactly as a receiver should check it.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def signature_ok(secret: str, timestamp: str, body: bytes, header: str, tolerance_s: int = 300) -> bool:
    """The verification a receiver should do (constant-time, with replay window)."""
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > tolerance_s:
        return False
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"sha256={expected}", header)


def summary(payload: object) -> str:
    """One line for a person: ``firing latency-p95 model=fraud latency_p95_ms=319.9``.

    The value is the body's ``value_display`` (rounded); ``value`` holds the exact number.
    """
    if not isinstance(payload, dict):
        return "? (not a JSON object)"
    text = f"{payload.get('state', '?')} {payload.get('rule', '')} model={payload.get('model', '')}"
    if "value_display" in payload:
        feature = f"[{payload['feature']}]" if payload.get("feature") else ""
        text += f" {payload.get('metric', 'value')}{feature}={payload['value_display']}"
    return text


def make_handler(secret: str | None, log: Path | None) -> type[BaseHTTPRequestHandler]:
    seen: set[str] = set()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            key = self.headers.get("Idempotency-Key", "")
            verified = secret is None or signature_ok(secret, self.headers.get("X-Driftwatch-Timestamp", ""), body,
                                                      self.headers.get("X-Driftwatch-Signature", ""))
            if not verified:
                self.send_response(401)
                self.end_headers()
                print("rejected a request with a bad signature", flush=True)
                return
            duplicate = key in seen
            seen.add(key)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'{"ok": true}')
            try:
                payload = json.loads(body)
            except json.JSONDecodeError:
                payload = {"raw": body.decode(errors="replace")}
            line = json.dumps({"received_at": time.time(), "idempotency_key": key, "duplicate": duplicate,
                               "payload": payload})
            if log is not None:
                with log.open("a") as handle:
                    handle.write(line + "\n")
            print(f"[{self.path.strip('/') or 'webhook'}] {'(duplicate) ' if duplicate else ''}{summary(payload)}",
                  flush=True)

        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            return

    return Handler


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9099)
    parser.add_argument("--secret")
    parser.add_argument("--log", type=Path)
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), make_handler(args.secret, args.log))
    print(f"webhook receiver listening on http://{args.host}:{args.port}/", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
