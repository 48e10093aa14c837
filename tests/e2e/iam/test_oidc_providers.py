"""IAM OpenID Connect providers over the wire, on SQLite and PostgreSQL, with boto3 (the AWS CLI creates one in
the README's walk-through); and a token of the local issuer accepted through a provider on each store."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import err, name

THUMB = "6938fd4d98bab03faadb97b34396831e3780aea1"


def test_provider_lifecycle(any_server):
    iam = any_server.client("iam")
    host = f"{name('idp')}.example.com"
    arn = iam.create_open_id_connect_provider(
        Url=f"https://{host}",
        ClientIDList=["app"],
        ThumbprintList=[THUMB],
        Tags=[{"Key": "team", "Value": "a"}],
    )["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::123456789012:oidc-provider/{host}"
    with pytest.raises(ClientError) as exc:
        iam.create_open_id_connect_provider(Url=f"https://{host}", ClientIDList=["app"])
    assert err(exc) == ("EntityAlreadyExists", f"Provider with url https://{host} already exists.", 409)
    with pytest.raises(ClientError) as exc:
        iam.create_open_id_connect_provider(Url=f"https://{host}/?q=1")
    assert err(exc)[:2] == ("InvalidInput", "Invalid Open ID Connect Provider URL")

    iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="sts.amazonaws.com")
    iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app")
    iam.update_open_id_connect_provider_thumbprint(
        OpenIDConnectProviderArn=arn, ThumbprintList=[THUMB, "a" * 40]
    )
    iam.tag_open_id_connect_provider(OpenIDConnectProviderArn=arn, Tags=[{"Key": "env", "Value": "dev"}])
    iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=["team"])
    got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert got["Url"] == host
    assert got["ClientIDList"] == ["sts.amazonaws.com"]
    assert got["ThumbprintList"] == [THUMB, "a" * 40]
    assert iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"] == [
        {"Key": "env", "Value": "dev"}
    ]
    assert {"Arn": arn} in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
    assert err(exc) == ("NoSuchEntity", f"OpenIDConnect Provider not found for arn {arn}", 404)


def test_a_local_issuers_token_is_accepted_on_each_store(any_server):
    """The issuer's key lives in the store: any node of a shared database verifies its tokens."""
    iam = any_server.client("iam")
    issuer = f"{name('issuer')}.example.com"
    provider = iam.create_open_id_connect_provider(
        Url=f"https://{issuer}", ClientIDList=["sts.amazonaws.com"]
    )["OpenIDConnectProviderArn"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithWebIdentity",
            }
        ],
    }
    role = iam.create_role(RoleName=name("fed"), AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    minted = any_server.rolecall(
        "oidc", "issue-token", "--endpoint-url", any_server.url, "--issuer", issuer, "--sub", "me"
    )
    assert minted.returncode == 0, minted.stderr
    out = any_server.cli(
        "sts",
        "assume-role-with-web-identity",
        "--role-arn",
        role["Arn"],
        "--role-session-name",
        "web",
        "--web-identity-token",
        minted.stdout.strip(),
    )
    assert json.loads(out.stdout)["SubjectFromWebIdentityToken"] == "me"
