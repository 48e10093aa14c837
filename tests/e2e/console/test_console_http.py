"""The console beside the API on one port: a browser at `/` is sent to the console, an API client is not;
console pages carry their security headers."""

from __future__ import annotations

import urllib.error
import urllib.request

import botocore.config


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def get(url: str, accept: str) -> tuple[int, dict[str, str], str]:
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(urllib.request.Request(url, headers={"Accept": accept})) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def test_a_browser_at_the_root_goes_to_the_console_and_an_api_client_does_not(server):
    status, headers, _ = get(f"{server.url}/", "text/html,application/xhtml+xml")
    assert status == 303 and headers["location"] == "/console/"
    status, _, body = get(f"{server.url}/", "*/*")
    assert status == 403 and "MissingAuthenticationToken" in body
    status, _, body = get(f"{server.url}/?Action=ListRoles&Version=2010-05-08", "text/html")
    assert status == 403 and "MissingAuthenticationToken" in body


def test_console_pages_forbid_framing_scripts_and_caching(server):
    status, headers, body = get(f"{server.url}/console/signin", "text/html")
    assert status == 200 and "<form" in body and "<script" not in body
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY" and headers["cache-control"] == "no-store"
    status, headers, _ = get(f"{server.url}/console/roles", "text/html")  # not signed in
    assert status == 303 and headers["location"] == "/console/signin?next=%2Fconsole%2Froles"


def test_an_s3_bucket_named_console_is_still_served(server):
    s3 = server.client("s3")
    s3.create_bucket(Bucket="console")
    s3.put_object(Bucket="console", Key="signin", Body=b"an object, not a page")
    assert s3.get_object(Bucket="console", Key="signin")["Body"].read() == b"an object, not a page"
    v4 = server.session().client(
        "s3", endpoint_url=server.url, config=botocore.config.Config(signature_version="s3v4")
    )
    presigned = v4.generate_presigned_url("get_object", Params={"Bucket": "console", "Key": "signin"})
    status, _, body = get(presigned, "text/html")
    assert status == 200 and body == "an object, not a page"


def test_the_new_pages_ask_for_a_sign_in_first(server):
    for path, back in (
        ("/console/findings", "%2Fconsole%2Ffindings"),
        ("/console/escalation", "%2Fconsole%2Fescalation"),
        (
            "/console/pictures/trust?prefix=app&page=2",
            "%2Fconsole%2Fpictures%2Ftrust%3Fprefix%3Dapp%26page%3D2",
        ),
    ):
        status, headers, _ = get(f"{server.url}{path}", "text/html")
        assert status == 303 and headers["location"] == f"/console/signin?next={back}", path


def test_a_sign_in_step_needs_the_sign_in_forms_token(server):
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(
        f"{server.url}/console/signin",
        data=b"step=mfa&mfa_code=123456&csrf_token=forged",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": "rolecall_console_signin=x"},
        method="POST",
    )
    try:
        opener.open(request)
        raise AssertionError("a forged sign-in step was accepted")
    except urllib.error.HTTPError as err:
        assert err.code == 403 and "CSRF" in err.read().decode()
