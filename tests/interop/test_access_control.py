"""Access control (per-service `auth`) against real clients, with tokens minted by PyJWT and keys made by openssl,
never by the code under test.

One gateway runs the embedded default behind `--jwt-secret-file`; another runs a configuration file with a service
per method (HS*/RS256/ES256/EdDSA JWTs with issuer and audience, API keys, a scope requirement, custom credential
names). Each credential source (header, query, cookie, Kubernetes subprotocol) is tried on RFC 6455 (Python
websockets), hixie-76 (the Ruby `websocket` gem) and a WSR create whose RTMP session librtmp then opens;
headless Chromium presents a cookie and a query token. Hostile credentials must be answered at once."""
import asyncio
import base64
import hashlib
import json
import re
import subprocess
import time
import urllib.request
from pathlib import Path

import jwt
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from conftest import HOST, REPORTS, Procs, free_port, raw_exchange, start_config_server, start_server
from rawws import handshake_request

PEERS = Path(__file__).parent / "peers"
TIMEOUT = 20
ISS, AUD = "https://issuer.test", "wsgate"
SECRET = b"access-control-interop-secret-" + b"0123456789" * 4


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, TIMEOUT))


class Keys:
    """The secret, openssl key pairs and an API key file for one run."""

    def __init__(self, directory: Path):
        directory.mkdir(parents=True, exist_ok=True)
        self.dir = directory
        self.secret_file = directory / "jwt.secret"
        self.secret_file.write_bytes(SECRET + b"\n")  # the newline an editor adds is trimmed by the gateway
        for name, args in {"rsa": ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
                           "ec": ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
                           "ed": ["-algorithm", "ED25519"]}.items():
            subprocess.run(["openssl", "genpkey", *args, "-out", f"{name}.pem"], cwd=directory, check=True, capture_output=True)
            subprocess.run(["openssl", "pkey", "-in", f"{name}.pem", "-pubout", "-out", f"{name}.pub"], cwd=directory,
                           check=True, capture_output=True)
        self.api_key = "ak_" + hashlib.sha256(directory.name.encode()).hexdigest()[:32]
        self.api_key_file = directory / "api-keys"
        self.api_key_file.write_text(f"# chat clients\n{hashlib.sha256(self.api_key.encode()).hexdigest()} bot-7\n")

    def pem(self, name: str) -> str:
        return (self.dir / name).read_text()

    def token(self, alg: str = "HS256", key=None, **claims) -> str:
        now = int(time.time())
        body = {"sub": "alice", "iss": ISS, "aud": AUD, "iat": now, "exp": now + 600, "scope": "chat vnc", **claims}
        body = {k: v for k, v in body.items() if v is not None}
        if key is None:
            key = {"HS": SECRET, "RS": self.pem("rsa.pem"), "ES": self.pem("ec.pem"), "Ed": self.pem("ed.pem")}[alg[:2]]
        return jwt.encode(body, key, algorithm=alg)


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(REPORTS / "access-keys")


@pytest.fixture(scope="module")
def default_gateway(procs, wsgate_bin, keys):
    """The embedded default (/echo, /broadcast) with `--jwt-secret-file`."""
    s = start_server(procs, wsgate_bin, "wsgate-serve-jwt", "--jwt-secret-file", keys.secret_file)
    yield s
    s.assert_alive()
    Procs.stop(s.proc)


@pytest.fixture(scope="module")
def gateway(procs, wsgate_bin, keys, tmp_path_factory):
    """A service per method, from a configuration file."""
    port = free_port()
    config = tmp_path_factory.mktemp("access") / "wsgate.yaml"
    yaml = (f"""
listeners:
  - host: {HOST}
    port: {port}
limits:
  max_handshake_size: 262144   # so that hostile credentials reach the credential reader, not the head limit
log:
  level: debug
services:
  - path: /open
    type: echo
  - path: /jwt
    type: echo
    auth:
      jwt:
        secret_file: {keys.secret_file}
        public_keys: [{keys.dir / 'rsa.pub'}, {keys.dir / 'ec.pub'}, {keys.dir / 'ed.pub'}]
        issuer: {ISS}
        audience: {AUD}
        leeway: 5
  - path: /keys
    type: echo
    auth:
      api_key: {{file: {keys.api_key_file}}}
  - path: /either
    type: echo
    auth:
      jwt: {{secret_file: {keys.secret_file}}}
      api_key: {{file: {keys.api_key_file}}}
  - path: /vnc
    type: echo
    auth:
      jwt: {{secret_file: {keys.secret_file}}}
      require:
        claims: {{scope: [vnc]}}
  - path: /custom
    type: echo
    auth:
      jwt: {{secret_file: {keys.secret_file}}}
      credentials: {{header: false, subprotocol: false, query: token, cookie: session}}
""")
    config.write_text(yaml)
    checked = subprocess.run([str(wsgate_bin), "serve", "--check-config", str(config)], capture_output=True, text=True,
                             timeout=TIMEOUT)
    assert checked.returncode == 0, checked.stderr
    s = start_config_server(procs, wsgate_bin, "wsgate-serve-access", config, yaml, port)
    yield s
    s.assert_alive()
    Procs.stop(s.proc)


