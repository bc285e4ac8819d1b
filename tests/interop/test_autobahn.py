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
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import HOST, REPO, REPORTS, SUMMARY, start_server, tail

WSTEST = REPO / ".deps" / "autobahn" / "bin" / "wstest"
AUTOBAHN_PY = WSTEST.parent / "python"
DEFAULT_CASES = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "8.*", "9.*", "10.*", "12.*", "13.*"]
DEFAULT_CASE_COUNT = 517  # what autobahntestsuite 25.10.1 has in DEFAULT_CASES (514 OK + 3 INFORMATIONAL expected)
# Only these pass. FAILED, NON-STRICT, UNIMPLEMENTED fail, and so do the other
# behaviorClose verdicts (WRONG CODE, UNCLEAN, FAILED BY CLIENT).
GOOD = {"OK", "INFORMATIONAL"}
TIMEOUT = 40 * 60  # 1.*–13.* take ~20 min per direction on 2 cores, both directions at once
AGENT = "wsgate"


def cases() -> list[str]:
    env = os.environ.get("AUTOBAHN_CASES", "").strip()
    return [c.strip() for c in env.split(",") if c.strip()] if env else DEFAULT_CASES


def selected_case_ids() -> list[str]:
    """The case ids wstest runs for `cases()`, resolved by the installed suite itself (its
    CaseSet.parseSpecCases, the function wstest uses), in wstest's order."""
    resolve = ("import json, sys\n"
               "from autobahntestsuite.case import Cases, CaseSetname, CaseBasename, CaseCategories, CaseSubCategories\n"
               "from autobahntestsuite.caseset import CaseSet\n"
               "s = CaseSet(CaseSetname, CaseBasename, Cases, CaseCategories, CaseSubCategories)\n"
               "print(json.dumps(s.parseSpecCases({'cases': json.loads(sys.argv[1]), 'exclude-cases': []})))\n")
    out = subprocess.run([str(AUTOBAHN_PY), "-c", resolve, json.dumps(cases())], capture_output=True, text=True,
                         env=wstest_env(), timeout=120, check=True).stdout
    ids = json.loads(out)
    if cases() == DEFAULT_CASES:
        assert len(ids) == DEFAULT_CASE_COUNT, f"the suite resolves {DEFAULT_CASES} to {len(ids)} cases, not " \
                                               f"{DEFAULT_CASE_COUNT}: another autobahntestsuite?"
    assert ids, f"AUTOBAHN_CASES={cases()} selects no case"
    return ids


def missing_cases(expected: list[str], ran) -> list[str]:
    """The expected case ids that are not in the report, in order."""
    ran = set(ran)
    return [c for c in expected if c not in ran]


def wstest_env() -> dict:
    return {**os.environ, "PYTHONWARNINGS": "ignore"}  # Twisted 19 on Python 2.7 is chatty


def run_logged(args, log: Path, timeout: int, **kw) -> int:
    with open(log, "wb") as f:
        try:
            return subprocess.run([str(a) for a in args], stdin=subprocess.DEVNULL, stdout=f,
                                  stderr=subprocess.STDOUT, timeout=timeout, **kw).returncode
        except subprocess.TimeoutExpired:
            pytest.fail(f"{args[0]} timed out after {timeout}s; log: {log}\n{tail(log)}")


def check_report(outdir: Path, label: str, expected: list[str], summary: list[str] = SUMMARY) -> None:
    """Fail listing every case of `expected` missing from the report, and every case whose behavior or
    behaviorClose is not OK/INFORMATIONAL. The counts go to `summary` (the end-of-run one) either way."""
    index = outdir / "index.json"
    assert index.exists(), f"no {index}: did wstest run at all?"
    results = json.loads(index.read_text())
    assert AGENT in results, f"agent {AGENT!r} missing from {index}: {list(results)}"
    per_case = results[AGENT]
    missing = missing_cases(expected, per_case)
    if missing:
        pytest.fail(f"Autobahn {label}: {len(missing)} of the {len(expected)} selected cases did not run "
                    f"(the report has {len(per_case)}): {', '.join(missing)}", pytrace=False)

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
    summary.append(line)
    if bad:
        pytest.fail(f"{len(bad)} Autobahn {label} case(s) not OK (see {outdir / 'index.html'}):\n"
                    + "\n".join(bad), pytrace=False)


def test_check_report_fails_on_a_missing_or_bad_case(tmp_path):
    """The report check itself, on made-up reports: every selected case present and OK passes; one missing, or
    one not OK, fails naming it."""
    def report(cases_run: dict) -> Path:
        outdir = tmp_path / f"r{len(list(tmp_path.iterdir()))}"
        outdir.mkdir()
        (outdir / "index.json").write_text(json.dumps({AGENT: {
            c: {"behavior": b, "behaviorClose": "OK", "reportfile": f"{c}.json"} for c, b in cases_run.items()}}))
        return outdir
    expected, summary = ["1.1.1", "1.1.2", "2.1"], []
    check_report(report({"1.1.1": "OK", "1.1.2": "INFORMATIONAL", "2.1": "OK"}), "self-test", expected, summary)
    with pytest.raises(pytest.fail.Exception, match=r"1 of the 3 selected cases did not run .*: 1\.1\.2$"):
        check_report(report({"1.1.1": "OK", "2.1": "OK"}), "self-test", expected, summary)
    with pytest.raises(pytest.fail.Exception, match=r"2\.1: behavior=FAILED"):
        check_report(report({"1.1.1": "OK", "1.1.2": "OK", "2.1": "FAILED"}), "self-test", expected, summary)
    assert summary[0].startswith("autobahn self-test: 3 cases; behavior: INFORMATIONAL 1, OK 2;"), summary


@pytest.fixture(scope="module")
def wstest():
    if not WSTEST.exists():
        pytest.fail(f"{WSTEST} missing: run scripts/install-test-deps.sh")
    return WSTEST


@pytest.fixture(scope="module")
def expected_cases(wstest) -> list[str]:
    return selected_case_ids()


@pytest.fixture(scope="module")
def client_run(wstest, wsgate_bin):
    """Starts the client-side run (wstest's fuzzingserver + `wsgate autobahn-client`) in the background, so
    it overlaps the server-side run: each direction is bound by wstest's single Python thread, and the two
    together fit the 2 cores in about the time of one."""
    work = REPORTS / "autobahn"
    outdir = work / "client"
    shutil.rmtree(outdir, ignore_errors=True)  # the report checked must be this run's
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


def test_autobahn_fuzzingclient_vs_our_server(wstest, procs, wsgate_bin, client_run, expected_cases):
    # client_run: the other direction is already under way while this one runs.
    work = REPORTS / "autobahn"
    outdir = work / "server"
    shutil.rmtree(outdir, ignore_errors=True)  # the report checked must be this run's
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
    check_report(outdir, "server (fuzzingclient)", expected_cases)


def test_autobahn_fuzzingserver_vs_our_client(client_run, expected_cases):
    proc, log, outdir = client_run
    try:
        rc = proc.wait(TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"wsgate autobahn-client timed out after {TIMEOUT}s; log: {log}\n{tail(log)}")
    assert rc == 0, f"wsgate autobahn-client (or its namespace) exited {rc}; log: {log}\n{tail(log)}"
    check_report(outdir, "client (fuzzingserver)", expected_cases)
