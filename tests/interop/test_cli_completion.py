"""Shell completion scripts from swift-argument-parser (`wsgate --generate-completion-script bash|zsh|fish`): each
is generated, bash loads its script and completes the subcommands, and every shell's script knows the newest flags."""
import shutil
import subprocess

import pytest


def script(wsgate_bin, shell):
    r = subprocess.run([str(wsgate_bin), "--generate-completion-script", shell], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_bash_completes_the_subcommands(wsgate_bin, tmp_path):
    path = tmp_path / "wsgate.bash"
    path.write_text(script(wsgate_bin, "bash"))
    r = subprocess.run(["bash", "-c", f'source {path}; COMP_WORDS=(wsgate ""); COMP_CWORD=1; COMP_LINE="wsgate ";'
                        ' COMP_POINT=${#COMP_LINE}; _wsgate; printf "%s\\n" "${COMPREPLY[@]}"'],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    offered = set(r.stdout.split())
    assert {"serve", "connect", "listen", "bench", "token", "msrp"} <= offered, offered


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_each_shell_knows_the_newest_flags(wsgate_bin, shell):
    text = script(wsgate_bin, shell)
    for flag in ("ping-interval", "reconnect", "linger", "exec"):
        assert flag in text, (shell, flag)
    if shell == "zsh" and shutil.which("zsh"):
        assert subprocess.run(["zsh", "-n", "-c", text], timeout=30).returncode == 0