def status_of(port: int, path: str, extra: str = "") -> tuple[int, dict, bytes, float]:
    """The HTTP status, headers and body an RFC 6455 upgrade gets, and how long the answer took."""
    started = time.monotonic()
    reply = raw_exchange(port, handshake_request(port, path, extra=extra), timeout=TIMEOUT)
    took = time.monotonic() - started
    head, _, body = reply.data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].startswith("HTTP/1.1 "), reply
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body, took


def assert_refused(port: int, path: str, extra: str, status: int, error: str, fragment: str = "") -> str:
    code, headers, body, took = status_of(port, path, extra)
    assert code == status, (code, headers, body)
    challenge = headers.get("www-authenticate", "")
    assert challenge.startswith('Bearer realm="wsgate"') and f'error="{error}"' in challenge, challenge
    assert fragment in body.decode(), body
    assert took < 2, f"the refusal took {took:.1f} s"
    return body.decode()


def metric(port: int, name: str, **labels) -> float:
    text = urllib.request.urlopen(f"http://{HOST}:{port}/metrics", timeout=TIMEOUT).read().decode()
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        m = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if m and ",".join(sorted(m.group(1).split(","))) == wanted:
            return float(m.group(2))
    return 0.0


async def echo_once(url: str, **kw) -> str:
    async with connect(url, open_timeout=TIMEOUT, **kw) as ws:
        await ws.send("hello")
        return await asyncio.wait_for(ws.recv(), TIMEOUT)


def k8s_entry(token: str) -> str:
    return "base64url.bearer.authorization.k8s.io." + base64.urlsafe_b64encode(token.encode()).rstrip(b"=").decode()


# --- tokens minted by PyJWT: each outcome with its status and metrics reason ---------------------------------

@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512", "RS256", "ES256", "EdDSA"])
def test_a_valid_token_of_each_algorithm_is_admitted(gateway, keys, alg):
    token = keys.token(alg)
    assert run(echo_once(f"ws://{HOST}:{gateway.port}/jwt", additional_headers={"Authorization": f"Bearer {token}"})) == "hello"


