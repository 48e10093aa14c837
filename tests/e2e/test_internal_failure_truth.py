"""A 500 never lies about what changed: before the commit it says the request changed nothing, after it
(here: the answer cannot be encoded) it says the change was saved -- and the change is indeed there."""

from __future__ import annotations

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from rolecall.wire import codec_for
from tests.servers import InProcessServer

NO_RETRY = Config(retries={"total_max_attempts": 1, "mode": "standard"})


@pytest.fixture
def srv(tmp_path):
    s = InProcessServer(tmp_path).start()
    yield s
    s.stop()


def test_a_failure_after_the_commit_says_the_change_was_saved(srv, monkeypatch):
    iam = srv.session().client("iam", endpoint_url=srv.url, config=NO_RETRY)
    codec = codec_for("iam")
    real_encode = codec.encode

    def failing_encode(operation, output, request_id):
        if operation == "CreateUser":
            raise RuntimeError("the answer cannot be written")
        return real_encode(operation, output, request_id)

    monkeypatch.setattr(codec, "encode", failing_encode)
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName="saved-anyway")
    error = exc.value.response["Error"]
    assert error["Code"] == "InternalFailure"
    assert "after the request's change was saved" in error["Message"]
    assert iam.get_user(UserName="saved-anyway")["User"]["UserName"] == "saved-anyway"


def test_a_failure_before_the_commit_says_nothing_changed(srv, monkeypatch):
    from rolecall.services.iam import users

    def broken(self, ctx, params):
        raise RuntimeError("the handler breaks")

    monkeypatch.setattr(users.UserOperations.__dict__["CreateUser"], "fn", broken)
    srv.pipeline.services["iam"]._table = None  # rebuild the table with the broken handler
    iam = srv.session().client("iam", endpoint_url=srv.url, config=NO_RETRY)
    with pytest.raises(ClientError) as exc:
        iam.create_user(UserName="never-made")
    assert exc.value.response["Error"]["Message"] == (
        "An internal error occurred in rolecall; the request changed nothing."
    )
    monkeypatch.undo()
    srv.pipeline.services["iam"]._table = None
    with pytest.raises(ClientError) as exc:
        iam.get_user(UserName="never-made")
    assert exc.value.response["Error"]["Code"] == "NoSuchEntity"
