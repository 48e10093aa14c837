"""`rolecall oidc issue-token`: a signed OIDC ID token of one of rolecall's local issuers, for testing trust
policies of roles assumed with AssumeRoleWithWebIdentity (GitHub Actions, EKS service accounts, any OIDC
issuer) without the real issuer. See rolecall.services.sts.oidc_issuer for what the server serves."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any

from rolecall.cli.client import Signer, add_server_arguments, client_region, signing_credentials

EPILOG = """\
examples:
  # a GitHub Actions token for the main branch of org/repo (aud sts.amazonaws.com)
  rolecall oidc issue-token --issuer github --sub repo:org/repo:ref:refs/heads/main > token
  # an EKS service account's token
  rolecall oidc issue-token --issuer eks --sub system:serviceaccount:default:app > token
  # any issuer, with extra claims (a value that parses as JSON is taken as JSON)
  rolecall oidc issue-token --issuer idp.example.com --sub alice --aud my-app \\
      --claim email=alice@example.com --claim 'amr=["mfa"]'

The token is printed on stdout. Give its file to the AWS SDKs as AWS_WEB_IDENTITY_TOKEN_FILE, with
AWS_ROLE_ARN, or pass it to `aws sts assume-role-with-web-identity --web-identity-token`. The role's
account needs an OIDC provider for the issuer's URL (https://NAME) listing the token's audience.
"""


def add_oidc_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("oidc", help="rolecall's local OpenID Connect issuers (web identity federation)")
    osub = p.add_subparsers(dest="oidc_command", metavar="ACTION")
    osub.required = True
    t = osub.add_parser(
        "issue-token",
        help="print a signed ID token of a local OIDC issuer",
        description="Mint an OIDC ID token signed by the running server's local issuer NAME (created on first "
        "use; its discovery document and keys are served at "
        "/_rolecall/oidc/NAME/.well-known/openid-configuration). The server verifies these tokens in "
        "sts:AssumeRoleWithWebIdentity exactly as AWS verifies a real issuer's. Signed as an account's "
        "root user (--profile, ROLECALL_ROOT_*, the exported AWS_PROFILE or the data dir's profile rolecall): "
        "only a root user may mint tokens.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument(
        "--issuer",
        required=True,
        metavar="NAME",
        help="the issuer: github (token.actions.githubusercontent.com, GitHub Actions' token shape), eks "
        "(an EKS cluster's issuer, oidc.eks.us-east-1.amazonaws.com/id/...), or any host[/path]; an "
        "oidc.eks.REGION.amazonaws.com/id/ID name gets EKS's token shape too",
    )
    t.add_argument("--sub", required=True, help="the subject (sub claim)")
    t.add_argument(
        "--aud",
        action="append",
        metavar="AUDIENCE",
        help="the audience (aud claim); repeat for several (default: sts.amazonaws.com)",
    )
    t.add_argument(
        "--claim",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an extra claim (repeatable); VALUE is parsed as JSON when it is JSON, else taken as a string",
    )
    t.add_argument(
        "--ttl", type=int, default=3600, help="seconds the token is valid for (default: %(default)s)"
    )
    add_server_arguments(t)
    t.set_defaults(func=issue_token)


def parse_claims(items: list[str]) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"rolecall: --claim takes KEY=VALUE, not {item!r}")
        try:
            claims[key] = json.loads(value)
        except ValueError:
            claims[key] = value
    return claims


def post_signed(
    endpoint_url: str, signer: Signer, path: str, body: dict[str, Any]
) -> tuple[int, dict[str, Any]]:
    """A SigV4-signed POST of JSON to one of rolecall's own routes: (status, JSON answer)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{endpoint_url.rstrip('/')}{path}"
    data = json.dumps(body).encode()
    request = AWSRequest(method="POST", url=url, data=data, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(signer.access_key_id, signer.secret_access_key), "sts", client_region()).add_auth(
        request
    )
    prepared = request.prepare()
    try:
        with urllib.request.urlopen(
            urllib.request.Request(prepared.url, data=data, headers=dict(prepared.headers), method="POST"),
            timeout=30,
        ) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read())
        except ValueError:
            return exc.code, {"Error": {"Code": f"HTTP {exc.code}", "Message": str(exc.reason)}}
    except urllib.error.URLError as exc:
        raise SystemExit(f"rolecall: cannot reach rolecall at {endpoint_url}: {exc.reason}") from None


def issue_token(args: argparse.Namespace) -> int:
    body = {
        "issuer": args.issuer,
        "sub": args.sub,
        "aud": args.aud[0] if args.aud and len(args.aud) == 1 else (args.aud or "sts.amazonaws.com"),
        "claims": parse_claims(args.claim),
        "ttl": args.ttl,
    }
    status, answer = post_signed(args.endpoint_url, signing_credentials(args), "/_rolecall/oidc-token", body)
    if status != 200 or "token" not in answer:
        err = answer.get("Error") or {}
        print(f"rolecall: {err.get('Code', status)}: {err.get('Message', '')}", file=sys.stderr)
        return 1
    # No newline after the token in a file: the SDKs send a token file's content as it is.
    sys.stdout.write(answer["token"] + ("\n" if sys.stdout.isatty() else ""))
    return 0
