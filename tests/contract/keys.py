"""Throwaway RSA keys and fake service-account files, made per test run (never a real key)."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, quote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

SIGNER_EMAIL = "bqdump-rw@test-project.iam.gserviceaccount.com"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def service_account_info(key, email: str = SIGNER_EMAIL) -> dict:
    return {"type": "service_account", "project_id": "test-project", "private_key_id": "throwaway",
            "private_key": private_pem(key), "client_email": email, "client_id": "1",
            "token_uri": "http://127.0.0.1:9/token"}


def certificate_pem(key, subject: str = "throwaway") -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def sign(key, message: bytes) -> bytes:
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def v4_string_to_sign(url: str) -> tuple[str, bytes, dict]:
    """Recomputes a V4 GET URL's string-to-sign from the URL alone (Google's documented algorithm)."""
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    signature = bytes.fromhex(params.pop("X-Goog-Signature"))
    canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(params.items()))
    canonical_request = "\n".join(["GET", parts.path, canonical_query, f"host:{parts.netloc}", "",
                                   params["X-Goog-SignedHeaders"], "UNSIGNED-PAYLOAD"])
    scope = params["X-Goog-Credential"].split("/", 1)[1]
    string_to_sign = "\n".join(["GOOG4-RSA-SHA256", params["X-Goog-Date"], scope,
                                hashlib.sha256(canonical_request.encode()).hexdigest()])
    return string_to_sign, signature, params


def verify_v4_url(url: str, public_key) -> dict:
    """Raises InvalidSignature unless `public_key` signed this URL; answers its query parameters."""
    string_to_sign, signature, params = v4_string_to_sign(url)
    public_key.verify(signature, string_to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())
    return params


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
