"""Secrets at rest: PINs and SIP passwords are stored as scrypt hashes, never in clear.

FreeSWITCH's digest authentication needs the SIP ``A1`` hash (MD5 of
``user:realm:password``), never the password itself; we keep that beside the scrypt hash so
the directory can answer registrations without any clear secret being stored.
"""

from __future__ import annotations

import hashlib
import hmac

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1


def hash_secret(secret: str, salt: bytes) -> str:
    """``scrypt$N$r$p$salt$hash`` (hex); ``salt`` comes from the caller (os.urandom)."""
    digest = hashlib.scrypt(
        secret.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_secret(secret: str, stored: str) -> bool:
    """True when ``secret`` matches a hash made by :func:`hash_secret`."""
    try:
        scheme, n, r, p, salt_hex, digest_hex = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(
        secret.encode("utf-8"),
        salt=bytes.fromhex(salt_hex),
        n=int(n),
        r=int(r),
        p=int(p),
        dklen=len(digest_hex) // 2,
    )
    return hmac.compare_digest(digest.hex(), digest_hex)


def sip_a1_hash(user: str, realm: str, password: str) -> str:
    """The digest-auth A1 hash FreeSWITCH accepts as the directory's ``a1-hash``."""
    return hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()  # noqa: S324
