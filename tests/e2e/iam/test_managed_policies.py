"""IAM managed policies against a real server with boto3."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import allow, err, name, new_user


def test_denied_then_allowed_then_denied_again(any_server):
    iam = any_server.client("iam")
    user, key = new_user(any_server, iam)
    as_user = any_server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    with pytest.raises(ClientError) as exc:
        as_user.list_roles()
    code, message, status = err(exc)
    assert (code, status) == ("AccessDenied", 403)
    assert message.startswith(
        f"User: arn:aws:iam::123456789012:user/{user} is not authorized to perform: iam:ListRoles on resource: "
    )
    assert message.endswith("because no identity-based policy allows the iam:ListRoles action")
    arn = iam.create_policy(PolicyName=name("list"), PolicyDocument=allow("iam:List*"))["Policy"]["Arn"]
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    assert "Roles" in as_user.list_roles()
    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    with pytest.raises(ClientError) as exc:
        as_user.list_roles()
    assert err(exc)[0] == "AccessDenied"
