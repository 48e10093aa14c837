from rolecall.wire import Headers, HttpRequest


def test_headers_are_case_insensitive_and_join_repeats() -> None:
    headers = Headers([(b"X-Amz-Date", b"20260101T000000Z"), ("Accept", "a"), ("accept", "b")])
    assert headers["x-amz-date"] == headers["X-AMZ-DATE"] == "20260101T000000Z"
    assert "X-Amz-Date" in headers
    assert headers.get("ACCEPT") == "a,b"
    assert headers.get("missing") is None
    headers["Content-Type"] = "text/xml"
    assert headers["content-type"] == "text/xml"
    del headers["CONTENT-TYPE"]
    assert "content-type" not in headers


def test_request_converts_plain_mappings() -> None:
    request = HttpRequest("GET", "/a%20b", "", {"Host": "localhost"})
    assert isinstance(request.headers, Headers)
    assert request.headers["HOST"] == "localhost"
    assert request.decoded_path == "/a b"


def test_headers_from_asgi_decode_latin_1_and_join_repeats_in_order() -> None:
    single = Headers.from_asgi([(b"host", b"localhost"), (b"X-Amz-Date", b"20260101T000000Z")])
    assert dict(single) == {"host": "localhost", "x-amz-date": "20260101T000000Z"}
    repeated = Headers.from_asgi(
        [(b"accept", b"a"), (b"host", b"h\xe9"), (b"Accept", b"b"), (b"accept", b"c")]
    )
    assert dict(repeated) == {"accept": "a,b,c", "host": "h\u00e9"}
    assert list(repeated) == ["accept", "host"]
