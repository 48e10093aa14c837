"""IAM SAML providers, in process: metadata parsed for its signing certificates, AWS's errors, tags, the
quota, authorization on the provider's ARN."""

from __future__ import annotations

import pytest

from rolecall.errors import AccessDenied
from rolecall.services.iam.errors import EntityAlreadyExists, InvalidInput, LimitExceeded, NoSuchEntity
from rolecall.services.sts.saml import ensure_idp, metadata
from tests.services.conftest import ACCOUNT
from tests.services.iam.helpers import allow, no_allow, raises

ARN = f"arn:aws:iam::{ACCOUNT}:saml-provider/corp"


@pytest.fixture
def idp_metadata(iam_env) -> str:
    return metadata(ensure_idp(iam_env.host, "corp-idp"))


@pytest.fixture
def provider(checked, idp_metadata):
    out = checked(
        "CreateSAMLProvider",
        Name="corp",
        SAMLMetadataDocument=idp_metadata,
        Tags=[{"Key": "t", "Value": "1"}],
    )
    assert out["SAMLProviderArn"] == ARN
    return ARN


def test_create_get_list_update_delete(checked, call, provider, idp_metadata, iam_env):
    got = checked("GetSAMLProvider", SAMLProviderArn=provider)
    assert got["SAMLMetadataDocument"] == idp_metadata and got["Tags"] == [{"Key": "t", "Value": "1"}]
    listed = checked("ListSAMLProviders")["SAMLProviderList"]
    assert [p["Arn"] for p in listed] == [ARN] and listed[0]["ValidUntil"] == got["ValidUntil"]
    other = metadata(ensure_idp(iam_env.host, "other-idp"))
    assert checked("UpdateSAMLProvider", SAMLProviderArn=provider, SAMLMetadataDocument=other) == {
        "SAMLProviderArn": ARN
    }
    assert call("GetSAMLProvider", SAMLProviderArn=provider)["SAMLMetadataDocument"] == other
    checked("DeleteSAMLProvider", SAMLProviderArn=provider)
    raises(NoSuchEntity, call, "GetSAMLProvider", SAMLProviderArn=provider)
    raises(NoSuchEntity, call, "DeleteSAMLProvider", SAMLProviderArn=provider)


def test_metadata_must_name_a_signing_certificate(call, idp_metadata):
    no_cert = idp_metadata.replace("X509Certificate>", "X509CertificateX>")
    for text in (
        "<not-xml" + " " * 1000,
        no_cert,
        idp_metadata.replace("IDPSSODescriptor", "SPSSODescriptor"),
    ):
        err = raises(InvalidInput, call, "CreateSAMLProvider", Name="bad", SAMLMetadataDocument=text)
        assert err.message == "Could not parse metadata"
    assert call("ListSAMLProviders")["SAMLProviderList"] == []


def test_duplicates_tags_and_quota(call, provider, idp_metadata):
    raises(EntityAlreadyExists, call, "CreateSAMLProvider", Name="corp", SAMLMetadataDocument=idp_metadata)
    call("TagSAMLProvider", SAMLProviderArn=provider, Tags=[{"Key": "env", "Value": "prod"}])
    call("UntagSAMLProvider", SAMLProviderArn=provider, TagKeys=["t"])
    assert call("ListSAMLProviderTags", SAMLProviderArn=provider)["Tags"] == [{"Key": "env", "Value": "prod"}]
    many = [{"Key": f"k{i}", "Value": "v"} for i in range(50)]
    raises(LimitExceeded, call, "TagSAMLProvider", SAMLProviderArn=provider, Tags=many)
    for i in range(99):
        call("CreateSAMLProvider", Name=f"p{i}", SAMLMetadataDocument=idp_metadata)
    err = raises(
        LimitExceeded, call, "CreateSAMLProvider", Name="one-more", SAMLMetadataDocument=idp_metadata
    )
    assert err.message == "Cannot exceed quota for SAMLProvidersPerAccount: 100"


def test_operations_are_authorized_on_the_providers_arn(iam_env, provider, idp_metadata):
    reader = iam_env.user("reader", allow("iam:GetSAMLProvider", ARN))
    assert iam_env.call("GetSAMLProvider", caller=reader, SAMLProviderArn=provider)["CreateDate"]
    for op, params in [
        ("DeleteSAMLProvider", {"SAMLProviderArn": provider}),
        ("UpdateSAMLProvider", {"SAMLProviderArn": provider, "SAMLMetadataDocument": idp_metadata}),
        ("TagSAMLProvider", {"SAMLProviderArn": provider, "Tags": [{"Key": "a", "Value": "b"}]}),
        ("UntagSAMLProvider", {"SAMLProviderArn": provider, "TagKeys": ["t"]}),
        ("ListSAMLProviderTags", {"SAMLProviderArn": provider}),
        ("CreateSAMLProvider", {"Name": "corp2", "SAMLMetadataDocument": idp_metadata}),
    ]:
        err = iam_env.denied(reader, "iam", op, **params)
        resource = f"arn:aws:iam::{ACCOUNT}:saml-provider/corp2" if op == "CreateSAMLProvider" else ARN
        assert isinstance(err, AccessDenied) and err.message == no_allow("reader", f"iam:{op}", resource), op
    assert iam_env.denied(reader, "iam", "ListSAMLProviders").message == no_allow(
        "reader", "iam:ListSAMLProviders", "*"
    )
