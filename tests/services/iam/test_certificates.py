"""Signing certificates, server certificates and SSH public keys in process, with real keys and certificates
made by `cryptography`: AWS's validation (PEM bodies, the private key matching, RSA 2048+), quotas, ids."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from rolecall.errors import AccessDenied
from rolecall.services.iam.errors import (
    DeleteConflict,
    DuplicateCertificate,
    DuplicateSSHPublicKey,
    EntityAlreadyExists,
    InvalidPublicKey,
    KeyPairMismatch,
    LimitExceeded,
    MalformedCertificate,
    NoSuchEntity,
    UnrecognizedPublicKeyEncoding,
)
from tests.services.conftest import ACCOUNT
from tests.services.iam.helpers import raises


def make_cert(name: str = "rolecall.test", key=None) -> tuple[str, str]:
    """(certificate PEM, private key PEM) of a fresh self-signed certificate."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), pem_key.decode()


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_signing_certificates(call, checked, user):
    body, _ = make_cert()
    cert = checked("UploadSigningCertificate", UserName=user, CertificateBody=body)["Certificate"]
    assert (cert["UserName"], cert["Status"], cert["CertificateBody"]) == (user, "Active", body)
    err = raises(DuplicateCertificate, call, "UploadSigningCertificate", UserName=user, CertificateBody=body)
    assert err.message == f"The Certificate with id {cert['CertificateId']} already exists."
    err = raises(
        MalformedCertificate, call, "UploadSigningCertificate", UserName=user, CertificateBody="nope"
    )
    assert err.message == "Unable to parse certificate. Please ensure the certificate is in PEM format."
    call("UploadSigningCertificate", UserName=user, CertificateBody=make_cert("two")[0])
    err = raises(
        LimitExceeded, call, "UploadSigningCertificate", UserName=user, CertificateBody=make_cert("3")[0]
    )
    assert err.message == "Cannot exceed quota for CertificatesPerUser: 2"
    call("UpdateSigningCertificate", UserName=user, CertificateId=cert["CertificateId"], Status="Inactive")
    listed = checked("ListSigningCertificates", UserName=user)["Certificates"]
    assert {c["CertificateId"]: c["Status"] for c in listed}[cert["CertificateId"]] == "Inactive"
    raises(DeleteConflict, call, "DeleteUser", UserName=user)
    for c in listed:
        call("DeleteSigningCertificate", UserName=user, CertificateId=c["CertificateId"])
    raises(NoSuchEntity, call, "DeleteSigningCertificate", UserName=user, CertificateId=cert["CertificateId"])
    assert call("GetAccountSummary")["SummaryMap"]["AccountSigningCertificatesPresent"] == 0


