"""The server's connection transport sends a response's head with its body in one write, and never reorders or
loses a byte: heads without a body go out at the loop's next turn, and close sends what is held first."""

from __future__ import annotations

import asyncio
from typing import Any

from rolecall.server import _OneSendTransport

HEAD = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"


class Socket:
    """The transport under the one we test: what reached the socket, one entry per system call."""

    def __init__(self) -> None:
        self.calls: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.calls.append(bytes(data))

    def writelines(self, data: Any) -> None:
        self.calls.append(b"".join(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def run(steps) -> Socket:
    async def main() -> Socket:
        sock = Socket()
        transport = _OneSendTransport(sock, asyncio.get_running_loop())  # type: ignore[arg-type]
        await steps(transport)
        await asyncio.sleep(0)  # the loop's next turn
        return sock

    return asyncio.run(main())


def test_a_head_and_its_body_go_out_in_one_write():
    async def steps(t):
        t.write(HEAD)
        t.write(b"hello")
        t.write(HEAD)
        t.write(b"again")

    assert run(steps).calls == [HEAD + b"hello", HEAD + b"again"]


def test_a_head_without_a_body_goes_out_at_the_next_turn_of_the_loop():
    async def steps(t):
        t.write(b"HTTP/1.1 100 Continue\r\n\r\n")  # the client waits for it before sending the body
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        t.write(HEAD)
        t.write(b"hello")

    assert run(steps).calls == [b"HTTP/1.1 100 Continue\r\n\r\n", HEAD + b"hello"]


def test_body_chunks_that_look_like_a_head_keep_their_order():
    async def steps(t):
        t.write(HEAD)
        t.write(b"HTTP/1.1 looks like a head\r\n\r\n")  # the first chunk of a body: sent with the head
        t.write(b"HTTP/1.1 so does this\r\n\r\n")  # held for a turn of the loop...
        t.write(b"tail")  # ...and sent, in order, with the next write

    sock = run(steps)
    assert b"".join(sock.calls) == (
        HEAD + b"HTTP/1.1 looks like a head\r\n\r\n" + b"HTTP/1.1 so does this\r\n\r\n" + b"tail"
    )


def test_close_sends_what_is_held_first():
    async def steps(t):
        t.write(HEAD)
        t.close()

    sock = run(steps)
    assert sock.calls == [HEAD] and sock.closed
