"""The floor the server benchmark compares against: an ASGI app that answers every request with a fixed
200 and does no work, under the same uvicorn + httptools + uvloop rolecall serves with.

    python -m uvicorn bench.bare_app:app --http httptools --loop uvloop --port 8000
"""

from __future__ import annotations

from typing import Any

BODY = b"<GetRoleResponse>ok</GetRoleResponse>"
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/xml"), (b"content-length", str(len(BODY)).encode())],
}
END = {"type": "http.response.body", "body": BODY}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):  # read the body, as a real app must
        pass
    await send(START)
    await send(END)