def test_ssh_public_keys(call, checked, user, rsa_key):
    body = (
        rsa_key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    key = checked("UploadSSHPublicKey", UserName=user, SSHPublicKeyBody=body + " me@laptop")["SSHPublicKey"]
    assert key["SSHPublicKeyId"].startswith("APKA") and key["SSHPublicKeyBody"] == body
    assert len(key["Fingerprint"].split(":")) == 16
    err = raises(DuplicateSSHPublicKey, call, "UploadSSHPublicKey", UserName=user, SSHPublicKeyBody=body)
    assert err.status == 400
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    small_body = small.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()
    raises(InvalidPublicKey, call, "UploadSSHPublicKey", UserName=user, SSHPublicKeyBody=small_body)
    raises(
        InvalidPublicKey, call, "UploadSSHPublicKey", UserName=user, SSHPublicKeyBody="ssh-rsa AAAAnotakey"
    )
    raises(
        UnrecognizedPublicKeyEncoding, call, "UploadSSHPublicKey", UserName=user, SSHPublicKeyBody="garbage"
    )
    pem = checked("GetSSHPublicKey", UserName=user, SSHPublicKeyId=key["SSHPublicKeyId"], Encoding="PEM")
    assert pem["SSHPublicKey"]["SSHPublicKeyBody"].startswith("-----BEGIN PUBLIC KEY-----")
    call("UpdateSSHPublicKey", UserName=user, SSHPublicKeyId=key["SSHPublicKeyId"], Status="Inactive")
    listed = checked("ListSSHPublicKeys", UserName=user)["SSHPublicKeys"]
    assert [(k["SSHPublicKeyId"], k["Status"]) for k in listed] == [(key["SSHPublicKeyId"], "Inactive")]
    raises(DeleteConflict, call, "DeleteUser", UserName=user)
    call("DeleteSSHPublicKey", UserName=user, SSHPublicKeyId=key["SSHPublicKeyId"])
    err = raises(
        NoSuchEntity,
        call,
        "GetSSHPublicKey",
        UserName=user,
        SSHPublicKeyId=key["SSHPublicKeyId"],
        Encoding="SSH",
    )
    assert err.message == f"The Public Key with id {key['SSHPublicKeyId']} cannot be found."


def test_server_certificates(env, call, checked):
    body, private = make_cert("www.example.com")
    other_body, other_key = make_cert("other")
    err = raises(
        KeyPairMismatch,
        call,
        "UploadServerCertificate",
        ServerCertificateName="web",
        CertificateBody=body,
        PrivateKey=other_key,
    )
    assert err.message == "Public key certificate and private key doesn't match."
    raises(
        MalformedCertificate,
        call,
        "UploadServerCertificate",
        ServerCertificateName="web",
        CertificateBody=body,
        PrivateKey="x",
    )
    out = checked(
        "UploadServerCertificate",
        ServerCertificateName="web",
        Path="/cloudfront/",
        CertificateBody=body,
        PrivateKey=private,
        CertificateChain=other_body,
        Tags=[{"Key": "env", "Value": "test"}],
    )
    meta = out["ServerCertificateMetadata"]
    assert meta["Arn"] == f"arn:aws:iam::{ACCOUNT}:server-certificate/cloudfront/web"
    assert meta["ServerCertificateId"].startswith("ASCA") and meta["Expiration"] == "2028-01-01T00:00:00Z"
    with env.store.transaction() as tx:  # the private key is kept sealed
        assert "PRIVATE KEY" not in str(tx.get(ACCOUNT, "server_certificate", "web"))
    err = raises(
        EntityAlreadyExists,
        call,
        "UploadServerCertificate",
        ServerCertificateName="web",
        CertificateBody=body,
        PrivateKey=private,
    )
    assert err.message == "The Server Certificate with name web already exists."
    got = checked("GetServerCertificate", ServerCertificateName="web")["ServerCertificate"]
    assert (got["CertificateBody"], got["CertificateChain"], got["Tags"]) == (
        body,
        other_body,
        [{"Key": "env", "Value": "test"}],
    )
    assert "PrivateKey" not in got
    call("UpdateServerCertificate", ServerCertificateName="web", NewServerCertificateName="www", NewPath="/")
    listed = checked("ListServerCertificates")["ServerCertificateMetadataList"]
    assert [(m["ServerCertificateName"], m["Arn"]) for m in listed] == [
        ("www", f"arn:aws:iam::{ACCOUNT}:server-certificate/www")
    ]
    assert call("ListServerCertificates", PathPrefix="/cloudfront/")["ServerCertificateMetadataList"] == []
    call("TagServerCertificate", ServerCertificateName="www", Tags=[{"Key": "team", "Value": "a"}])
    call("UntagServerCertificate", ServerCertificateName="www", TagKeys=["env"])
    assert checked("ListServerCertificateTags", ServerCertificateName="www")["Tags"] == [
        {"Key": "team", "Value": "a"}
    ]
    assert call("GetAccountSummary")["SummaryMap"]["ServerCertificates"] == 1
    call("DeleteServerCertificate", ServerCertificateName="www")
    err = raises(NoSuchEntity, call, "GetServerCertificate", ServerCertificateName="www")
    assert err.message == "The Server Certificate with name www cannot be found."


def test_certificate_operations_are_authorized(env):
    nobody = env.user("nobody")
    body, private = make_cert()
    for op, params in (
        ("UploadSigningCertificate", {"UserName": "nobody", "CertificateBody": body}),
        (
            "UploadServerCertificate",
            {"ServerCertificateName": "x", "CertificateBody": body, "PrivateKey": private},
        ),
        ("UploadSSHPublicKey", {"UserName": "nobody", "SSHPublicKeyBody": "ssh-rsa AAAA"}),
        ("ListServerCertificates", {}),
    ):
        assert isinstance(env.denied(nobody, "iam", op, **params), AccessDenied)
