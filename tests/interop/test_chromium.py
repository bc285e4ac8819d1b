"""Interop with a real browser: headless Chromium (Debian's) driven by Playwright.

about:blank may not open ws://127.0.0.1 under Chromium's Local Network Access checks,
hence --disable-features=LocalNetworkAccessChecks. Never `playwright install`:
the browser is /usr/bin/chromium.
"""
import base64
import hashlib
import subprocess

import pytest
from playwright.sync_api import sync_playwright

from conftest import HOST, REPORTS, Procs, start_server

CHROMIUM = "/usr/bin/chromium"

# Runs in the page. Opens a WebSocket, sends a text and a binary message (plus two
# past the 16-bit length boundary), checks each echo, closes with 1000.
ECHO_JS = """
async (url) => {
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  const inbox = [];
  let waiter = null;
  ws.onmessage = (e) => { inbox.push(e.data); if (waiter) waiter(); };
  const next = async () => {
    while (!inbox.length) await new Promise((r) => (waiter = r));
    return inbox.shift();
  };
  const closed = new Promise((r) => (ws.onclose = (e) => r(e)));
  await new Promise((ok, bad) => { ws.onopen = ok; ws.onerror = () => bad(new Error("ws error")); });

  const bytes = (n) => { const a = new Uint8Array(n); for (let i = 0; i < n; i++) a[i] = (i * 7) & 255; return a; };
  const sameBytes = (buf, a) => buf instanceof ArrayBuffer && buf.byteLength === a.length &&
      new Uint8Array(buf).every((v, i) => v === a[i]);
  const errors = [];
  const cases = [["text", "héllo wörld 😀"], ["binary", bytes(256)],
                 ["text", "x".repeat(70000)], ["binary", bytes(70000)]];
  for (const [kind, msg] of cases) {
    ws.send(kind === "binary" ? msg.buffer : msg);
    const back = await next();
    const ok = kind === "text" ? back === msg : sameBytes(back, msg);
    if (!ok) errors.push(`${kind} ${msg.length}: got ${typeof back} ${back && (back.length ?? back.byteLength)}`);
  }
  ws.close(1000, "bye");
  const ev = await closed;
  return {errors, code: ev.code, wasClean: ev.wasClean, extensions: ws.extensions, protocol: ws.protocol};
}
"""

# Two WebSockets on /broadcast: each must see the other's message.
BROADCAST_JS = """
async ([url, tag]) => {
  const open = async (name) => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    ws.seen = new Set();
    ws.wake = null;
    ws.onmessage = (e) => {
      const s = typeof e.data === "string" ? e.data : "bin:" + new TextDecoder().decode(e.data);
      ws.seen.add(s); if (ws.wake) ws.wake();
    };
    ws.until = async (s) => { while (!ws.seen.has(s)) await new Promise((r) => (ws.wake = r)); };
    await new Promise((ok, bad) => { ws.onopen = ok; ws.onerror = () => bad(new Error("ws error")); });
    // our own hello coming back proves the server has registered us
    ws.send(`${tag} hello ${name}`);
    await ws.until(`${tag} hello ${name}`);
    return ws;
  };
  const a = await open("a");
  const b = await open("b");
  a.send(`${tag} from a`);
  b.send(new TextEncoder().encode(`${tag} from b`).buffer);
  for (const ws of [a, b]) { await ws.until(`${tag} from a`); await ws.until(`bin:${tag} from b`); }
  const codes = [];
  for (const ws of [a, b]) {
    const closed = new Promise((r) => (ws.onclose = (e) => r(e)));
    ws.close(1000);
    const ev = await closed;
    codes.push([ev.code, ev.wasClean]);
  }
  return codes;
}
"""


