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
