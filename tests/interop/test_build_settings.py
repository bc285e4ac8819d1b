"""Warnings are errors in the project's own builds, and only there (issue 19).

`scripts/test.sh` sets WSGATE_WARNINGS_AS_ERRORS=1, and the manifests (the main package and Fuzz/) then give every
one of their targets `treatAllWarnings(as: .error)` for Swift and C. Without the variable — as for a package that
depends on wsgate — no target carries the setting, since Xcode and swiftbuild build dependencies with
`-suppress-warnings`, which the driver refuses beside `-warnings-as-errors`. SwiftPM's own `dump-package` says what
each manifest declares; a target added later without the setting fails here."""
import json
import os
import pathlib
import re
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]


def targets(package_dir, strict):
    env = dict(os.environ)
    env.pop("WSGATE_WARNINGS_AS_ERRORS", None)
    if strict:
        env["WSGATE_WARNINGS_AS_ERRORS"] = "1"
    r = subprocess.run(["swift", "package", "--package-path", str(package_dir), "dump-package"],
                       capture_output=True, text=True, timeout=300, env=env, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)["targets"]


def warning_levels(target):
    """{tool: level} of the target's treatAllWarnings settings."""
    return {s["tool"]: s["kind"]["treatAllWarnings"]["_0"]
            for s in target.get("settings") or [] if "treatAllWarnings" in s["kind"]}


@pytest.mark.parametrize("package_dir", [ROOT, ROOT / "Fuzz"], ids=["main", "fuzz"])
def test_every_target_treats_warnings_as_errors_when_asked_and_none_otherwise(package_dir):
    strict = targets(package_dir, strict=True)
    assert len(strict) > 5
    for target in strict:
        assert warning_levels(target) == {"swift": "error", "c": "error"}, target["name"]
    for target in targets(package_dir, strict=False):
        assert warning_levels(target) == {}, target["name"]


def test_the_test_command_asks_for_it_before_building():
    script = (ROOT / "scripts" / "test.sh").read_text()
    exported = re.search(r'^export WSGATE_WARNINGS_AS_ERRORS="\$\{WSGATE_WARNINGS_AS_ERRORS:-1\}"$', script, re.M)
    first_build = re.search(r"^swift build", script, re.M)
    assert exported and first_build and exported.start() < first_build.start()