def confused_token(keys: Keys) -> str:
    """HS256 signed with the RSA *public* key's PEM as the secret (algorithm confusion). PyJWT refuses to make
    it, so the HMAC is computed here over the standard signing input."""
    import hmac
    enc = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    now = int(time.time())
    header = enc(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = enc(json.dumps({"sub": "alice", "iss": ISS, "aud": AUD, "exp": now + 600}).encode())
    signature = hmac.new(keys.pem("rsa.pub").encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{enc(signature)}"


BAD_TOKENS = {
    "expired": (lambda k: k.token(exp=int(time.time()) - 60), "expired"),
    "not yet valid": (lambda k: k.token(nbf=int(time.time()) + 600), "not valid yet"),
    "wrong issuer": (lambda k: k.token(iss="https://evil.test"), "issuer"),
    "wrong audience": (lambda k: k.token(aud="someone-else"), "audience"),
    "forged signature": (lambda k: k.token(key=b"a-different-secret-of-forty-bytes-length!!"), "signature"),
    "alg none": (lambda k: jwt.encode({"sub": "alice", "iss": ISS, "aud": AUD}, None, algorithm="none"), "none"),
    "RS256 public key as HS256 secret": (confused_token, "signature"),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_a_bad_token_is_401_invalid_token_counted_as_unauthenticated(gateway, keys, case):
    make, fragment = BAD_TOKENS[case]
    token = make(keys)
    before = metric(gateway.port, "wsgate_handshake_failures_total", reason="unauthenticated")
    before_service = metric(gateway.port, "wsgate_access_total", service="/jwt", result="unauthenticated")
    body = assert_refused(gateway.port, "/jwt", f"Authorization: Bearer {token}\r\n", 401, "invalid_token", fragment)
    assert token not in body
    assert metric(gateway.port, "wsgate_handshake_failures_total", reason="unauthenticated") == before + 1
    assert metric(gateway.port, "wsgate_access_total", service="/jwt", result="unauthenticated") == before_service + 1
    log = gateway.log.read_text(errors="replace")
    assert "handshake refused" in log
    assert token not in log and all(part not in log for part in token.split(".") if len(part) > 8)  # not even a piece


def test_no_credential_is_401_and_an_open_service_stays_open(gateway):
    assert_refused(gateway.port, "/jwt", "", 401, "invalid_token", "no credential presented")
    assert run(echo_once(f"ws://{HOST}:{gateway.port}/open")) == "hello"


def test_a_scope_the_service_requires_is_403_insufficient_scope(gateway, keys):
    before = metric(gateway.port, "wsgate_access_total", service="/vnc", result="forbidden")
    assert_refused(gateway.port, "/vnc", f"Authorization: Bearer {keys.token(scope='chat')}\r\n", 403, "insufficient_scope",
                   "scope claim does not contain vnc")
    assert metric(gateway.port, "wsgate_access_total", service="/vnc", result="forbidden") == before + 1
    assert metric(gateway.port, "wsgate_handshake_failures_total", reason="forbidden") >= 1
    admitted = metric(gateway.port, "wsgate_access_total", service="/vnc", result="admitted")
    assert run(echo_once(f"ws://{HOST}:{gateway.port}/vnc",
                         additional_headers={"Authorization": f"Bearer {keys.token(scope='read vnc')}"})) == "hello"
    assert metric(gateway.port, "wsgate_access_total", service="/vnc", result="admitted") == admitted + 1


def test_api_keys_from_a_hash_file(gateway, keys):
    assert run(echo_once(f"ws://{HOST}:{gateway.port}/keys", additional_headers={"Authorization": f"Bearer {keys.api_key}"})) == "hello"
    assert run(echo_once(f"ws://{HOST}:{gateway.port}/keys?access_token={keys.api_key}")) == "hello"
    assert_refused(gateway.port, "/keys", "Authorization: Bearer ak_not_a_key\r\n", 401, "invalid_token", "unknown API key")
    # a JWT is no API key
    assert_refused(gateway.port, "/keys", f"Authorization: Bearer {keys.token()}\r\n", 401, "invalid_token")


def test_either_method_admits_on_a_service_with_both(gateway, keys):
    for credential in [keys.api_key, keys.token()]:
        assert run(echo_once(f"ws://{HOST}:{gateway.port}/either", additional_headers={"Authorization": f"Bearer {credential}"})) == "hello"
    body = assert_refused(gateway.port, "/either", "Authorization: Bearer nothing-good\r\n", 401, "invalid_token")
    assert "jwt:" in body and "api_key:" in body


# --- every credential source, on every wire ----------------------------------------------------------------

SOURCES = ["header", "query", "cookie", "subprotocol"]


def placed(source: str, token: str) -> tuple[str, dict, list]:
    """(query suffix, extra headers, subprotocols) presenting `token` from `source`."""
    return {
        "header": ("", {"Authorization": f"Bearer {token}"}, []),
        "query": (f"?access_token={token}", {}, []),
        "cookie": ("", {"Cookie": f"theme=dark; access_token={token}"}, []),
        "subprotocol": ("", {}, [k8s_entry(token)]),
    }[source]


@pytest.mark.parametrize("source", SOURCES)
def test_each_source_on_rfc6455_with_python_websockets(default_gateway, keys, source):
    query, headers, subprotocols = placed(source, keys.token())

    async def go():
        async with connect(f"ws://{HOST}:{default_gateway.port}/echo{query}", additional_headers=headers,
                           subprotocols=subprotocols or None, open_timeout=TIMEOUT) as ws:
            assert ws.subprotocol is None  # the token entry is never echoed back
            await ws.send("hi")
            return await asyncio.wait_for(ws.recv(), TIMEOUT)

    assert run(go()) == "hi"


def test_python_websockets_without_a_token_gets_401(default_gateway):
    with pytest.raises(InvalidStatus) as refused:
        run(echo_once(f"ws://{HOST}:{default_gateway.port}/broadcast"))
    assert refused.value.response.status_code == 401
    assert 'error="invalid_token"' in refused.value.response.headers["WWW-Authenticate"]


def ruby_hixie76(url: str, headers: dict) -> subprocess.CompletedProcess:
    env = {"HIXIE_HEADERS": "\n".join(f"{k}: {v}" for k, v in headers.items()), "PATH": "/usr/bin:/bin"}
    return subprocess.run(["ruby", str(PEERS / "hixie" / "ruby_client.rb"), url, "76", "http://example.com"],
                          input="one\ntwo\n", capture_output=True, text=True, timeout=TIMEOUT, env=env)


@pytest.mark.parametrize("source", SOURCES)
def test_each_source_on_hixie76_with_the_ruby_gem(default_gateway, keys, source):
    query, headers, subprotocols = placed(source, keys.token())
    if subprotocols:  # the gem's own protocol option insists on an echo: send the offer as a plain header
        headers = {"Sec-WebSocket-Protocol": subprotocols[0]}
    r = ruby_hixie76(f"ws://{HOST}:{default_gateway.port}/echo{query}", headers)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["one", "two"]


def test_hixie76_without_a_token_is_refused_with_401(default_gateway):
    r = ruby_hixie76(f"ws://{HOST}:{default_gateway.port}/echo", {})
    assert r.returncode == 2 and "401" in r.stderr, r.stderr


def wsr_create(port: int, path: str, query: str = "", headers: dict | None = None) -> tuple[int, dict, str]:
    request = urllib.request.Request(f"http://{HOST}:{port}{path}/;e/cr{query}", method="POST", data=b"",
                                     headers={"X-WebSocket-Version": "wsr-1.0", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


@pytest.mark.parametrize("source", SOURCES)
def test_each_source_on_a_wsr_create(default_gateway, keys, source):
    token = keys.token()
    query, headers, subprotocols = placed(source, token)
    if subprotocols:
        headers = {"X-WebSocket-Protocol": subprotocols[0]}
    status, response_headers, body = wsr_create(default_gateway.port, "/echo", query.replace("?", "?room=1&"), headers)
    assert status == 201, body
    assert token not in body  # the session URL carries the query without the credential
    assert "X-WebSocket-Protocol" not in response_headers
    if source == "query":
        assert body.endswith("?room=1"), body
    status, response_headers, body = wsr_create(default_gateway.port, "/echo")
    assert status == 401 and 'error="invalid_token"' in response_headers.get("WWW-Authenticate", ""), (status, body)


def test_the_rtmp_session_of_an_authenticated_create_needs_no_further_credential(default_gateway, keys):
    """librtmp opens the session a create with a token made; the RTMP side presents nothing and is admitted."""
    env = {"WSR_CREATE_HEADERS": json.dumps({"Authorization": f"Bearer {keys.token()}"}), "PATH": "/usr/bin:/bin",
           "PYTHONPATH": str(PEERS / "rtmp")}
    r = subprocess.run(["/usr/bin/python3", str(PEERS / "rtmp" / "librtmp_wsr.py"), "echo",
                        f"http://{HOST}:{default_gateway.port}/echo", "over rtmp"],
                       capture_output=True, text=True, timeout=TIMEOUT * 2, env=env)
    assert r.returncode == 0, r.stderr
    events = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert {"text": False, "hex": b"over rtmp".hex()} in events or {"text": True, "hex": b"over rtmp".hex()} in events, events
    # Without the header, the create is refused and librtmp never gets a URL.
    r = subprocess.run(["/usr/bin/python3", str(PEERS / "rtmp" / "librtmp_wsr.py"), "echo",
                        f"http://{HOST}:{default_gateway.port}/echo", "x"],
                       capture_output=True, text=True, timeout=TIMEOUT, env={**env, "WSR_CREATE_HEADERS": "{}"})
    assert r.returncode != 0 and "401" in r.stderr, r.stderr


def test_custom_credential_names_and_disabled_sources(gateway, keys):
    token = keys.token()
    assert run(echo_once(f"ws://{HOST}:{gateway.port}/custom?token={token}")) == "hello"
    assert run(echo_once(f"ws://{HOST}:{gateway.port}/custom", additional_headers={"Cookie": f"session={token}"})) == "hello"
    # the header and the default names are not read there
    assert_refused(gateway.port, "/custom", f"Authorization: Bearer {token}\r\n", 401, "invalid_token", "no credential")
    assert_refused(gateway.port, "/custom?access_token=" + token, "", 401, "invalid_token", "no credential")


def test_two_explicit_sources_at_once_are_400_invalid_request(gateway, keys):
    token = keys.token()
    assert_refused(gateway.port, f"/jwt?access_token={token}", f"Authorization: Bearer {token}\r\n", 400, "invalid_request",
                   "more than one way")


# --- the wsgate client and `wsgate token` --------------------------------------------------------------------

def test_wsgate_token_is_a_jwt_pyjwt_verifies(wsgate_bin, keys):
    r = subprocess.run([str(wsgate_bin), "token", "--secret-file", str(keys.secret_file), "--sub", "carol", "--ttl", "120",
                        "--scope", "chat vnc", "--claim", "room=42"], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    claims = jwt.decode(r.stdout.strip(), SECRET, algorithms=["HS256"])
    assert claims["sub"] == "carol" and claims["scope"] == "chat vnc" and claims["room"] == "42"
    assert 100 <= claims["exp"] - time.time() <= 121


@pytest.mark.parametrize("place", ["header", "query", "cookie", "subprotocol"])
def test_wsgate_connect_presents_its_token(default_gateway, wsgate_bin, keys, place):
    r = subprocess.run([str(wsgate_bin), "connect", "--token", keys.token(), "--token-in", place,
                        f"ws://{HOST}:{default_gateway.port}/echo"], input="ping\n", capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["ping"]


def test_wsgate_connect_over_wsr_and_hixie_with_a_token(default_gateway, wsgate_bin, keys):
    for extra, url in [(["--draft", "76"], f"ws://{HOST}:{default_gateway.port}/echo"),
                       ([], f"wsr://{HOST}:{default_gateway.port}/echo")]:
        r = subprocess.run([str(wsgate_bin), "connect", "--token", keys.token(), *extra, url], input="ping\n",
                           capture_output=True, text=True, timeout=TIMEOUT)
        assert r.returncode == 0, (url, r.stderr)
        assert r.stdout.splitlines() == ["ping"], url
    r = subprocess.run([str(wsgate_bin), "connect", f"ws://{HOST}:{default_gateway.port}/echo"], input="ping\n",
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode != 0 and "401" in r.stderr, r.stderr


# --- hostile credentials: answered at once, never a crash or a stall ------------------------------------------

def test_hostile_credentials_are_answered_at_once(gateway, keys):
    many_claims = jwt.encode({f"c{i}": i for i in range(10_000)}, SECRET, algorithm="HS256")
    cases = [
        ("a 10 KB token", f"Authorization: Bearer {'a' * 10_000}\r\n", 401, "invalid_token"),
        ("a JWT with 10,000 claims", f"Authorization: Bearer {many_claims}\r\n", 401, "invalid_token"),
        ("a thousand cookies", "Cookie: " + "; ".join(f"c{i}=v{i}" for i in range(1000)) + "\r\n", 401, "invalid_token"),
        ("broken base64 in the subprotocol", "Sec-WebSocket-Protocol: base64url.bearer.authorization.k8s.io.@@@\r\n", 400,
         "invalid_request"),
        ("a token of base64 garbage", "Authorization: Bearer ////\r\n", 401, "invalid_token"),
        ("a header that is all dots", "Authorization: Bearer " + "." * 5000 + "\r\n", 401, "invalid_token"),
    ]
    for what, extra, status, error in cases:
        if "Sec-WebSocket-Protocol" in extra and "@" in extra:
            # not a token character: the RFC 6455 parser refuses the field before access control
            code, _, body, took = status_of(gateway.port, "/jwt", extra)
            assert code == 400 and took < 2, (what, code, body)
            continue
        assert_refused(gateway.port, "/jwt", extra, status, error)
    assert_refused(gateway.port, "/jwt", "Sec-WebSocket-Protocol: base64url.bearer.authorization.k8s.io.YQ\r\n", 401,
                   "invalid_token")  # decodes to "a": read, then refused as no JWT
    assert_refused(gateway.port, "/jwt", "Sec-WebSocket-Protocol: base64url.bearer.authorization.k8s.io.Y\r\n", 400,
                   "invalid_request")  # one base64url character cannot be
    assert run(echo_once(f"ws://{HOST}:{gateway.port}/open")) == "hello"  # nothing else harmed


# --- a real browser -------------------------------------------------------------------------------------------

BROWSER_JS = """
async (url) => {
  const ws = new WebSocket(url);
  const result = await new Promise((done) => {
    ws.onopen = () => ws.send("from the browser");
    ws.onmessage = (e) => { done({echo: e.data}); ws.close(1000); };
    ws.onclose = (e) => done({closed: e.code});
  });
  return result;
}
"""


def test_chromium_presents_a_cookie_and_a_query_token(default_gateway, keys):
    from playwright.sync_api import sync_playwright
    origin = f"http://{HOST}:{default_gateway.port}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            context = browser.new_context()
            page = context.new_page()
            page.goto(origin + "/")  # the console: a page of the gateway's own origin, so its cookies go along
            ws_url = f"ws://{HOST}:{default_gateway.port}/echo"
            assert page.evaluate(BROWSER_JS, ws_url) == {"closed": 1006}  # no credential: the handshake fails
            assert page.evaluate(BROWSER_JS, ws_url + "?access_token=" + keys.token()) == {"echo": "from the browser"}
            context.add_cookies([{"name": "access_token", "value": keys.token(), "url": origin}])
            assert page.evaluate(BROWSER_JS, ws_url) == {"echo": "from the browser"}
        finally:
            browser.close()


def test_the_console_feed_counts_each_protected_services_decisions(gateway, keys):
    assert run(echo_once(f"ws://{HOST}:{gateway.port}/vnc", additional_headers={"Authorization": f"Bearer {keys.token()}"})) == "hello"
    assert_refused(gateway.port, "/vnc", "", 401, "invalid_token")

    async def feed():
        async with connect(f"ws://{HOST}:{gateway.port}/console/live", open_timeout=TIMEOUT) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))

    access = run(feed())["snapshot"]["access"]
    assert access["/vnc"]["admitted"] >= 1 and access["/vnc"]["unauthenticated"] >= 1, access
    assert "/open" not in access  # an open service decides nothing


# --- client certificates (mtls), made with openssl ------------------------------------------------------------

class ClientCerts:
    """Client certificates for the PKI's CA (alice, bob, an expired one) and one from another CA."""

    def __init__(self, pki):
        self.dir = pki.dir / "clients"
        self.dir.mkdir(parents=True, exist_ok=True)
        ext = self.dir / "client-ext.cnf"
        ext.write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\nsubjectAltName=email:alice@example.test\n")
        for name, ca in [("alice", "ca"), ("bob", "ca"), ("mallory", "other-ca")]:
            self.run("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/O=wsgate tests/CN={name}", "-keyout", f"{name}-key.pem",
                     "-out", f"{name}.csr")
            self.run("x509", "-req", "-in", f"{name}.csr", "-CA", str(pki.dir / f"{ca}.pem"), "-CAkey", str(pki.dir / f"{ca}-key.pem"),
                     "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", f"{name}.pem")
        # An expired certificate of the right CA: `openssl ca` is the openssl command that sets the dates.
        (self.dir / "index.txt").write_text("")
        (self.dir / "ca.cnf").write_text(f"""[ca]
default_ca = test
[test]
database = {self.dir}/index.txt
new_certs_dir = {self.dir}
serial = {self.dir}/serial
default_md = sha256
policy = any
copy_extensions = none
[any]
commonName = supplied
""")
        (self.dir / "serial").write_text("1000\n")
        self.run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=alice", "-keyout", "expired-key.pem", "-out", "expired.csr")
        self.run("ca", "-batch", "-config", "ca.cnf", "-cert", str(pki.dir / "ca.pem"), "-keyfile", str(pki.dir / "ca-key.pem"),
                 "-startdate", "20200101000000Z", "-enddate", "20200102000000Z", "-notext", "-in", "expired.csr",
                 "-out", "expired.pem")

    def run(self, *args):
        subprocess.run(["openssl", *args], cwd=self.dir, check=True, capture_output=True)

    def context(self, pki, name: str | None):
        import ssl
        ctx = ssl.create_default_context(cafile=str(pki.ca))
        if name:
            ctx.load_cert_chain(str(self.dir / f"{name}.pem"), str(self.dir / f"{name}-key.pem"))
        return ctx


@pytest.fixture(scope="module")
def mtls_gateway(procs, wsgate_bin, pki, tmp_path_factory):
    port = free_port()
    s = start_config_server(procs, wsgate_bin, "wsgate-serve-mtls", tmp_path_factory.mktemp("mtls") / "wsgate.yaml", f"""
listeners:
  - host: {HOST}
    port: {port}
    tls: {{cert: {pki.cert}, key: {pki.key}, client_ca: {pki.ca}}}
services:
  - path: /open
    type: echo
  - path: /mtls
    type: echo
    auth: {{mtls: true}}
  - path: /alice
    type: echo
    auth:
      mtls: true
      require: {{subjects: [alice], claims: {{san: [alice@example.test]}}}}
""", port)
    yield s
    s.assert_alive()
    Procs.stop(s.proc)


@pytest.fixture(scope="module")
def client_certs(pki) -> ClientCerts:
    return ClientCerts(pki)


def test_mtls_admits_a_certificate_of_the_ca_and_reads_its_subject(mtls_gateway, pki, client_certs):
    url = f"wss://{HOST}:{mtls_gateway.port}"
    assert run(echo_once(url + "/alice", ssl=client_certs.context(pki, "alice"))) == "hello"
    assert run(echo_once(url + "/mtls", ssl=client_certs.context(pki, "bob"))) == "hello"
    with pytest.raises(InvalidStatus) as refused:  # bob is authenticated, but /alice wants alice
        run(echo_once(url + "/alice", ssl=client_certs.context(pki, "bob")))
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus) as refused:  # no certificate: asked for, not required by the listener
        run(echo_once(url + "/mtls", ssl=client_certs.context(pki, None)))
    assert refused.value.response.status_code == 401
    assert run(echo_once(url + "/open", ssl=client_certs.context(pki, None))) == "hello"


@pytest.mark.parametrize("name", ["mallory", "expired"])
def test_mtls_refuses_a_certificate_of_another_ca_or_expired_in_the_tls_handshake(mtls_gateway, pki, client_certs, name):
    # With TLS 1.3 the client learns of the refusal after its Finished: as an alert or the end of the stream
    # while it waits for the HTTP response (websockets: InvalidMessage from an EOFError). Never an HTTP answer.
    with pytest.raises(Exception) as failed:
        run(echo_once(f"wss://{HOST}:{mtls_gateway.port}/mtls", ssl=client_certs.context(pki, name)))
    assert not isinstance(failed.value, InvalidStatus), failed.value
    chain, cause = [], failed.value
    while cause is not None:
        chain.append(type(cause).__name__)
        cause = cause.__cause__ or cause.__context__
    assert {"SSLError", "EOFError", "ConnectionResetError", "SSLEOFError"} & set(chain), chain
    deadline = time.monotonic() + 5
    while "TLS handshake failed" not in mtls_gateway.log.read_text(errors="replace") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "TLS handshake failed" in mtls_gateway.log.read_text(errors="replace")
    assert metric_tls(mtls_gateway.port, pki) >= 1
    assert run(echo_once(f"wss://{HOST}:{mtls_gateway.port}/open", ssl=client_certs.context(pki, None))) == "hello"


def metric_tls(port: int, pki) -> float:
    import ssl
    text = urllib.request.urlopen(f"https://{HOST}:{port}/metrics", timeout=TIMEOUT,
                                  context=ssl.create_default_context(cafile=str(pki.ca))).read().decode()
    m = re.search(r'^wsgate_handshake_failures_total\{reason="tls_failed"\} (\S+)$', text, re.M)
    return float(m.group(1)) if m else 0.0


def test_wsgate_connect_presents_a_client_certificate(mtls_gateway, wsgate_bin, pki, client_certs):
    r = subprocess.run([str(wsgate_bin), "connect", "--ca-file", str(pki.ca), "--cert", str(client_certs.dir / "alice.pem"),
                        "--key", str(client_certs.dir / "alice-key.pem"), f"wss://{HOST}:{mtls_gateway.port}/alice"],
                       input="ping\n", capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["ping"]
