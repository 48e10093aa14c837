"""`rolecall saml metadata|issue-assertion`: rolecall's local SAML 2.0 identity providers, for testing roles
assumed with AssumeRoleWithSAML without a real IdP. See rolecall.services.sts.saml for what the server
serves and verifies."""

from __future__ import annotations

import argparse
import sys

from rolecall.cli.client import add_server_arguments, signing_credentials
from rolecall.cli.oidc import post_signed

EPILOG = """\
example:
  rolecall saml metadata --idp corp-idp > metadata.xml
  aws iam create-saml-provider --name corp --saml-metadata-document file://metadata.xml
  rolecall saml issue-assertion --idp corp-idp --subject alice \\
      --role arn:aws:iam::123456789012:role/Dev,arn:aws:iam::123456789012:saml-provider/corp > assertion.b64
  aws sts assume-role-with-saml --role-arn arn:aws:iam::123456789012:role/Dev \\
      --principal-arn arn:aws:iam::123456789012:saml-provider/corp --saml-assertion file://assertion.b64
"""


def add_saml_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("saml", help="rolecall's local SAML identity providers (SAML federation)")
    ssub = p.add_subparsers(dest="saml_command", metavar="ACTION")
    ssub.required = True
    m = ssub.add_parser(
        "metadata",
        help="print a local identity provider's SAML metadata (for CreateSAMLProvider)",
        description="Print the SAML metadata of the running server's local identity provider IDP (created on "
        "first use, with its own key and certificate; also served at /_rolecall/saml/IDP/metadata). "
        "Signed as an account's root user.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    m.add_argument("--idp", required=True, help="the identity provider's name (letters, digits, ._-)")
    add_server_arguments(m)
    m.set_defaults(func=print_metadata)
    a = ssub.add_parser(
        "issue-assertion",
        help="print a signed SAML response (base64) of a local identity provider",
        description="Mint a SAMLResponse whose Assertion is signed by the local identity provider IDP, for "
        "AWS (audience and recipient https://signin.aws.amazon.com/saml), valid for --ttl seconds. Signed "
        "as an account's root user: only a root user may mint.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    a.add_argument("--idp", required=True, help="the identity provider's name")
    a.add_argument("--subject", required=True, help="the NameID (persistent)")
    a.add_argument(
        "--role",
        action="append",
        required=True,
        metavar="ROLE_ARN,PROVIDER_ARN",
        help="a value of the https://aws.amazon.com/SAML/Attributes/Role attribute (repeatable)",
    )
    a.add_argument("--session-name", help="the RoleSessionName attribute (default: the subject)")
    a.add_argument(
        "--attribute",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="another attribute value (repeatable); a NAME without :// is taken under "
        "https://aws.amazon.com/SAML/Attributes/ (PrincipalTag:team=blue, SessionDuration=900, SourceIdentity=alice)",
    )
    a.add_argument(
        "--ttl", type=int, default=300, help="seconds the assertion is valid for (default: %(default)s)"
    )
    add_server_arguments(a)
    a.set_defaults(func=issue_assertion)


def _call(args: argparse.Namespace, body: dict) -> dict | None:
    status, answer = post_signed(
        args.endpoint_url, signing_credentials(args), "/_rolecall/saml-assertion", body
    )
    if status != 200:
        err = answer.get("Error") or {}
        print(f"rolecall: {err.get('Code', status)}: {err.get('Message', '')}", file=sys.stderr)
        return None
    return answer


def print_metadata(args: argparse.Namespace) -> int:
    answer = _call(args, {"idp": args.idp, "metadata_only": True})
    if answer is None:
        return 1
    sys.stdout.write(answer["metadata"])
    return 0


def issue_assertion(args: argparse.Namespace) -> int:
    attributes: dict[str, list[str]] = {}
    for item in args.attribute:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"rolecall: --attribute takes NAME=VALUE, not {item!r}")
        if "://" not in name and not name.startswith("urn:"):
            name = f"https://aws.amazon.com/SAML/Attributes/{name}"
        attributes.setdefault(name, []).append(value)
    body = {
        "idp": args.idp,
        "subject": args.subject,
        "roles": args.role,
        "session_name": args.session_name,
        "attributes": attributes,
        "ttl": args.ttl,
    }
    answer = _call(args, body)
    if answer is None:
        return 1
    sys.stdout.write(answer["assertion"] + ("\n" if sys.stdout.isatty() else ""))
    return 0
