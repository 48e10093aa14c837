"""The service-linked path is IAM's own: CreateRole cannot put a role there, CreateServiceLinkedRole can."""

from __future__ import annotations

import pytest

from rolecall.services.iam.errors import InvalidInput

TRUST = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'


@pytest.mark.parametrize("path", ["/aws-service-role/", "/aws-service-role/elasticbeanstalk.amazonaws.com/"])
def test_create_role_refuses_the_service_linked_path(call, path):
    with pytest.raises(InvalidInput, match="reserved for service-linked roles"):
        call("CreateRole", RoleName="Impostor", Path=path, AssumeRolePolicyDocument=TRUST)
    assert all(r["RoleName"] != "Impostor" for r in call("ListRoles")["Roles"])


def test_a_service_linked_role_still_lives_there(call):
    role = call("CreateServiceLinkedRole", AWSServiceName="elasticbeanstalk.amazonaws.com")["Role"]
    assert role["Path"] == "/aws-service-role/elasticbeanstalk.amazonaws.com/"
    # A look-alike path that only starts with the same letters is an ordinary path.
    ok = call("CreateRole", RoleName="Fine", Path="/aws-service-roles/", AssumeRolePolicyDocument=TRUST)
    assert ok["Role"]["Path"] == "/aws-service-roles/"
