"""Autobahn|TestSuite conformance, both directions.

(a) fuzzingclient: wstest connects to our SERVER's /echo.
(b) fuzzingserver: our CLIENT (`wsgate autobahn-client`) connects to wstest.

Reports land in reports/autobahn/{server,client}/index.html (gitignored).
AUTOBAHN_CASES="1.*,2.*" narrows the case list for a quick local run.
"""
import collections
import json
import os
import shlex
import subprocess
from pathlib import Path

import pytest

from conftest import HOST, REPO, REPORTS, SUMMARY, start_server, tail

WSTEST = REPO / ".deps" / "autobahn" / "bin" / "wstest"
DEFAULT_CASES = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "8.*", "9.*", "10.*", "12.*", "13.*"]
# Only these pass. FAILED, NON-STRICT, UNIMPLEMENTED fail, and so do the other
# behaviorClose verdicts (WRONG CODE, UNCLEAN, FAILED BY CLIENT).
GOOD = {"OK", "INFORMATIONAL"}
TIMEOUT = 40 * 60  # 1.*–13.* take ~20 min per direction on 2 cores, both directions at once
AGENT = "wsgate"


def cases() -> list[str]:
    env = os.environ.get("AUTOBAHN_CASES", "").strip()
    return [c.strip() for c in env.split(",") if c.strip()] if env else DEFAULT_CASES


def wstest_env() -> dict:
    return {**os.environ, "PYTHONWARNINGS": "ignore"}  # Twisted 19 on Python 2.7 is chatty


def run_logged(args, log: Path, timeout: int, **kw) -> int:
    with open(log, "wb") as f:
        try:
            return subprocess.run([str(a) for a in args], stdin=subprocess.DEVNULL, stdout=f,
                                  stderr=subprocess.STDOUT, timeout=timeout, **kw).returncode
        except subprocess.TimeoutExpired:
            pytest.fail(f"{args[0]} timed out after {timeout}s; log: {log}\n{tail(log)}")


def check_report(outdir: Path, label: str) -> None:
    """Fail listing every case whose behavior or behaviorClose is not OK/INFORMATIONAL."""
    index = outdir / "index.json"
    assert index.exists(), f"no {index}: did wstest run at all?"
    results = json.loads(index.read_text())
    assert AGENT in results, f"agent {AGENT!r} missing from {index}: {list(results)}"
    per_case = results[AGENT]
    assert per_case, "no cases were run"

    behavior, close = collections.Counter(), collections.Counter()
    bad = []
    for case_id in sorted(per_case, key=lambda c: [int(x) for x in c.split(".")]):
        r = per_case[case_id]
        behavior[r["behavior"]] += 1
        close[r["behaviorClose"]] += 1
        if r["behavior"] not in GOOD or r["behaviorClose"] not in GOOD:
            detail = ""
            try:  # each case's own report says what was expected and what happened
                case = json.loads((outdir / r["reportfile"]).read_text())
                detail = f" -- {case.get('result', '')} / {case.get('resultClose', '')}"
            except (OSError, ValueError, KeyError):
                pass
            bad.append(f"  {case_id}: behavior={r['behavior']} behaviorClose={r['behaviorClose']}"
                       f" remoteCloseCode={r.get('remoteCloseCode')}{detail}")
    fmt = lambda c: ", ".join(f"{k} {v}" for k, v in sorted(c.items()))  # noqa: E731
    line = (f"autobahn {label}: {len(per_case)} cases; behavior: {fmt(behavior)}; "
            f"behaviorClose: {fmt(close)}; report: {outdir / 'index.html'}")
    print(line)
    SUMMARY.append(line)
    if bad:
        pytest.fail(f"{len(bad)} Autobahn {label} case(s) not OK (see {outdir / 'index.html'}):\n"
                    + "\n".join(bad), pytrace=False)


@pytest.fixture(scope="module")
def wstest():
    if not WSTEST.exists():
        pytest.fail(f"{WSTEST} missing: run scripts/install-test-deps.sh")
    return WSTEST


@pytest.fixture(scope="module")
def client_run(wstest, wsgate_bin):
    """Starts the client-side run (wstest's fuzzingserver + `wsgate autobahn-client`) in the background, so
    it overlaps the server-side run: each direction is bound by wstest's single Python thread, and the two
    together fit the 2 cores in about the time of one."""
    work = REPORTS / "autobahn"
    outdir = work / "client"
    work.mkdir(parents=True, exist_ok=True)
    port = 9001  # fine: the private network namespace below has no other listeners
    spec = work / "fuzzingserver.json"
    spec.write_text(json.dumps({
        "url": f"ws://{HOST}:{port}", "outdir": str(outdir),
        "cases": cases(), "exclude-cases": [], "exclude-agent-cases": {},
    }, indent=2))
    # wstest's fuzzingserver binds 0.0.0.0, so it and our client run together inside
    # a fresh network namespace (root only) that has nothing but its own loopback.
    q = shlex.quote
    script = f"""
        ip link set lo up
        {q(str(wstest))} -m fuzzingserver -s {q(str(spec))} -u 0 &
        WS=$!
        trap 'kill $WS 2>/dev/null' EXIT
        i=0  # wait (bounded) until wstest listens
        until (exec 3<>/dev/tcp/{HOST}/{port}) 2>/dev/null; do
            i=$((i+1)); [ $i -lt 300 ] || {{ echo "wstest never listened"; exit 97; }}
            sleep 0.1
        done
        echo "== wsgate autobahn-client =="
        {q(str(wsgate_bin))} autobahn-client --url ws://{HOST}:{port} --agent {AGENT}
    """
    log = work / "fuzzingserver.log"
    f = open(log, "wb")
    proc = subprocess.Popen(["unshare", "-n", "bash", "-c", script], stdin=subprocess.DEVNULL, stdout=f,
                            stderr=subprocess.STDOUT, cwd=work, env=wstest_env(), start_new_session=True)
    f.close()
    yield proc, log, outdir
    if proc.poll() is None:
        os.killpg(proc.pid, 9)
        proc.wait()


def test_autobahn_fuzzingclient_vs_our_server(wstest, procs, wsgate_bin, client_run):
    # client_run: the other direction is already under way while this one runs.
    work = REPORTS / "autobahn"
    outdir = work / "server"
    work.mkdir(parents=True, exist_ok=True)
    # A server of its own, so a crash under fuzzing is not blamed on other tests.
    srv = start_server(procs, wsgate_bin, "wsgate-serve-autobahn")
    spec = work / "fuzzingclient.json"
    spec.write_text(json.dumps({
        "outdir": str(outdir),
        "servers": [{"agent": AGENT, "url": f"ws://{HOST}:{srv.port}/echo"}],
        "cases": cases(), "exclude-cases": [], "exclude-agent-cases": {},
    }, indent=2))
    log = work / "fuzzingclient.log"
    rc = run_logged([wstest, "-m", "fuzzingclient", "-s", spec], log, TIMEOUT,
                    cwd=work, env=wstest_env())
    assert rc == 0, f"wstest exited {rc}; log: {log}\n{tail(log)}"
    srv.assert_alive()
    check_report(outdir, "server (fuzzingclient)")


def test_autobahn_fuzzingserver_vs_our_client(client_run):
    proc, log, outdir = client_run
    try:
        rc = proc.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"wsgate autobahn-client timed out after {TIMEOUT}s; log: {log}\n{tail(log)}")
    assert rc == 0, f"wsgate autobahn-client (or its namespace) exited {rc}; log: {log}\n{tail(log)}"
    check_report(outdir, "client (fuzzingserver)")
