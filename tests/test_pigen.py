"""The Raspberry Pi image recipe (image_build/pi-gen/) and the first-boot scripts, checked without pi-gen.

pi-gen itself (debootstrap of Raspberry Pi OS, arm64 under qemu, the image export) does not run here: these
tests hold the stage to the layout pi-gen's build.sh reads (prerun.sh, numbered sub-stage scripts that are
executable, EXPORT_IMAGE, a config naming the stages), check every shell script with `bash -n` and shellcheck,
and run prepare.sh against a stand-in pi-gen checkout and bundle. What the stage runs inside the image,
`install.sh --image`, and the first boot after it are tested for real in tests/test_installer.py (a Debian 12
chroot booted with systemd-nspawn).
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT, need

PIGEN = ROOT / "image_build" / "pi-gen"
STAGE = PIGEN / "stage-safety"
SCRIPTS = sorted([*ROOT.glob("image_build/*.sh"), PIGEN / "prepare.sh", STAGE / "prerun.sh",
                  STAGE / "00-install" / "00-run.sh"])
# sourced by pi-gen's build.sh, never run: their variables are read by pi-gen, not by themselves
SOURCED = [PIGEN / "config.example", STAGE / "EXPORT_IMAGE"]
VERSION = re.search(r'^__version__ = "([^"]+)"$', (ROOT / "appliance" / "__init__.py").read_text("utf-8"), re.M)[1]


def test_stage_has_the_layout_pi_gen_reads():
    # build.sh runs prerun.sh and NN-run.sh only when they are executable (`[ -x ... ]`), and exports an image
    # for a stage with an EXPORT_IMAGE file
    for script in (STAGE / "prerun.sh", STAGE / "00-install" / "00-run.sh", PIGEN / "prepare.sh"):
        assert os.access(script, os.X_OK), f"{script} is not executable"
    assert "copy_previous" in (STAGE / "prerun.sh").read_text()
    assert re.search(r'^IMG_SUFFIX="-safety"$', (STAGE / "EXPORT_IMAGE").read_text(), re.M)
    packages = (STAGE / "00-install" / "00-packages").read_text()
    for p in ("python3-venv", "pcscd", "fonts-noto-cjk"):
        assert p in packages
    run = (STAGE / "00-install" / "00-run.sh").read_text()
    # the installer runs inside the image's root, as an image: no secrets made
    assert "on_chroot <<" in run and "install.sh ${options[*]}" in run
    assert re.search(r"options=\(--image --no-apt --wheelhouse ", run)
    config = (PIGEN / "config.example").read_text()
    assert re.search(r'^STAGE_LIST="stage0 stage1 stage2 stage-safety"$', config, re.M)
    assert re.search(r"^RELEASE=bookworm$", config, re.M)
    # a password in the config would be the same on every box made from the image
    assert not re.search(r"^\s*(export\s+)?FIRST_USER_PASS=", config, re.M)


@pytest.mark.parametrize("script", SCRIPTS + SOURCED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shell_scripts_parse(script):
    r = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_shellcheck():
    need(shutil.which("shellcheck") is not None, "shellcheck (Debian package shellcheck)")
    r = subprocess.run(["shellcheck", "-S", "warning", *map(str, SCRIPTS)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    # pi-gen's config and EXPORT_IMAGE are sourced by its build.sh: their assignments look unused on their own
    r = subprocess.run(["shellcheck", "-s", "bash", "-S", "warning", "-e", "SC2034", *map(str, SOURCED)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr


def _bundle(path, arch="aarch64"):
    path.mkdir()
    for name in (f"safety_appliance-{VERSION}-py3-none-any.whl", "pip-24.0-py3-none-any.whl",
                 f"pyscard-2.0.10-cp311-cp311-linux_{arch}.whl"):
        (path / name).write_bytes(b"")
    (path / "constraints.txt").write_text("pip==24.0\n")
    return path


def _pigen(path):
    (path / "stage2").mkdir(parents=True)
    (path / "build.sh").write_text("#!/bin/bash\n")
    return path


def test_prepare_fills_the_stage_in_a_pi_gen_checkout(tmp_path):
    pigen, bundle = _pigen(tmp_path / "pi-gen"), _bundle(tmp_path / "bundle")
    r = subprocess.run(["bash", str(PIGEN / "prepare.sh"), str(bundle), str(pigen)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    files = pigen / "stage-safety" / "00-install" / "files"
    assert (files / "safety-appliance" / "image_build" / "install.sh").exists()
    assert (files / "safety-appliance" / "pyproject.toml").exists()
    assert not (files / "safety-appliance" / ".venv").exists()
    assert (files / "bundle" / f"safety_appliance-{VERSION}-py3-none-any.whl").exists()
    assert os.access(pigen / "stage-safety" / "00-install" / "00-run.sh", os.X_OK)
    assert (pigen / "config").read_text() == (PIGEN / "config.example").read_text()
    assert (pigen / "stage2" / "SKIP_IMAGES").exists()   # only the appliance's image is exported


def test_prepare_refuses_a_bundle_for_another_architecture(tmp_path):
    pigen, bundle = _pigen(tmp_path / "pi-gen"), _bundle(tmp_path / "bundle", arch="x86_64")
    r = subprocess.run(["bash", str(PIGEN / "prepare.sh"), str(bundle), str(pigen)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != 0 and "is not for arm64" in r.stderr, r.stderr
    assert not (pigen / "stage-safety").exists()


def test_firstboot_unit_runs_once_before_the_appliance():
    unit = (ROOT / "systemd" / "safety-firstboot.service").read_text()
    for line in ("Type=oneshot", "ConditionPathExists=/etc/safety-appliance/firstboot-pending",
                 "ExecStart=/usr/local/lib/safety-appliance/firstboot.sh", "WantedBy=multi-user.target"):
        assert f"\n{line}\n" in unit, line
    before = re.search(r"^Before=(.*)$", unit, re.M)[1].split()
    assert {"safety-appliance.service", "safety-kiosk.service"} <= set(before)


def test_wall_board_shows_the_setup_address_until_there_is_an_admin(tmp_path):
    """On a box with the wall board (SAFETY_KIOSK=1) the HDMI screen shows the board, not the console: until the
    first admin exists the board carries the same setup note as the console (URLs, CA fingerprint)."""
    from appliance.config import load_config
    from appliance.core import auth, db, tls
    from appliance.domains import create_app
    from conftest import write_config

    path = write_config(tmp_path / "d")
    path.write_text(path.read_text(encoding="utf-8").replace("tls = false", "tls = true\ntls_port = 8443"),
                    encoding="utf-8")
    cfg = load_config(path)
    dns, ips = tls.lan_names(cfg)
    tls.ensure(tls.paths_for(cfg), dns, ips)
    fingerprint = tls.ca_fingerprint(tls.paths_for(cfg))
    app = create_app(cfg)
    app.config["TESTING"] = True
    try:
        token = auth.create_device_token("wall", actor="system:test")
        client = app.test_client()
        html = client.get(f"/kiosk?token={token}", follow_redirects=True).get_data(as_text=True)
        assert 'id="setup-panel"' in html and fingerprint in html, html[:2000]
        for a in ips:
            if not a.startswith("127."):
                assert f"https://{a}:8443/" in html
        auth.create_user(auth.UserIn(login="boss", password="long-enough-pw-1", role="admin"), actor="system:test")
        assert 'id="setup-panel"' not in client.get("/kiosk").get_data(as_text=True)
    finally:
        db.database.close()
