"""What IAM operations of every family share, over the wire (rolecall/services/iam/common.py): the List*
operations are authorized on the path they list."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import allow, err, new_user


def test_list_operations_are_refused_on_the_path_they_list(server):
    """AWS authorizes ListUsers/ListGroups/ListInstanceProfiles/ListRoles on the listed path's ARN and
    ListPolicies on "policy path /", and says so in the AccessDenied message."""
    iam = server.client("iam")
    user, key = new_user(server, iam)
    as_user = server.client("iam", key["AccessKeyId"], key["SecretAccessKey"])
    prefix = f"User: arn:aws:iam::123456789012:user/{user} is not authorized to perform:"
    for call, action, resource in (
        (as_user.list_users, "iam:ListUsers", "arn:aws:iam::123456789012:user/"),
        (as_user.list_groups, "iam:ListGroups", "arn:aws:iam::123456789012:group/"),
        (
            as_user.list_instance_profiles,
            "iam:ListInstanceProfiles",
            "arn:aws:iam::123456789012:instance-profile/",
        ),
        (as_user.list_policies, "iam:ListPolicies", "policy path /"),
        (
            lambda: as_user.list_roles(PathPrefix="/svc/"),
            "iam:ListRoles",
            "arn:aws:iam::123456789012:role/svc/",
        ),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert err(exc) == (
            "AccessDenied",
            f"{prefix} {action} on resource: {resource} because no identity-based policy allows the {action} action",
            403,
        )
    # A grant on the path's ARN allows the listing; the same grant does not reach another path.
    iam.put_user_policy(
        UserName=user,
        PolicyName="roles",
        PolicyDocument=allow("iam:ListRoles", "arn:aws:iam::123456789012:role/svc/*"),
    )
    assert as_user.list_roles(PathPrefix="/svc/")["Roles"] == []
    with pytest.raises(ClientError):
        as_user.list_roles()
