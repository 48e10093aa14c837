"""IAM inline policies against a real server with boto3."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import TRUST_EC2, err, name, new_user


def test_explicit_deny_names_it_and_get_caller_identity_still_works(server):
    iam = server.client("iam")
    user, key = new_user(
        server,
        iam,
        json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "*", "Resource": "*"},
                    {"Sid": "NoRoles", "Effect": "Deny", "Action": "iam:*Role*", "Resource": "*"},
                    {"Effect": "Deny", "Action": "sts:*", "Resource": "*"},
                ],
            }
        ),
    )
    as_user = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        as_user.create_role(RoleName=name("x"), AssumeRolePolicyDocument=TRUST_EC2)
    assert "with an explicit deny in an identity-based policy" in err(exc)[1]
    assert as_user.list_users()["Users"]
    ident = server.client("sts", key["AccessKeyId"], key["SecretAccessKey"]).get_caller_identity()
    assert ident["Arn"] == f"arn:aws:iam::123456789012:user/{user}"
    assert ident["UserId"].startswith("AIDA")
