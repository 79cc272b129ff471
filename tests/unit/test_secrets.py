"""Secrets at rest: PINs and SIP passwords are kept only as hashes."""

from __future__ import annotations

import hashlib
import os

from esl_controller.domain.secrets import hash_secret, sip_a1_hash, verify_secret


def test_the_hash_verifies_the_right_secret_and_rejects_a_wrong_one() -> None:
    stored = hash_secret("4711", os.urandom(16))
    assert verify_secret("4711", stored)
    assert not verify_secret("4712", stored)
    assert not verify_secret("", stored)
    assert not verify_secret("47110", stored)


def test_two_hashes_of_one_pin_differ_because_of_the_salt() -> None:
    first = hash_secret("4711", os.urandom(16))
    second = hash_secret("4711", os.urandom(16))
    assert first != second
    assert verify_secret("4711", first)
    assert verify_secret("4711", second)


def test_the_same_salt_gives_the_same_hash() -> None:
    salt = bytes(range(16))
    assert hash_secret("4711", salt) == hash_secret("4711", salt)


def test_the_stored_string_never_contains_the_secret() -> None:
    for secret in ("83920571", "correct horse battery", "hunter2hunter2"):
        stored = hash_secret(secret, os.urandom(16))
        assert secret not in stored
        assert secret.encode().hex() not in stored
        assert stored.startswith("scrypt$")


def test_garbage_in_the_store_never_verifies() -> None:
    assert not verify_secret("4711", "")
    assert not verify_secret("4711", "4711")
    assert not verify_secret("4711", "md5$1$2$3$00$00")


def test_sip_a1_hash_is_md5_of_user_realm_password() -> None:
    expected = hashlib.md5(b"101:acme.example:s3cret-pass").hexdigest()
    assert sip_a1_hash("101", "acme.example", "s3cret-pass") == expected
    assert sip_a1_hash("102", "acme.example", "s3cret-pass") != expected
    assert sip_a1_hash("101", "other.example", "s3cret-pass") != expected
