"""The locks install what the requirements files ask for: every direct pin is in its lock at the same version, and
every locked package carries hashes (pip installs them with --require-hashes)."""

import re

import pytest

from conftest import REPO_DIR


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(path) -> dict[str, str]:
    """name → version of the `name==version` lines of a requirements file (extras dropped), and of the files it -r's."""
    pins = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r "):
            pins.update(_pins(path.parent / line[3:].strip()))
        elif "==" in line:
            name, version = line.split("==")
            pins[_name(name.split("[")[0])] = version.strip()
    return pins


def _locked(path) -> dict[str, tuple[str, int]]:
    """name → (version, number of hashes) of a pip-compile lock."""
    locked, current = {}, None
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line)
        if match:
            current = _name(match.group(1))
            locked[current] = (match.group(2), 0)
        elif "--hash=sha256:" in line and current is not None:
            version, hashes = locked[current]
            locked[current] = (version, hashes + line.count("--hash=sha256:"))
    return locked


@pytest.mark.parametrize("name", ["requirements", "requirements-dev"])
def test_each_lock_pins_its_requirements_with_hashes(name):
    wanted = _pins(REPO_DIR / f"{name}.txt")
    locked = _locked(REPO_DIR / f"{name}.lock")
    stale = {p: (v, locked.get(p, ("missing", 0))[0]) for p, v in wanted.items() if locked.get(p, (None,))[0] != v}
    assert not stale, f"run `make lock`: {name}.txt and {name}.lock disagree on {stale}"
    assert len(locked) > len(wanted), "the lock pins what the direct dependencies pull in too"
    assert all(hashes for _, hashes in locked.values()), "every locked package has its hashes"


def test_the_runtime_lock_and_the_test_lock_agree():
    """The tests run the versions the dashboard runs."""
    run, dev = _locked(REPO_DIR / "requirements.lock"), _locked(REPO_DIR / "requirements-dev.lock")
    assert {p: v for p, (v, _) in run.items()} == {p: dev[p][0] for p in run if p in dev}
    assert set(run) <= set(dev)
