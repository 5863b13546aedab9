"""Start-up checks: a bad auth setting stops the process with an error naming it."""

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

import functions.auth.settings as settings_module
from functions.auth import AUTH_SETTINGS
from functions.auth.cache import CachedAuthorizer
from functions.core.errors import ConfigurationError
from functions.core.settings_schema import Setting, settings_of
from functions.ports import Caller
from functions.settings import load_settings
from tests.support.auth import authorizer_from

EXPECTED = {
    "AUTH_TYPE": "anonymous",
    "CKAN_URL": "",
    "CKAN_TIMEOUT_SECONDS": "5",
    "JWT_SECRET": "",
    "JWT_PUBLIC_KEY": "",
    "JWT_AUDIENCE": "",
    "JWT_ISSUER": "",
    "JWT_RESOURCES_CLAIM": "resources",
    "AUTH_CACHE_TTL_SECONDS": "60",
    "AUTH_CACHE_MAX_ENTRIES": "10000",
}


def public_pem(private_key) -> str:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def refused(env) -> str:
    """load_settings alone refuses: the start-up check, before any authorizer is built."""
    with pytest.raises(ConfigurationError) as caught:
        load_settings(env)
    return str(caught.value)


def test_settings_are_declared_once_with_defaults_and_one_line_help():
    assert {s.name: s.default for s in AUTH_SETTINGS} == EXPECTED
    assert all(s.help and "\n" not in s.help for s in AUTH_SETTINGS)
    assert [s.name for s in AUTH_SETTINGS if s.secret] == ["JWT_SECRET"]


def test_every_setting_the_package_reads_is_in_the_table():
    declared = {value for value in vars(settings_module).values() if isinstance(value, Setting)}
    declared |= set(settings_of(settings_module.AuthConfig))  # declared on the fields they fill
    assert declared == set(AUTH_SETTINGS)
    for source in Path(settings_module.__file__).parent.glob("*.py"):
        text = source.read_text()
        assert "env.get(" not in text and "env[" not in text and "os.environ" not in text, source.name


def test_default_is_anonymous_and_allows_everything():
    authorizer_from({}).authorize(Caller(None), "any-resource", 0.0)


def test_ckan_is_wrapped_in_the_cache():
    authorizer = authorizer_from({"AUTH_TYPE": "ckan", "CKAN_URL": "https://ckan.example"})
    assert isinstance(authorizer, CachedAuthorizer)
    assert (authorizer.ttl, authorizer.denial_ttl, authorizer.cache.max_entries) == (60.0, 10.0, 10000)


CKAN = {"AUTH_TYPE": "ckan", "CKAN_URL": "https://c.example"}
BAD_PEM = "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----"


@pytest.mark.parametrize(
    "env, named",
    [
        ({"AUTH_TYPE": "ldap"}, "AUTH_TYPE"),
        ({"AUTH_TYPE": "ckan"}, "CKAN_URL"),
        ({"AUTH_TYPE": "ckan", "CKAN_URL": "ckan.example"}, "CKAN_URL"),
        ({**CKAN, "CKAN_TIMEOUT_SECONDS": "0"}, "CKAN_TIMEOUT_SECONDS"),
        ({**CKAN, "AUTH_CACHE_TTL_SECONDS": "-1"}, "AUTH_CACHE_TTL_SECONDS"),
        ({**CKAN, "AUTH_CACHE_MAX_ENTRIES": "0"}, "AUTH_CACHE_MAX_ENTRIES"),
        ({"AUTH_TYPE": "jwt"}, "JWT_PUBLIC_KEY"),
        ({"AUTH_TYPE": "jwt", "JWT_SECRET": "x" * 40, "JWT_PUBLIC_KEY": "/k.pem"}, "JWT_SECRET"),
        ({"AUTH_TYPE": "jwt", "JWT_PUBLIC_KEY": BAD_PEM}, "JWT_PUBLIC_KEY"),
        ({"AUTH_TYPE": "jwt", "JWT_PUBLIC_KEY": "/nonexistent/key.pem"}, "JWT_PUBLIC_KEY"),
        ({"AUTH_TYPE": "jwt", "JWT_PUBLIC_KEY": "bad\x00path"}, "JWT_PUBLIC_KEY"),
        ({"AUTH_TYPE": "jwt", "JWT_PUBLIC_KEY": public_pem(ec.generate_private_key(ec.SECP384R1()))}, "JWT_PUBLIC_KEY"),
        ({"AUTH_TYPE": "jwt", "JWT_PUBLIC_KEY": public_pem(ed25519.Ed25519PrivateKey.generate())}, "JWT_PUBLIC_KEY"),
        ({"AUTH_TYPE": "jwt", "JWT_PUBLIC_KEY": public_pem(rsa.generate_private_key(65537, 1024))}, "JWT_PUBLIC_KEY"),
    ],
    ids=["unknown-type", "no-url", "url-no-scheme", "timeout", "ttl", "max-entries", "jwt-no-key",
         "jwt-both", "bad-pem", "missing-file", "nul-path", "p384", "ed25519", "rsa-1024"],  # fmt: skip
)
def test_bad_settings_stop_start_up_naming_the_setting(env, named):
    assert named in refused(env)


def test_a_short_secret_is_refused_without_showing_it():
    message = refused({"AUTH_TYPE": "jwt", "JWT_SECRET": "hunter2"})
    assert "JWT_SECRET" in message and "hunter2" not in message
