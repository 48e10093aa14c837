"""IAM OpenID Connect providers, in process: AWS's validation of URLs, client IDs, thumbprints and tags, the
account's quota, idempotent deletes and client-ID changes, authorization on the provider's ARN."""

from __future__ import annotations

import pytest

from rolecall.errors import AccessDenied
from rolecall.services.iam.errors import EntityAlreadyExists, InvalidInput, LimitExceeded, NoSuchEntity
from tests.services.conftest import ACCOUNT
from tests.services.iam.helpers import allow, no_allow, raises

URL = "https://token.actions.githubusercontent.com"
ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
THUMB = "6938fd4d98bab03faadb97b34396831e3780aea1"


@pytest.fixture
def provider(checked):
    checked(
        "CreateOpenIDConnectProvider",
        Url=URL,
        ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=[THUMB],
        Tags=[{"Key": "team", "Value": "ci"}],
    )
    return ARN


def test_create_get_list_and_delete(checked, call, provider):
    got = checked("GetOpenIDConnectProvider", OpenIDConnectProviderArn=provider)
    assert got["Url"] == "token.actions.githubusercontent.com"  # without the scheme, as IAM answers
    assert (got["ClientIDList"], got["ThumbprintList"]) == (["sts.amazonaws.com"], [THUMB])
    assert got["Tags"] == [{"Key": "team", "Value": "ci"}]
    assert checked("ListOpenIDConnectProviders")["OpenIDConnectProviderList"] == [{"Arn": ARN}]
    checked("DeleteOpenIDConnectProvider", OpenIDConnectProviderArn=provider)
    err = raises(NoSuchEntity, call, "GetOpenIDConnectProvider", OpenIDConnectProviderArn=provider)
    assert err.message == f"OpenIDConnect Provider not found for arn {ARN}"
    # Deleting what is not there is no error (the operation is idempotent).
    call("DeleteOpenIDConnectProvider", OpenIDConnectProviderArn=provider)


def test_a_url_with_a_path_is_part_of_the_arn_and_thumbprints_are_optional(call):
    arn = call("CreateOpenIDConnectProvider", Url="https://oidc.eks.us-east-1.amazonaws.com/id/ABC123")[
        "OpenIDConnectProviderArn"
    ]
    assert arn == f"arn:aws:iam::{ACCOUNT}:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC123"
    assert call("GetOpenIDConnectProvider", OpenIDConnectProviderArn=arn)["ThumbprintList"] == []


@pytest.mark.parametrize(
    "url",
    [
        "http://idp.example.com",
        "https://idp.example.com/?tenant=1",
        "https://idp.example.com#x",
        "idp.example.com",
        "https://",
    ],
)
def test_invalid_urls_are_refused_and_change_nothing(call, url):
    err = raises(InvalidInput, call, "CreateOpenIDConnectProvider", Url=url, ClientIDList=["a"])
    assert err.message == "Invalid Open ID Connect Provider URL"
    assert call("ListOpenIDConnectProviders")["OpenIDConnectProviderList"] == []


def test_duplicate_url_names_the_url(call, provider):
    err = raises(EntityAlreadyExists, call, "CreateOpenIDConnectProvider", Url=URL)
    assert err.message == f"Provider with url {URL} already exists."


def test_thumbprints_are_forty_hex_characters_at_most_five(call, provider):
    raises(
        InvalidInput,
        call,
        "CreateOpenIDConnectProvider",
        Url="https://a.example.com",
        ThumbprintList=["g" * 40],
    )
    raises(
        InvalidInput,
        call,
        "UpdateOpenIDConnectProviderThumbprint",
        OpenIDConnectProviderArn=provider,
        ThumbprintList=[THUMB[:-1] + "z"],
    )
    six = [f"{i:040x}" for i in range(6)]
    raises(
        InvalidInput,
        call,
        "UpdateOpenIDConnectProviderThumbprint",
        OpenIDConnectProviderArn=provider,
        ThumbprintList=six,
    )
    call("UpdateOpenIDConnectProviderThumbprint", OpenIDConnectProviderArn=provider, ThumbprintList=six[:2])
    assert call("GetOpenIDConnectProvider", OpenIDConnectProviderArn=provider)["ThumbprintList"] == six[:2]


def test_client_ids_add_and_remove_idempotently_up_to_one_hundred(call, provider):
    call("AddClientIDToOpenIDConnectProvider", OpenIDConnectProviderArn=provider, ClientID="app")
    call("AddClientIDToOpenIDConnectProvider", OpenIDConnectProviderArn=provider, ClientID="app")
    call("RemoveClientIDFromOpenIDConnectProvider", OpenIDConnectProviderArn=provider, ClientID="absent")
    got = call("GetOpenIDConnectProvider", OpenIDConnectProviderArn=provider)
    assert got["ClientIDList"] == ["sts.amazonaws.com", "app"]
    call(
        "RemoveClientIDFromOpenIDConnectProvider",
        OpenIDConnectProviderArn=provider,
        ClientID="sts.amazonaws.com",
    )
    for i in range(99):
        call("AddClientIDToOpenIDConnectProvider", OpenIDConnectProviderArn=provider, ClientID=f"c{i}")
    err = raises(
        LimitExceeded,
        call,
        "AddClientIDToOpenIDConnectProvider",
        OpenIDConnectProviderArn=provider,
        ClientID="one-too-many",
    )
    assert "100" in err.message
    raises(
        LimitExceeded,
        call,
        "CreateOpenIDConnectProvider",
        Url="https://many.example.com",
        ClientIDList=[f"c{i}" for i in range(101)],
    )


