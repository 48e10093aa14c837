"""The README's walk-through, run as written: every ```bash block, in order, in one bash, with the AWS CLI,
against a fresh `rolecall serve` started as the README starts it (default data dir, in a fresh HOME).

WALKTHROUGH below says, command by command, what the README claims of it; the test checks that it lists
exactly the README's commands, so neither can change without the other.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.scenarios.readme import README, ROOT, assert_readme_instance_role_intact, code_blocks
from tests.servers import Server

DEFAULT_ENDPOINT = "http://127.0.0.1:4577"


@dataclass
class Step:
    """What the README says of one command: it succeeds, printing `shows` (regexes), or fails with `error`.

    `verbatim`: the README's comment lines after the command are its output, word for word.
    """

    first_line: str
    shows: tuple[str, ...] = ()
    error: str | None = None
    verbatim: bool = False


WALKTHROUGH = [
    # "Using it"
    Step("export AWS_ENDPOINT_URL=http://127.0.0.1:4577"),
    Step("export AWS_SHARED_CREDENTIALS_FILE=~/.rolecall/credentials AWS_PROFILE=rolecall"),
    Step("export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1"),
    Step("export ROLECALL_DATA_DIR=~/.rolecall"),
    Step("cat > trust.json <<'JSON'"),
    Step(
        "aws iam create-role --role-name app --assume-role-policy-document file://trust.json",
        shows=(r'"Arn": "arn:aws:iam::123456789012:role/app"',),
    ),
    Step("aws iam create-user --user-name dev", shows=(r'"Arn": "arn:aws:iam::123456789012:user/dev"',)),
    Step('read -r DEV_KEY DEV_SECRET <<< "$(aws iam create-access-key --user-name dev \\'),
    Step(
        "AWS_ACCESS_KEY_ID=$DEV_KEY AWS_SECRET_ACCESS_KEY=$DEV_SECRET \\", error="AccessDenied", verbatim=True
    ),
    Step(
        "aws cloudtrail lookup-events --lookup-attributes AttributeKey=Username,AttributeValue=dev \\",
        shows=(
            r'^CreateRole\t\{"eventVersion":"1\.08","userIdentity":\{"type":"IAMUser"',
            '"errorCode":"AccessDenied"',
        ),
    ),
    Step(
        "REQUEST_ID=$(aws cloudtrail lookup-events --lookup-attributes AttributeKey=Username,AttributeValue=dev \\"
    ),
    Step(
        "rolecall explain $REQUEST_ID",
        shows=(
            r"^  who:      arn:aws:iam::123456789012:user/dev \(IAMUser, access key AKIA",
            r"^  what:     iam:CreateRole on arn:aws:iam::123456789012:role/x$",
            r"^  outcome:  refused: AccessDenied$",
            r"no identity-based policy allows iam:CreateRole \(the principal has none\)\.$",
            r"^  missing grant:      iam:CreateRole on arn:aws:iam::123456789012:role/x, in an identity-based policy$",
        ),
    ),
    # "Other commands": another account, its root keys saved as a profile
    Step(
        "rolecall account create --account-id 210987654321 >/dev/null",
        shows=(r"^Saved as profile rolecall-210987654321 in \S+/\.rolecall/credentials\. ",),
    ),
    Step(
        "rolecall account list",
        shows=(
            r"^ACCOUNT +CREATED +ROOT KEYS +PROFILE$",
            r"^123456789012 +\d{4}-\d\d-\d\dT[\d:]+Z +AKIA[A-Z2-7]{16} +rolecall$",
            r"^210987654321 +\d{4}-\d\d-\d\dT[\d:]+Z +AKIA[A-Z2-7]{16} +rolecall-210987654321$",
        ),
    ),
    Step(
        "aws sts get-caller-identity --profile rolecall-210987654321 --query Arn --output text",
        shows=(r"^arn:aws:iam::210987654321:root$",),
    ),
    # "Instance roles"
    Step("cat > ec2-trust.json <<'JSON'"),
    Step("aws iam create-role --role-name S3-Read-Role --assume-role-policy-document file://ec2-trust.json"),
    Step(
        "aws iam attach-role-policy --role-name S3-Read-Role "
        "--policy-arn arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    ),
    Step("aws iam create-instance-profile --instance-profile-name S3-Read-Role"),
    Step(
        "aws iam add-role-to-instance-profile --instance-profile-name S3-Read-Role --role-name S3-Read-Role"
    ),
    Step("IID=$(aws ec2 run-instances --image-id ami-0123456789abcdef0 --count 1 \\"),
    Step("aws ec2 wait instance-running --instance-ids $IID"),
    Step("echo $IID", shows=(r"^i-[0-9a-f]{17}$",)),
    Step(
        "rolecall ec2 exec $IID -- aws sts get-caller-identity",
        shows=(r'"Arn": "arn:aws:sts::123456789012:assumed-role/S3-Read-Role/i-[0-9a-f]{17}"',),
    ),
    Step("rolecall ec2 exec $IID -- aws s3 ls"),
    Step(
        "rolecall ec2 exec $IID -- aws iam list-users",
        error="AccessDenied",
        shows=(r"assumed-role/S3-Read-Role/i-[0-9a-f]{17} is not authorized to perform: iam:ListUsers",),
    ),
    Step("cat > app.py <<'PY'"),
    Step(
        "rolecall ec2 exec $IID -- python app.py",
        shows=(r"^iam-role arn:aws:sts::123456789012:assumed-role/S3-Read-Role/i-[0-9a-f]{17}$",),
    ),
    Step("rolecall ec2 imds-endpoint $IID", shows=(r"^http://127\.0\.0\.1:\d+$",)),
    # "Example: a Lambda function logs through its service role"
    Step("python examples/lambda_logging_role.py --keep", shows=("^every expectation held$",)),
    Step("aws iam detach-role-policy --role-name rolecall-example-Lambda-Logging-Role \\"),
    Step(
        "aws lambda invoke --function-name rolecall-example-lambda-logging out.json",
        shows=(r'"StatusCode": 200',),
    ),
    Step(
        "aws cloudtrail lookup-events --lookup-attributes AttributeKey=EventName,AttributeValue=CreateLogStream \\",
        shows=(
            '"errorCode":"AccessDenied","errorMessage":"User: arn:aws:sts::123456789012:assumed-role/'
            "rolecall-example-Lambda-Logging-Role/rolecall-example-lambda-logging is not authorized to "
            "perform: logs:CreateLogStream ",
        ),
    ),
    Step(
        "python examples/lambda_logging_role.py",
        shows=(
            r"^using role \S+ \(left by an earlier run of this example\)$",
            r"^  deleted role rolecall-example-Lambda-Logging-Role$",
            "^every expectation held$",
        ),
    ),
    # "Web identity federation (OIDC)"
    Step(
        "aws iam create-open-id-connect-provider --url https://token.actions.githubusercontent.com \\",
        shows=(r"^arn:aws:iam::123456789012:oidc-provider/token\.actions\.githubusercontent\.com$",),
    ),
    Step("cat > gha-trust.json <<'JSON'"),
    Step("aws iam create-role --role-name GitHubDeploy --assume-role-policy-document file://gha-trust.json"),
    Step(
        "rolecall oidc issue-token --issuer github --sub repo:my-org/my-repo:ref:refs/heads/main > main.jwt"
    ),
    Step(
        "AWS_WEB_IDENTITY_TOKEN_FILE=main.jwt AWS_ROLE_ARN=arn:aws:iam::123456789012:role/GitHubDeploy \\",
        shows=(r"^arn:aws:sts::123456789012:assumed-role/GitHubDeploy/gha$",),
    ),
    Step(
        "rolecall oidc issue-token --issuer github --sub repo:my-org/my-repo:ref:refs/heads/feature > feature.jwt"
    ),
    Step(
        "aws sts assume-role-with-web-identity --role-arn arn:aws:iam::123456789012:role/GitHubDeploy \\",
        error="AccessDenied",
        verbatim=True,
    ),
    Step("REQUEST_ID=$(aws cloudtrail lookup-events --max-results 1 \\"),
    Step(
        "rolecall explain $REQUEST_ID",
        shows=(
            r"^  who:      repo:my-org/my-repo:ref:refs/heads/feature at arn:aws:iam::123456789012:oidc-provider/"
            r"token\.actions\.githubusercontent\.com \(WebIdentityUser\)$",
            r"^  failed condition:   trust policy of arn:aws:iam::123456789012:role/GitHubDeploy, statement #0: "
            r'StringEquals token\.actions\.githubusercontent\.com:sub \["repo:my-org/my-repo:ref:refs/heads/main"\]; '
            r'the request had \["repo:my-org/my-repo:ref:refs/heads/feature"\]$',
        ),
    ),
]


@dataclass
class Command:
    """One command of a ```bash block: its lines (continuations and heredoc included) and its comment."""

    lines: list[str]
    comment: list[str] = field(default_factory=list)  # the inline comment, then the comment lines after it

    @property
    def head(self) -> str:
        """The first line without its inline comment."""
        return INLINE_COMMENT.sub("", self.lines[0]).rstrip()


HEREDOC = re.compile(r"(?<!<)<<(?!<)-?\s*'?(\w+)'?")
INLINE_COMMENT = re.compile(r"\s#\s+(.*)$")


def shell_commands(text: str) -> list[Command]:
    commands: list[Command] = []
    for block in code_blocks(text, "bash"):
        lines = block.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            i += 1
            if not line.strip():
                continue
            if line.startswith("#"):  # output the README shows for the command above
                commands[-1].comment.append(line[1:].strip())
                continue
            command = Command([line])
            while command.lines[-1].endswith("\\"):
                command.lines.append(lines[i])
                i += 1
            inline = [m.group(1) for m in map(INLINE_COMMENT.search, command.lines) if m]
            command.comment.extend(inline)
            heredoc = HEREDOC.search("\n".join(command.lines))
            if heredoc:
                while lines[i] != heredoc.group(1):
                    command.lines.append(lines[i])
                    i += 1
                command.lines.append(lines[i])
                i += 1
            commands.append(command)
    return commands


def test_the_walkthrough_lists_the_readme_commands():
    """Also a check of the parser: the heredocs' bodies and the comments are not commands."""
    commands = shell_commands(README.read_text())
    assert [c.head for c in commands] == [s.first_line for s in WALKTHROUGH]
    for command, step in zip(commands, WALKTHROUGH, strict=True):
        if step.error:  # a command the README runs to show a refusal says so next to it
            assert any(step.error in line for line in command.comment), command.lines


@pytest.fixture
def readme_server(tmp_path):
    """`rolecall serve` with its default data dir, ~/.rolecall, in a fresh HOME: root keys in the file, and
    the master key the store generates (the README sets no ROLECALL_MASTER_KEY)."""
    home = tmp_path / "home"
    (home / ".rolecall").mkdir(parents=True)
    srv = Server(home / ".rolecall", env_root=False, master_key_env=False).start()
    yield srv, home
    srv.stop()


def banner_exports(srv: Server) -> list[str]:
    return [line.strip() for line in srv.output().splitlines() if line.startswith("  export ")]


def test_the_walkthrough_runs_as_the_readme_says(readme_server, tmp_path):
    srv, home = readme_server
    commands = shell_commands(README.read_text())
    assert [c.head for c in commands] == [s.first_line for s in WALKTHROUGH]

    # The README pastes the banner's export lines: all of them, as they are but for the port.
    exports = [c.head for c in commands if c.head.startswith("export ")]
    banner = banner_exports(srv)
    names = [[kv.split("=")[0] for kv in line.split()[1:]] for line in exports]
    assert names == [[kv.split("=")[0] for kv in line.split()[1:]] for line in banner], banner
    assert f"export AWS_ENDPOINT_URL={srv.url}" in banner

    results = tmp_path / "results"
    results.mkdir()
    script = []
    for n, command in enumerate(commands):
        text = "\n".join(command.lines).replace(DEFAULT_ENDPOINT, srv.url)
        script.append(f"{{\n{text}\n}} >{results}/{n}.out 2>{results}/{n}.err\necho $? >{results}/{n}.rc\n")
    # "In this README's directory": a stand-in with the checkout's examples/, which the walk-through's
    # files cannot litter.
    work = home / "rolecall"
    work.mkdir()
    (work / "examples").symlink_to(ROOT / "examples")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ROLECALL_"))}
    env.update(HOME=str(home), PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    ran = subprocess.run(
        ["bash", "-c", "".join(script)], cwd=work, env=env, capture_output=True, text=True, timeout=600
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr

    failures = []
    for n, (command, step) in enumerate(zip(commands, WALKTHROUGH, strict=True)):
        rc = int((results / f"{n}.rc").read_text())
        out, err = (results / f"{n}.out").read_text(), (results / f"{n}.err").read_text()
        said = [f"`{command.head}` exited {rc}:\n{out}{err}"]
        if (rc != 0) != bool(step.error) or (step.error and step.error not in err):
            failures += said
        elif not all(re.search(shown, out + err, flags=re.M) for shown in step.shows):
            failures += [*said, f"(wanted {step.shows})"]
        elif step.verbatim and " ".join(command.comment) not in " ".join(err.split()):
            failures += [*said, f"(the README shows {' '.join(command.comment)!r})"]
    assert not failures, "\n".join(failures)

    # The Lambda example ran twice beside the user's S3-Read-Role, profile and instance: all untouched.
    iid = (results / f"{[s.first_line for s in WALKTHROUGH].index('echo $IID')}.out").read_text().strip()
    assert_readme_instance_role_intact(srv, iid)
