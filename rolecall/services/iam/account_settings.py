"""Account-wide settings: the account alias (one per account, unique among the store's accounts) and the
password policy (Get/Update/DeleteAccountPasswordPolicy, enforced where passwords are set), with
ChangePassword, by which an IAM user changes their own console password."""

from __future__ import annotations

from typing import Any

from rolecall.core.context import OpContext
from rolecall.core.operations import Family, operation
from rolecall.errors import AccessDenied
from rolecall.services.iam.common import get_user, paginate, touched
from rolecall.services.iam.errors import EntityAlreadyExists, InvalidUserType, NoSuchEntity
from rolecall.services.iam.password_policy import KIND, NAME, get_policy
from rolecall.services.iam.users import set_password, verify_password

ALIAS_KIND = "account_alias"  # named by the alias itself, so that the store finds its account


def _own_aliases(ctx: OpContext) -> list[dict[str, Any]]:
    return ctx.tx.list(ctx.account, ALIAS_KIND)


def _caller_arn(ctx: OpContext, params: dict[str, Any]) -> str:
    return ctx.caller.arn


class AccountSettingsOperations(Family):
    # ------------------------------------------------------------ alias

    @operation("iam:CreateAccountAlias")
    def CreateAccountAlias(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        alias = params["AccountAlias"]
        found = ctx.tx.find(ALIAS_KIND, alias)
        if found is not None:
            if found[0] == ctx.account:
                return {}
            raise EntityAlreadyExists(f"The account alias {alias} already exists.")
        # An account has one alias: a new one replaces it (IAM User Guide, "Your AWS account ID and its alias").
        for old in _own_aliases(ctx):
            ctx.tx.delete(ctx.account, ALIAS_KIND, old["AccountAlias"])
        ctx.tx.insert(ctx.account, ALIAS_KIND, alias, {"AccountAlias": alias})
        return {}

    @operation("iam:DeleteAccountAlias")
    def DeleteAccountAlias(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        alias = params["AccountAlias"]
        if ctx.tx.get(ctx.account, ALIAS_KIND, alias) is None:
            raise NoSuchEntity(f"The account alias {alias} cannot be found.")
        ctx.tx.delete(ctx.account, ALIAS_KIND, alias)
        return {}

    @operation("iam:ListAccountAliases")
    def ListAccountAliases(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        page = paginate([a["AccountAlias"] for a in _own_aliases(ctx)], params, "AccountAliases")
        return page

    # ------------------------------------------------------------ password policy

    @operation("iam:UpdateAccountPasswordPolicy")
    def UpdateAccountPasswordPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        # Every member left out takes its default again, as IAM documents for this operation.
        policy: dict[str, Any] = {
            "MinimumPasswordLength": params.get("MinimumPasswordLength", 6),
            "RequireSymbols": bool(params.get("RequireSymbols", False)),
            "RequireNumbers": bool(params.get("RequireNumbers", False)),
            "RequireUppercaseCharacters": bool(params.get("RequireUppercaseCharacters", False)),
            "RequireLowercaseCharacters": bool(params.get("RequireLowercaseCharacters", False)),
            "AllowUsersToChangePassword": bool(params.get("AllowUsersToChangePassword", False)),
        }
        # MaxPasswordAge (0: passwords never expire) and HardExpiry are always shown; PasswordReusePrevention
        # only once set (IAM's answers, as moto's AWS-verified tests record them).
        policy["MaxPasswordAge"] = params.get("MaxPasswordAge") or 0
        policy["HardExpiry"] = bool(params.get("HardExpiry", False))
        if params.get("PasswordReusePrevention"):
            policy["PasswordReusePrevention"] = params["PasswordReusePrevention"]
        if get_policy(ctx.tx, ctx.account) is None:
            ctx.tx.insert(ctx.account, KIND, NAME, policy)
        else:
            ctx.tx.update(ctx.account, KIND, NAME, policy)
        return {}

    @operation("iam:GetAccountPasswordPolicy")
    def GetAccountPasswordPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        policy = self._policy(ctx)
        return {"PasswordPolicy": {**policy, "ExpirePasswords": bool(policy.get("MaxPasswordAge"))}}

    @operation("iam:DeleteAccountPasswordPolicy")
    def DeleteAccountPasswordPolicy(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        if get_policy(ctx.tx, ctx.account) is None:  # IAM words this one differently from Get's
            raise NoSuchEntity("The account policy with name PasswordPolicy cannot be found.")
        ctx.tx.delete(ctx.account, KIND, NAME)
        return {}

    @staticmethod
    def _policy(ctx: OpContext) -> dict[str, Any]:
        policy = get_policy(ctx.tx, ctx.account)
        if policy is None:
            raise NoSuchEntity(f"The Password Policy with domain name {ctx.account} cannot be found.")
        return policy

    # ------------------------------------------------------------ a user's own password

    @operation("iam:ChangePassword", _caller_arn)
    def ChangePassword(self, ctx: OpContext, params: dict[str, Any]) -> dict[str, Any]:
        caller = ctx.caller
        if caller.type != "IAMUser" or not caller.user_name:
            raise InvalidUserType("Only IAM users can change their own password.")
        user = get_user(ctx.tx, ctx.account, caller.user_name)
        profile = user.get("LoginProfile")
        if not profile:
            raise NoSuchEntity(f"Login Profile for User {user['UserName']} cannot be found.")
        if not verify_password(profile["PasswordHash"], params["OldPassword"]):
            raise AccessDenied("The old password is incorrect.")
        set_password(ctx, profile, params["NewPassword"])
        profile["PasswordResetRequired"] = False
        ctx.tx.update(ctx.account, "user", user["UserName"], user)
        touched(ctx, "user", user["Arn"])
        return {}