def test_tags_tag_untag_list_and_the_fifty_tag_quota(call, provider):
    call(
        "TagOpenIDConnectProvider",
        OpenIDConnectProviderArn=provider,
        Tags=[{"Key": "TEAM", "Value": "cd"}, {"Key": "env", "Value": "prod"}],
    )
    assert call("ListOpenIDConnectProviderTags", OpenIDConnectProviderArn=provider)["Tags"] == [
        {"Key": "TEAM", "Value": "cd"},
        {"Key": "env", "Value": "prod"},
    ]
    call("UntagOpenIDConnectProvider", OpenIDConnectProviderArn=provider, TagKeys=["env", "nope"])
    assert call("ListOpenIDConnectProviderTags", OpenIDConnectProviderArn=provider)["Tags"] == [
        {"Key": "TEAM", "Value": "cd"}
    ]
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    err = raises(
        LimitExceeded, call, "TagOpenIDConnectProvider", OpenIDConnectProviderArn=provider, Tags=many
    )
    assert err.message == "Cannot exceed quota for TagsPerOpenIdConnectProvider: 50"
    raises(
        InvalidInput,
        call,
        "TagOpenIDConnectProvider",
        OpenIDConnectProviderArn=provider,
        Tags=[{"Key": "aws:x", "Value": "v"}],
    )
    raises(NoSuchEntity, call, "ListOpenIDConnectProviderTags", OpenIDConnectProviderArn=ARN + "x")
    raises(
        InvalidInput,
        call,
        "ListOpenIDConnectProviderTags",
        OpenIDConnectProviderArn="arn:aws:iam::123456789012:role/x",
    )


def test_one_hundred_providers_per_account(call):
    for i in range(100):
        call("CreateOpenIDConnectProvider", Url=f"https://idp{i}.example.com")
    err = raises(LimitExceeded, call, "CreateOpenIDConnectProvider", Url="https://idp100.example.com")
    assert err.message == "Cannot exceed quota for OpenIdConnectProvidersPerAccount: 100"


def test_operations_are_authorized_on_the_providers_arn(iam_env, call, provider):
    reader = iam_env.user("reader", allow("iam:GetOpenIDConnectProvider", ARN))
    assert iam_env.call("GetOpenIDConnectProvider", caller=reader, OpenIDConnectProviderArn=provider)["Url"]
    for op, params in [
        ("DeleteOpenIDConnectProvider", {"OpenIDConnectProviderArn": provider}),
        ("AddClientIDToOpenIDConnectProvider", {"OpenIDConnectProviderArn": provider, "ClientID": "x"}),
        ("RemoveClientIDFromOpenIDConnectProvider", {"OpenIDConnectProviderArn": provider, "ClientID": "x"}),
        (
            "UpdateOpenIDConnectProviderThumbprint",
            {"OpenIDConnectProviderArn": provider, "ThumbprintList": [THUMB]},
        ),
        (
            "TagOpenIDConnectProvider",
            {"OpenIDConnectProviderArn": provider, "Tags": [{"Key": "a", "Value": "b"}]},
        ),
        ("UntagOpenIDConnectProvider", {"OpenIDConnectProviderArn": provider, "TagKeys": ["team"]}),
        ("ListOpenIDConnectProviderTags", {"OpenIDConnectProviderArn": provider}),
    ]:
        err = iam_env.denied(reader, "iam", op, **params)
        assert isinstance(err, AccessDenied) and err.message == no_allow("reader", f"iam:{op}", ARN), op
    err = iam_env.denied(reader, "iam", "CreateOpenIDConnectProvider", Url="https://new.example.com")
    assert err.message == no_allow(
        "reader", "iam:CreateOpenIDConnectProvider", f"arn:aws:iam::{ACCOUNT}:oidc-provider/new.example.com"
    )
    err = iam_env.denied(reader, "iam", "ListOpenIDConnectProviders")
    assert err.message == no_allow("reader", "iam:ListOpenIDConnectProviders", "*")
    # A provider's tags are its aws:ResourceTag keys; tagging at creation needs iam:TagOpenIDConnectProvider too.
    tagger = iam_env.user(
        "tagger",
        allow("iam:CreateOpenIDConnectProvider"),
        allow(
            "iam:GetOpenIDConnectProvider", "*", Condition={"StringEquals": {"aws:ResourceTag/team": "ci"}}
        ),
    )
    assert iam_env.call("GetOpenIDConnectProvider", caller=tagger, OpenIDConnectProviderArn=provider)["Url"]
    err = iam_env.denied(
        tagger,
        "iam",
        "CreateOpenIDConnectProvider",
        Url="https://t.example.com",
        Tags=[{"Key": "a", "Value": "b"}],
    )
    assert "iam:TagOpenIDConnectProvider" in err.message
    assert call("ListOpenIDConnectProviders")["OpenIDConnectProviderList"] == [{"Arn": ARN}]
