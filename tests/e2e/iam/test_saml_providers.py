"""IAM SAML providers over the wire with boto3, from the metadata of a local identity provider
(`rolecall saml metadata`)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.e2e.helpers import err, name


def test_saml_provider_lifecycle(server):
    minted = server.rolecall("saml", "metadata", "--endpoint-url", server.url, "--idp", "corp-idp")
    assert minted.returncode == 0, minted.stderr
    metadata = minted.stdout
    iam = server.client("iam")
    provider = name("corp")
    arn = iam.create_saml_provider(Name=provider, SAMLMetadataDocument=metadata)["SAMLProviderArn"]
    assert arn == f"arn:aws:iam::123456789012:saml-provider/{provider}"
    with pytest.raises(ClientError) as exc:
        iam.create_saml_provider(Name=name("bad"), SAMLMetadataDocument="<x/>" + " " * 1000)
    assert err(exc)[:2] == ("InvalidInput", "Could not parse metadata")
    got = iam.get_saml_provider(SAMLProviderArn=arn)
    assert got["SAMLMetadataDocument"] == metadata and got["ValidUntil"] > got["CreateDate"]
    assert arn in [p["Arn"] for p in iam.list_saml_providers()["SAMLProviderList"]]
    iam.update_saml_provider(SAMLProviderArn=arn, SAMLMetadataDocument=metadata)
    iam.tag_saml_provider(SAMLProviderArn=arn, Tags=[{"Key": "env", "Value": "dev"}])
    assert iam.list_saml_provider_tags(SAMLProviderArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    iam.untag_saml_provider(SAMLProviderArn=arn, TagKeys=["env"])
    assert iam.list_saml_provider_tags(SAMLProviderArn=arn)["Tags"] == []
    iam.delete_saml_provider(SAMLProviderArn=arn)
    with pytest.raises(ClientError) as exc:
        iam.get_saml_provider(SAMLProviderArn=arn)
    assert err(exc)[0] == "NoSuchEntity"
