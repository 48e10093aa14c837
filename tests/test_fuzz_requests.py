"""Fuzzing the whole request path: mutated and random bodies, headers and query strings, for every protocol
rolecall serves, through a real pipeline and store. Whatever arrives, the answer is never an internal error
(500), and a refused request changes nothing in the store.

Requests start from valid ones -- botocore's serializers fed example values for every operation rolecall
implements -- then hypothesis flips, inserts, deletes and truncates bytes and rewrites headers. Authentication
is off (every key is the default account's root), so the mutations reach the decoders and the handlers
rather than stopping at the signature check. Operations that run work outside the request (a Lambda
invocation, instances with listeners) are left out: their code paths are covered end to end elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rolecall.app import build_pipeline
from rolecall.core.config import ServerConfig
from rolecall.credentials.accounts import ensure_default_account
from rolecall.credentials.secretbox import SecretBox
from rolecall.http import Headers, HttpRequest
from rolecall.pipeline import Pipeline
from rolecall.services import all_services
from rolecall.store import open_store
from rolecall.wire.models import service_model
from tests.wire import samples
from tests.wire.botocore_io import request_for
from tests.wire.samples import sample

SKIPPED = {("lambda", "Invoke"), ("ec2", "RunInstances"), ("ec2", "StartInstances")}


def _seeds() -> list[tuple[str, HttpRequest]]:
    """One valid request per operation: example values made of plain characters (the member's own name,
    padded to its minimum length), which most of the models' patterns accept, so mutations start from
    requests that reach the handlers."""
    samples.TRICKY, tricky = "", samples.TRICKY
    try:
        return _build_seeds()
    finally:
        samples.TRICKY = tricky


def _build_seeds() -> list[tuple[str, HttpRequest]]:
    seeds = []
    for service in all_services():
        model = service_model(service.model)
        for operation in sorted(service.operations()):
            if (service.name, operation) in SKIPPED:
                continue
            shape = model.operation_model(operation).input_shape
            params = sample(shape) if shape is not None else {}
            try:
                req = request_for(service.model, operation, params or {})
            except Exception:  # an example botocore itself refuses (a host label, a checksum) seeds nothing
                continue
            seeds.append((service.name, req))
    return seeds


SEEDS = _seeds()


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Iterator[Pipeline]:
    data = tmp_path_factory.mktemp("fuzz")
    store = open_store(data_dir=str(data))
    config = ServerConfig(
        secret_box=SecretBox(os.urandom(32)),
        token_box=SecretBox(os.urandom(32)),
        auth_mode="off",
        data_dir=str(data),
    )
    ensure_default_account(store, config.secret_box, config.default_account)
    p = build_pipeline(store, config)
    yield p
    p.close()
    store.close()


def _mutate(data: bytes, draw: st.DrawFn) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "nest", "escape"]))
        at = draw(st.integers(0, max(len(out) - 1, 0)))
        if kind == "flip" and out:
            out[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            out[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete" and out:
            del out[at : at + draw(st.integers(1, 8))]
        elif kind == "truncate":
            del out[at:]
        elif kind == "nest":  # deep nesting in whatever format this is
            depth = draw(st.integers(1, 3000))
            out[at:at] = b"[" * depth + b"]" * depth if draw(st.booleans()) else b"<a>" * depth
        elif kind == "escape":  # text that is not valid Unicode
            out[at:at] = draw(st.sampled_from([b"\\ud800", b"%ED%A0%80", b"\xff", b"&#xD800;", b"\x00"]))
    return bytes(out)


@st.composite
def mutated(draw: st.DrawFn) -> HttpRequest:
    service, seed = draw(st.sampled_from(SEEDS))
    signed = seed
    headers = Headers(list(signed.headers.items()))
    if draw(st.booleans()):
        name = draw(st.sampled_from(["content-type", "x-amz-target", "content-length", "x-amz-date", "host"]))
        headers[name] = draw(
            st.text(max_size=40).map(lambda t: t.encode("utf-8", "ignore").decode("latin-1"))
        )
    # One request in eight goes as built: valid, so the handlers themselves run under the same checks.
    if draw(st.integers(0, 7)) == 0:
        return signed
    body = _mutate(signed.body, draw) if draw(st.booleans()) else signed.body
    query = signed.query_string
    if draw(st.booleans()):
        query = _mutate(query.encode("latin-1"), draw).decode("latin-1")
    path = signed.path
    if draw(st.integers(0, 4)) == 0:
        path = _mutate(path.encode("latin-1"), draw).decode("latin-1") or "/"
    # The credential scope (set by botocore's serializer's target/host; auth is off) still names `service`.
    del service
    return HttpRequest(signed.method, path, query, headers, body)


@settings(
    max_examples=int(os.environ.get("ROLECALL_FUZZ_EXAMPLES", "1000")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)
@given(req=mutated())
def test_no_request_gets_an_internal_error_and_a_refusal_changes_nothing(pipeline, req):
    before = pipeline.store.generation()
    response = pipeline.handle(req)
    assert response.status != 500, (req, response.body[:300])
    assert b"InternalFailure" not in response.body and b"InternalError" not in response.body
    if response.status >= 400:
        assert pipeline.store.generation() == before, (req, response.status, response.body[:300])


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH"]),
    path=st.text(max_size=60).map(lambda t: "/" + t.encode("utf-8", "ignore").decode("latin-1")),
    query=st.text(max_size=60).map(lambda t: t.encode("utf-8", "ignore").decode("latin-1")),
    body=st.binary(max_size=300),
    target=st.one_of(st.none(), st.text(max_size=40)),
)
def test_random_requests_get_an_answer_in_some_protocol(pipeline, method, path, query, body, target):
    headers = Headers()
    if target is not None:
        headers["x-amz-target"] = target.encode("utf-8", "ignore").decode("latin-1")
    before = pipeline.store.generation()
    response = pipeline.handle(HttpRequest(method, path, query, headers, body))
    assert response.status != 500, response.body[:300]
    if response.status >= 400:
        assert pipeline.store.generation() == before


def test_the_seeds_cover_every_service():
    assert {service for service, _ in SEEDS} == {s.name for s in all_services()}
    assert len(SEEDS) > 100
