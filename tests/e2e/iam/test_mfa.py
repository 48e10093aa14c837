"""Virtual MFA devices against a real server: boto3 and the AWS CLI, with codes from `rolecall mfa code` and
from the seed CreateVirtualMFADevice returned (as an authenticator app would compute them)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from botocore.exceptions import ClientError

from rolecall.credentials import totp
from tests.e2e.helpers import err, name


def rolecall_mfa(server, *args: str, ok: bool = True) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-m", "rolecall", "mfa", *args, *server.store_args()],
        env=server.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (out.returncode == 0) is ok, out.stderr
    return out.stdout.split() if ok else out.stderr.splitlines()


def aws(server, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=server.access_key,
        AWS_SECRET_ACCESS_KEY=server.secret_key,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_ENDPOINT_URL=server.url,
        AWS_PAGER="",
    )
    return subprocess.run(
        [sys.executable, "-m", "awscli", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_device_lifecycle_with_the_local_code_helper(server):
    iam = server.client("iam")
    user, device_name = name("mfa-user"), name("phone")
    iam.create_user(UserName=user)
    device = iam.create_virtual_mfa_device(
        VirtualMFADeviceName=device_name, Tags=[{"Key": "team", "Value": "a"}]
    )["VirtualMFADevice"]
    serial = device["SerialNumber"]
    assert serial == f"arn:aws:iam::123456789012:mfa/{device_name}"
    assert device["QRCodePNG"].startswith(b"\x89PNG") and len(device["Base32StringSeed"]) == 32
    seed = device["Base32StringSeed"].decode()
    missing = "arn:aws:iam::123456789012:mfa/no-such-device"
    assert rolecall_mfa(server, "code", missing, ok=False) == [f"rolecall: no virtual MFA device {missing}"]
    # The helper prints what an authenticator app computes from the seed.
    code = rolecall_mfa(server, "code", serial)[0]
    assert code in {totp.code(seed, time.time() + d) for d in (-30, 0, 30)}
    with pytest.raises(ClientError) as exc:
        iam.enable_mfa_device(
            UserName=user, SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
        )
    assert err(exc) == ("InvalidAuthenticationCode", "Authentication code for device is not valid.", 403)
    first, second = rolecall_mfa(server, "code", "--pair", serial)
    iam.enable_mfa_device(
        UserName=user, SerialNumber=serial, AuthenticationCode1=first, AuthenticationCode2=second
    )
    listed = iam.list_mfa_devices(UserName=user)["MFADevices"]
    assert [d["SerialNumber"] for d in listed] == [serial]
    assert iam.get_mfa_device(SerialNumber=serial, UserName=user)["UserName"] == user
    assigned = iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
    assert [d["User"]["UserName"] for d in assigned if d["SerialNumber"] == serial] == [user]
    # The AWS CLI lists it too.
    out = aws(server, "iam", "list-mfa-devices", "--user-name", user)
    assert out.returncode == 0 and serial in out.stdout
    now = time.time()
    iam.resync_mfa_device(
        UserName=user,
        SerialNumber=serial,
        AuthenticationCode1=totp.code(seed, now - 30),
        AuthenticationCode2=totp.code(seed, now),
    )
    iam.tag_mfa_device(SerialNumber=serial, Tags=[{"Key": "owner", "Value": user}])
    iam.untag_mfa_device(SerialNumber=serial, TagKeys=["team"])
    assert iam.list_mfa_device_tags(SerialNumber=serial)["Tags"] == [{"Key": "owner", "Value": user}]
    with pytest.raises(ClientError) as exc:
        iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert err(exc)[0] == "DeleteConflict"
    iam.deactivate_mfa_device(UserName=user, SerialNumber=serial)
    iam.delete_virtual_mfa_device(SerialNumber=serial)
    assert serial not in [d["SerialNumber"] for d in iam.list_virtual_mfa_devices()["VirtualMFADevices"]]
    iam.delete_user(UserName=user)
