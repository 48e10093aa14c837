"""The request path over the wire (rolecall/pipeline.py): what it answers for an operation rolecall does
not implement."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import err


def test_unimplemented_operation_is_a_clear_error(server):
    iam = server.client("iam")
    with pytest.raises(ClientError) as exc:
        iam.get_credential_report()
    code, message, status = err(exc)
    assert code == "NotImplemented" and "GetCredentialReport" in message and status == 501
