"""Signing certificates, server certificates and SSH public keys against a real server with boto3."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.helpers import err, name
from tests.services.iam.test_certificates import make_cert


def test_certificates_and_ssh_keys(server):
    iam = server.client("iam")
    user = name("certs")
    iam.create_user(UserName=user)
    body, _ = make_cert()
    cert = iam.upload_signing_certificate(UserName=user, CertificateBody=body)["Certificate"]
    iam.update_signing_certificate(UserName=user, CertificateId=cert["CertificateId"], Status="Inactive")
    assert [c["Status"] for c in iam.list_signing_certificates(UserName=user)["Certificates"]] == ["Inactive"]
    iam.delete_signing_certificate(UserName=user, CertificateId=cert["CertificateId"])

    public = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    ssh_body = public.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    key = iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody=ssh_body)["SSHPublicKey"]
    got = iam.get_ssh_public_key(UserName=user, SSHPublicKeyId=key["SSHPublicKeyId"], Encoding="SSH")
    assert got["SSHPublicKey"]["Fingerprint"] == key["Fingerprint"]
    iam.update_ssh_public_key(UserName=user, SSHPublicKeyId=key["SSHPublicKeyId"], Status="Inactive")
    assert iam.list_ssh_public_keys(UserName=user)["SSHPublicKeys"][0]["Status"] == "Inactive"
    iam.delete_ssh_public_key(UserName=user, SSHPublicKeyId=key["SSHPublicKeyId"])
    with pytest.raises(ClientError) as exc:
        iam.upload_ssh_public_key(UserName=user, SSHPublicKeyBody="ssh-rsa AAAAB3Nza")
    assert err(exc)[0] == "InvalidPublicKey"

    cert_name = name("web")
    body, private = make_cert("www.example.com")
    meta = iam.upload_server_certificate(
        ServerCertificateName=cert_name, CertificateBody=body, PrivateKey=private
    )["ServerCertificateMetadata"]
    assert meta["Arn"].endswith(f":server-certificate/{cert_name}")
    assert (
        iam.get_server_certificate(ServerCertificateName=cert_name)["ServerCertificate"]["CertificateBody"]
        == body
    )
    iam.tag_server_certificate(ServerCertificateName=cert_name, Tags=[{"Key": "k", "Value": "v"}])
    iam.untag_server_certificate(ServerCertificateName=cert_name, TagKeys=["nothing"])
    assert iam.list_server_certificate_tags(ServerCertificateName=cert_name)["Tags"] == [
        {"Key": "k", "Value": "v"}
    ]
    iam.update_server_certificate(ServerCertificateName=cert_name, NewPath="/cloudfront/")
    listed = iam.list_server_certificates(PathPrefix="/cloudfront/")["ServerCertificateMetadataList"]
    assert [m["ServerCertificateName"] for m in listed] == [cert_name]
    iam.delete_server_certificate(ServerCertificateName=cert_name)
    with pytest.raises(ClientError) as exc:
        iam.upload_server_certificate(
            ServerCertificateName=cert_name, CertificateBody=body, PrivateKey=make_cert()[1]
        )
    assert err(exc)[:2] == ("KeyPairMismatch", "Public key certificate and private key doesn't match.")
    iam.delete_user(UserName=user)
