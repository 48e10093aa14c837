"""Offline review of an IAM account (`rolecall audit`): privilege-escalation paths, administrators, risky
trust policies, wildcard PassRole, unused roles and least-privilege rewrites from the trail.

Pure analysis on rolecall's policy engine: it reads GetAccountAuthorizationDetails output (a dict) and
optional SCPs, Lambda functions and CloudTrail records, and does no I/O of its own.

    account = load_account(details, scps=[[scp_doc]], functions=[...], managed_lookup=...)
    audit = run_audit(account, region="us-east-1", rewrites=rewrites_from_trail(account, records))
    render_text(audit); audit.to_json(); render_html(audit)
"""

from .account import Account, AccountError, Principal, load_account
from .escalation import ACT_KINDS, GRANT_KINDS, Edge, Escalation
from .findings import Finding
from .html import render_html
from .least_privilege import Rewrite, rewrites_from_trail
from .report import Audit, render_text, run_audit

__all__ = [
    "ACT_KINDS",
    "GRANT_KINDS",
    "Account",
    "AccountError",
    "Audit",
    "Edge",
    "Escalation",
    "Finding",
    "Principal",
    "Rewrite",
    "load_account",
    "render_html",
    "render_text",
    "rewrites_from_trail",
    "run_audit",
]