def evaluate(page, js: str, arg, timeout_ms: int = 20_000):
    """page.evaluate has no timeout of its own: race the page's promise against one."""
    raced = (f"(arg) => Promise.race([({js})(arg), new Promise((_, bad) => setTimeout("
             f"() => bad(new Error('no answer within {timeout_ms} ms')), {timeout_ms}))])")
    return page.evaluate(raced, arg)


def spki_hash(cert_pem) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)) of a certificate: what --ignore-certificate-errors-spki-list pins."""
    der = subprocess.run(["openssl", "x509", "-in", str(cert_pem), "-noout", "-pubkey"], capture_output=True, check=True).stdout
    spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=der, capture_output=True, check=True).stdout
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture(scope="module")
def page(pki):
    """One headless Chromium for the module. For wss:// it accepts exactly the test server's key (pinned by its
    SPKI hash); any other certificate error still fails."""
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-features=LocalNetworkAccessChecks",
                  f"--ignore-certificate-errors-spki-list={spki_hash(pki.cert)}"])
        pg = browser.new_page()
        pg.set_default_timeout(30_000)
        pg.goto("about:blank")
        yield pg
        browser.close()


def test_chromium_echo(server, page):
    r = evaluate(page, ECHO_JS, server.url("/echo"))
    print("chromium echo:", r)
    assert r["errors"] == []
    assert r["code"] == 1000
    assert r["wasClean"] is True
    # Chromium offers permessage-deflate by default; the gateway accepts it.
    assert r["extensions"].startswith("permessage-deflate"), r["extensions"]


def test_chromium_wss_echo_with_deflate(tls_server, page):
    r = evaluate(page, ECHO_JS, tls_server.url("/echo", "wss", "localhost"))
    print("chromium wss echo:", r)
    assert r["errors"] == []
    assert r["code"] == 1000 and r["wasClean"] is True
    assert r["extensions"].startswith("permessage-deflate"), r["extensions"]


def test_chromium_broadcast(server, page):
    codes = evaluate(page, BROADCAST_JS, [server.url("/broadcast"), "chromium-bc"])
    assert codes == [[1000, True], [1000, True]]


def test_console_shows_live_figures_and_talks_to_a_service(procs, wsgate_bin, page):
    """The web console at /: its live figures update (and follow traffic made by another client), and a
    message typed into the page goes to /echo and comes back. Saves reports/console.png."""
    from websockets.sync.client import connect

    srv = start_server(procs, wsgate_bin, "wsgate-serve-console")
    console = page.context.browser.new_page()
    console.set_default_timeout(20_000)
    try:
        console.goto(f"http://{HOST}:{srv.port}/")
        console.wait_for_function("document.getElementById('live-status').textContent === 'live'")
        console.wait_for_function("Number(document.getElementById('updates').textContent) >= 2")
        assert console.locator("#services tr[data-path='/echo']").count() == 1

        # Traffic from outside the page shows up in the figures.
        with connect(srv.url("/echo")) as ws:
            for i in range(20):
                ws.send(f"outside {i}")
                assert ws.recv() == f"outside {i}"
            console.wait_for_function("document.getElementById('open-websockets').textContent === '2'")
        console.wait_for_function(
            "Number(document.getElementById('messages-total').textContent.replace(/,/g, '')) >= 40")

        # Open /echo from the page, send text, see the reply.
        console.select_option("#service-select", "/echo")
        console.click("#connect")
        console.wait_for_function("document.getElementById('log').textContent.includes('open')")
        console.fill("#message", "hello from the console ✓")
        console.click("#send")
        console.wait_for_function(
            "document.getElementById('log').textContent.includes('← hello from the console ✓')")
        console.wait_for_function(
            "document.querySelector(\"#services tr[data-path='/echo']\").children[2].textContent === '1'")
        shot = REPORTS / "console.png"
        console.screenshot(path=str(shot), full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        console.click("#disconnect")
        console.wait_for_function("document.getElementById('log').textContent.includes('closed, code 1000')")
    finally:
        console.close()
        Procs.stop(srv.proc)
