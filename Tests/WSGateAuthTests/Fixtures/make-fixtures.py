#!/usr/bin/env python3
"""Makes the JWT fixtures of WSGateAuthTests with independent tools: keys by openssl, tokens by PyJWT (and one
HMAC by Python's hmac module, for the forgery PyJWT refuses to make). Run from anywhere with PyJWT and
cryptography installed (`.deps/py/bin/python Tests/WSGateAuthTests/Fixtures/make-fixtures.py`); it rewrites
fixtures.json beside itself. Private keys live in a temporary folder and are not kept.

Every token is for the instant NOW (the Swift tests pass it as the handshake's time), so none goes stale."""
import base64
import hashlib
import hmac
import json
import subprocess
import tempfile
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization

NOW = 1_800_000_000
HERE = Path(__file__).resolve().parent
SECRET = b"wsgate-test-secret-" + b"0123456789abcdef" * 3  # 67 bytes: long enough for HS512
ISS, AUD = "https://issuer.test", "wsgate"


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**extra):
    out = {"sub": "alice", "iss": ISS, "aud": AUD, "iat": NOW - 60, "exp": NOW + 3600, "scope": "chat vnc"}
    out.update(extra)
    return {k: v for k, v in out.items() if v is not None}


with tempfile.TemporaryDirectory() as tmp:
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.pem", cwd=tmp)
    openssl("pkey", "-in", "rsa.pem", "-pubout", "-out", "rsa.pub", cwd=tmp)
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ec.pem", cwd=tmp)
    openssl("pkey", "-in", "ec.pem", "-pubout", "-out", "ec.pub", cwd=tmp)
    openssl("genpkey", "-algorithm", "ED25519", "-out", "ed.pem", cwd=tmp)
    openssl("pkey", "-in", "ed.pem", "-pubout", "-out", "ed.pub", cwd=tmp)
    keys = {name: Path(tmp, name).read_text() for name in ["rsa.pem", "rsa.pub", "ec.pem", "ec.pub", "ed.pem", "ed.pub"]}
    # A client certificate with a common name and subject alternative names, and one without a common name.
    openssl("req", "-x509", "-key", "ec.pem", "-days", "3650", "-subj", "/O=wsgate tests/CN=alice", "-addext",
            "subjectAltName=DNS:alice.example.test,email:alice@example.test,IP:192.0.2.7,URI:spiffe://example.test/alice",
            "-outform", "DER", "-out", "alice.der", cwd=tmp)
    openssl("req", "-x509", "-key", "ec.pem", "-days", "3650", "-subj", "/O=wsgate tests/OU=robots", "-outform", "DER",
            "-out", "nocn.der", cwd=tmp)
    certificates = {name: base64.b64encode(Path(tmp, f"{name}.der").read_bytes()).decode() for name in ["alice", "nocn"]}

ec_public = serialization.load_pem_public_key(keys["ec.pub"].encode())
jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(ec_public))
jwk.update({"kid": "k1", "use": "sig", "alg": "ES256"})

# The RSA public key used as an HS256 secret (the algorithm-confusion attack): PyJWT refuses to sign it, so
# the HMAC is computed here, over the same signing input any JWT library would build.
header = b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
payload = b64url(json.dumps(claims(), separators=(",", ":")).encode())
confused = f"{header}.{payload}." + b64url(hmac.new(keys["rsa.pub"].encode(), f"{header}.{payload}".encode(), hashlib.sha256).digest())

tokens = {
    "hs256_valid": jwt.encode(claims(), SECRET, algorithm="HS256"),
    "hs384_valid": jwt.encode(claims(), SECRET, algorithm="HS384"),
    "hs512_valid": jwt.encode(claims(), SECRET, algorithm="HS512"),
    "hs256_no_exp": jwt.encode(claims(exp=None), SECRET, algorithm="HS256"),
    "hs256_expired": jwt.encode(claims(exp=NOW - 3600), SECRET, algorithm="HS256"),
    "hs256_expired_within_leeway": jwt.encode(claims(exp=NOW - 10), SECRET, algorithm="HS256"),
    "hs256_not_yet_valid": jwt.encode(claims(nbf=NOW + 3600), SECRET, algorithm="HS256"),
    "hs256_wrong_issuer": jwt.encode(claims(iss="https://evil.test"), SECRET, algorithm="HS256"),
    "hs256_wrong_audience": jwt.encode(claims(aud="someone-else"), SECRET, algorithm="HS256"),
    "hs256_audience_list": jwt.encode(claims(aud=["other", AUD]), SECRET, algorithm="HS256"),
    "hs256_forged": jwt.encode(claims(), b"not-the-secret-but-as-long-as-one-0123456789", algorithm="HS256"),
    "hs256_no_vnc_scope": jwt.encode(claims(scope="chat"), SECRET, algorithm="HS256"),
    "alg_none": jwt.encode(claims(), None, algorithm="none"),
    "rs256_valid": jwt.encode(claims(), keys["rsa.pem"], algorithm="RS256"),
    "rs256_public_key_as_hs256_secret": confused,
    "es256_valid": jwt.encode(claims(), keys["ec.pem"], algorithm="ES256"),
    "es256_kid_k1": jwt.encode(claims(), keys["ec.pem"], algorithm="ES256", headers={"kid": "k1"}),
    "es256_kid_unknown": jwt.encode(claims(), keys["ec.pem"], algorithm="ES256", headers={"kid": "k9"}),
    "eddsa_valid": jwt.encode(claims(), keys["ed.pem"], algorithm="EdDSA"),
}
out = {
    "note": "made by make-fixtures.py (openssl keys, PyJWT tokens); do not edit by hand",
    "pyjwt": jwt.__version__,
    "now": NOW, "issuer": ISS, "audience": AUD,
    "secret": SECRET.decode(),
    "rsa_public_pem": keys["rsa.pub"], "ec_public_pem": keys["ec.pub"], "ed25519_public_pem": keys["ed.pub"],
    "jwks": json.dumps({"keys": [jwk]}),
    "certificates_der_base64": certificates,
    "tokens": tokens,
}
(HERE / "fixtures.json").write_text(json.dumps(out, indent=2) + "\n")
print(f"wrote {HERE / 'fixtures.json'} ({len(tokens)} tokens, PyJWT {jwt.__version__})")
