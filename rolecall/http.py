"""The plain HTTP request and response the codecs and the SigV4 verifier work on.

The server turns whatever its framework hands it into an HttpRequest, and an HttpResponse back into bytes
on the wire; nothing in rolecall.wire knows about ASGI.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import overload
from urllib.parse import unquote


class Headers(dict[str, str]):
    """Request headers with case-insensitive lookup: keys are stored lower-cased.

    A header sent more than once is kept as one value joined with ",", which is how SigV4 canonicalizes
    repeated headers too.
    """

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]] = ()) -> None:
        super().__init__()
        pairs = items.items() if isinstance(items, Mapping) else items
        for name, value in pairs:
            self.add(name, value)

    @classmethod
    def from_asgi(cls, raw: Iterable[tuple[bytes, bytes]]) -> Headers:
        """Headers from an ASGI scope's list of (name, value) byte pairs, in one pass without add()'s checks."""
        # Servers lower-case names already; lower() keeps us sure. (Joining the names and the values to decode
        # each list in one call costs more: the joins, splits and lists make as many objects as they spare.)
        pairs = [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in raw]
        headers = cls.__new__(cls)  # not __init__: there is nothing to add one by one
        dict.update(headers, pairs)
        if len(headers) != len(pairs):  # a name sent more than once: its values joined in the order sent
            dict.clear(headers)
            for key, text in pairs:
                old = dict.get(headers, key)
                dict.__setitem__(headers, key, text if old is None else f"{old},{text}")
        return headers

    def add(self, name: str | bytes, value: str | bytes) -> None:
        """Add a header; bytes (as ASGI delivers them) are decoded as latin-1."""
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        key = name.lower()
        old = dict.get(self, key)
        dict.__setitem__(self, key, value if old is None else f"{old},{value}")

    def __getitem__(self, name: str) -> str:
        return dict.__getitem__(self, name.lower())

    def __setitem__(self, name: str, value: str) -> None:
        dict.__setitem__(self, name.lower(), value)

    def __delitem__(self, name: str) -> None:
        dict.__delitem__(self, name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and dict.__contains__(self, name.lower())

    @overload  # type: ignore[override]
    def get(self, name: str) -> str | None: ...

    @overload
    def get(self, name: str, default: str) -> str: ...

    def get(self, name: str, default: str | None = None) -> str | None:
        value = dict.get(self, name)  # callers mostly ask in lower case already: spare the lower()
        return value if value is not None else dict.get(self, name.lower(), default)

    def pop(self, name: str, *default: str | None) -> str | None:  # type: ignore[override]
        return dict.pop(self, name.lower(), *default)


@dataclass
class HttpRequest:
    """One request as received.

    path:         the raw request path, still percent-encoded as sent (ASGI's raw_path), without the query.
    query_string: the raw query string, without the leading "?".
    headers:      a Headers (a plain mapping is converted).
    """

    method: str
    path: str
    query_string: str = ""
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    remote_addr: str = "127.0.0.1"

    def __post_init__(self) -> None:
        if not isinstance(self.headers, Headers):
            self.headers = Headers(self.headers)

    @property
    def decoded_path(self) -> str:
        return unquote(self.path)


@dataclass
class BodyStream:
    """A body too large to hold in memory (an S3 object, a Lambda package): `length` bytes that iterating
    `chunks` produces. Producing a chunk may block (it reads the store), and may raise part-way when what it
    reads has gone; the server then ends the connection, so the client sees a short body, never a wrong one."""

    length: int
    chunks: Iterable[bytes]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)


@dataclass
class HttpResponse:
    """A complete response: headers include Content-Type, Content-Length and x-amzn-RequestId.

    stream: when set, the body is sent from it (body is then b"" and Content-Length gives stream.length)."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    stream: BodyStream | None = None

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None
