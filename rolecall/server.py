"""The ASGI application: one endpoint for every AWS API rolecall serves.

The service is chosen from the SigV4 credential scope (or the protocol's own markers), as on
LocalStack's single port. Requests run the synchronous pipeline on a thread pool so that a slow
request (or, later, a Lambda function calling back into rolecall) never blocks the others.
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rolecall.core.host import InternalRoute
from rolecall.http import Headers
from rolecall.pipeline import Pipeline
from rolecall.wire import HttpRequest, HttpResponse
from rolecall.wire.dispatch import service_from_request

log = logging.getLogger("rolecall")

MAX_BODY = 64 * 1024 * 1024
# Control-plane calls are short and never wait on other requests: they run on the event loop itself,
# which spares a thread hand-off per request. Everything else (object bodies, functions that call
# back into rolecall while they run) goes to the thread pool.
INLINE_SERVICES = frozenset({"iam", "sts", "cloudtrail"})


class App:
    def __init__(self, pipeline: Pipeline, threads: int = 8):
        self.pipeline = pipeline
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="rolecall-req")
        # The paths services publish (GET /_rolecall/imds/ID, Lambda's code downloads).
        routes = [r for s in pipeline.services.values() for r in s.internal_routes().items()]
        self.routes = sorted(routes, key=lambda r: len(r[0]), reverse=True)

    async def __call__(self, scope: dict[str, Any], receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > MAX_BODY:
                await self._send(
                    send, HttpResponse(413, [("content-type", "text/plain")], b"Request too large\n")
                )
                return
            if not message.get("more_body"):
                break
        client = scope.get("client") or ("127.0.0.1", 0)
        req = HttpRequest(
            method=scope["method"],
            path=scope.get("raw_path", scope["path"].encode()).decode("latin-1").split("?", 1)[0],
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=Headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]),
            body=bytes(body),
            remote_addr=client[0],
        )
        special = self._own(req)
        if special is not None:
            await self._send(send, special)
            return
        route = self._route(req.path)
        if route is None and service_from_request(req) in INLINE_SERVICES:
            response = self.pipeline.handle(req)
        else:
            loop = asyncio.get_running_loop()
            response = await loop.run_in_executor(self.executor, route or self.pipeline.handle, req)
        await self._send(send, response)

    def _route(self, path: str) -> InternalRoute | None:
        """The handler of a path a service serves beside its AWS API (longest prefix first)."""
        if not path.startswith("/_rolecall/"):
            return None
        for prefix, handler in self.routes:
            if path.startswith(prefix):
                return handler
        return None

    def _own(self, req: HttpRequest) -> HttpResponse | None:
        """rolecall's own endpoints: health, and moto's reset when authentication is off."""
        if req.path == "/_rolecall/health" and req.method == "GET":
            return _json(200, {"status": "running", "store": self.pipeline.store.kind})
        if req.path == "/moto-api/reset" and req.method == "POST":
            if self.pipeline.config.auth_mode != "off":
                return _json(403, {"error": "reset is only available with --auth off"})
            self.pipeline.reset()
            return _json(200, {"status": "ok"})
        return None

    async def _send(self, send, response: HttpResponse) -> None:
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
        if not any(k.lower() == b"content-length" for k, _ in headers):
            headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": response.body})

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.executor.shutdown(wait=True)
                self.pipeline.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _json(status: int, body: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, [("content-type", "application/json")], json.dumps(body).encode())
