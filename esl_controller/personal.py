"""Personal data of outside parties, sealed per person so it can be erased (crypto-shredding).

A *person* is an outside telephone number in E.164. Each person has a random AES-256 key in
the table ``person_keys`` of the events database; values about them (their number, their name,
a channel name or a routing note that mentions them) are stored in events *sealed*::

    pd:v1:<person hash>:<nonce>:<ciphertext>

(AES-256-GCM; the nonce starts with four bytes naming the key, so a value sealed under an
erased key still reads ``[erased]`` after the person got a new key by calling again).

The person hash is an HMAC-SHA256 of the number with a store-wide random salt (table
``person_salt``), so neither table lists numbers in clear. Erasing a person deletes their key:
every sealed value about them then reads ``[erased]``, while the stored events stay byte for
byte as they were (the hash chain over the log still verifies).

Values that are not sealed pass through :func:`open_` unchanged, so stores written before
sealing existed keep working.

The end of the module seals *secrets at rest* (webhook signing secrets) with a key kept
outside the database: :func:`seal_secret`, :func:`open_secret`, :class:`SecretKeys`.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import os
import re
import weakref
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import phonenumbers
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import (
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    create_engine,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from esl_controller.domain.numbers import try_normalise

A = TypeVar("A")
PREFIX = "pd:v1:"
ERASED = "[erased]"
UNREADABLE = "[unreadable]"  # a sealed value whose ciphertext does not authenticate
TOKEN_RE = re.compile(r"pd:v1:([0-9a-f]{64}):([A-Za-z0-9_-]{16}):([A-Za-z0-9_-]+)")

METADATA = MetaData()
PERSON_KEYS = Table(
    "person_keys",
    METADATA,
    Column("person_hash", String(64), primary_key=True),
    Column("key", LargeBinary(32), nullable=False),
    Column("created", String(40), nullable=False),
)
PERSON_SALT = Table(
    "person_salt",
    METADATA,
    Column("id", Integer, primary_key=True),
    Column("salt", LargeBinary(32), nullable=False),
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def person_of(number: str) -> str:
    """The person a number stands for: its E.164 form (or the trimmed text when it is no
    valid number, e.g. a SIP address)."""
    return try_normalise(number, "NL") or number.strip()


class KeyStore:
    """The per-person keys of one event store (the ``Pbx``'s own database)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        METADATA.create_all(engine, checkfirst=True)
        self._salt: bytes | None = None

    @property
    def salt(self) -> bytes:
        if self._salt is None:
            with self.engine.begin() as conn:
                found = conn.execute(select(PERSON_SALT.c.salt)).scalar()
            if found is None:
                try:
                    with self.engine.begin() as conn:
                        conn.execute(PERSON_SALT.insert(), {"id": 1, "salt": os.urandom(32)})
                except IntegrityError:
                    pass  # another process made it first: use theirs
                with self.engine.begin() as conn:
                    found = conn.execute(select(PERSON_SALT.c.salt)).scalar_one()
            self._salt = bytes(found)
        return self._salt

    def person_hash(self, person: str) -> str:
        return hmac.new(self.salt, person_of(person).encode(), hashlib.sha256).hexdigest()

    def key(self, person_hash: str) -> bytes | None:
        """The person's key, or None when there is none (never made, or erased)."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(PERSON_KEYS.c.key).where(PERSON_KEYS.c.person_hash == person_hash)
            ).scalar()
        return None if found is None else bytes(found)

    def key_for_sealing(self, person_hash: str) -> bytes:
        """The person's key, made on first use."""
        existing = self.key(person_hash)
        if existing is not None:
            return existing
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    PERSON_KEYS.insert(),
                    {
                        "person_hash": person_hash,
                        "key": AESGCM.generate_key(bit_length=256),
                        "created": datetime.now(UTC).isoformat(timespec="seconds"),
                    },
                )
        except IntegrityError:
            pass  # sealed at the same moment by another process: one key wins
        made = self.key(person_hash)
        assert made is not None
        return made

    def erase(self, person_hash: str) -> bool:
        """Destroy the person's key; False when there was none."""
        with self.engine.begin() as conn:
            result = conn.execute(
                PERSON_KEYS.delete().where(PERSON_KEYS.c.person_hash == person_hash)
            )
        return bool(result.rowcount)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return len(conn.execute(select(PERSON_KEYS.c.person_hash)).all())


_STORES: weakref.WeakKeyDictionary[Any, KeyStore] = weakref.WeakKeyDictionary()


def keys(app: Any) -> KeyStore:
    """The key store of ``app`` (a ``Pbx``): the tables live in its events database."""
    store = _STORES.get(app)
    if store is None:
        engine = getattr(getattr(app.recorder, "datastore", None), "engine", None)
        if engine is None:  # an in-memory event store: keys in memory beside it
            engine = create_engine("sqlite://", poolclass=StaticPool,
                                   connect_args={"check_same_thread": False})
        store = KeyStore(engine)
        _STORES[app] = store
    return store


def key_id(key: bytes) -> bytes:
    """Four bytes naming a key, the start of every nonce made with it."""
    return hashlib.sha256(key).digest()[:4]


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def seal(app: Any, number_or_name: str, person: str,
         cache: dict[str, tuple[str, bytes]] | None = None) -> str:
    """``number_or_name`` sealed under ``person``'s key (made on first use). ``cache``
    (person -> hash and key) spares the look-ups for the values of one call."""
    found = cache.get(person) if cache is not None else None
    if found is None:
        store = keys(app)
        person_hash = store.person_hash(person)
        found = (person_hash, store.key_for_sealing(person_hash))
        if cache is not None:
            cache[person] = found
    person_hash, key = found
    nonce = key_id(key) + os.urandom(8)  # which key sealed it: a later key of the person
    sealed = AESGCM(key).encrypt(nonce, number_or_name.encode(), person_hash.encode())
    return f"{PREFIX}{person_hash}:{_b64(nonce)}:{_b64(sealed)}"


def _open_token(store: KeyStore, match: re.Match[str]) -> str:
    person_hash, nonce, sealed = match.group(1), match.group(2), match.group(3)
    key = store.key(person_hash)
    if key is None or _unb64(nonce)[:4] != key_id(key):
        return ERASED  # no key, or a later key than the (erased) one that sealed it
    try:
        return AESGCM(key).decrypt(_unb64(nonce), _unb64(sealed), person_hash.encode()).decode()
    except (InvalidTag, ValueError):
        return UNREADABLE


def open_(app: Any, value: str) -> str:
    """The clear text of a sealed value, ``[erased]`` when its key is gone; anything else as
    it is. Sealed values inside a longer text (a routing note) are opened in place."""
    if not isinstance(value, str) or PREFIX not in value:
        return value
    store = keys(app)
    return TOKEN_RE.sub(lambda m: _open_token(store, m), value)


def open_optional(app: Any, value: str | None) -> str | None:
    return None if value is None else open_(app, value)


def spellings(e164: str) -> list[str]:
    """The ways a number is written in our events: E.164, without ``+``, national digits and
    the readable national and international forms. Longest first."""
    found = {e164, e164.lstrip("+")}
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return sorted(found, key=len, reverse=True)
    for fmt in (phonenumbers.PhoneNumberFormat.NATIONAL,
                phonenumbers.PhoneNumberFormat.INTERNATIONAL):
        found.add(phonenumbers.format_number(parsed, fmt))
    national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    digits = "".join(c for c in national if c.isdigit())
    if len(digits) >= 6:
        found.add(digits)
    return sorted((s for s in found if len(s) >= 6), key=len, reverse=True)


def seal_text(app: Any, text: str, persons: Iterable[str],
              cache: dict[str, tuple[str, bytes]] | None = None) -> str:
    """``text`` with every spelling of each person's number sealed in place (already sealed
    parts are left alone)."""
    if not text:
        return text
    wanted = [(p, s) for p in persons for s in spellings(p)]
    if not wanted or not any(s in text for _p, s in wanted):
        return text
    alternatives = sorted(wanted, key=lambda ps: len(ps[1]), reverse=True)
    owner = {s: p for p, s in reversed(alternatives)}
    pattern = re.compile(
        r"pd:v1:[0-9a-f]{64}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]+|"
        + "|".join(f"(?<![0-9]){re.escape(s)}(?![0-9])" for _p, s in alternatives)
    )

    def replace(match: re.Match[str]) -> str:
        found = match.group(0)
        if found.startswith(PREFIX):
            return found
        return seal(app, found, owner[found], cache)

    return pattern.sub(replace, text)


def outsider(directory: Any, number: str | None) -> str | None:
    """The E.164 number of an outside party, or None: no valid number, or one of ours (a
    user's or enterprise's number, a target's, a user's registered mobile). Internal users'
    extensions never count: they are no outsider's personal data."""
    if not number:
        return None
    e164 = try_normalise(number, "NL")
    if e164 is None:
        return None
    for owned in ("enterprise_with_number", "user_with_mobile", "target_with_number"):
        lookup = getattr(directory, owned, None)
        if lookup is not None and lookup(e164) is not None:
            return None
    return e164


class CallParties:
    """The outside parties of one call and the sealing of what the call records about them
    (used by the ESL session before it records a Call event)."""

    def __init__(self, app: Any, directory: Any) -> None:
        self.app = app
        self.directory = directory
        self.persons: list[str] = []
        # the keys used for this call (an erasure while it goes on covers it too)
        self.keys: dict[str, tuple[str, bytes]] = {}

    def add(self, number: str | None) -> str | None:
        """Note ``number`` as an outside party when it is one; returns its E.164 form."""
        person = outsider(self.directory, number)
        if person is not None and person not in self.persons:
            self.persons.append(person)
        return person

    def value(self, number: str | None) -> str | None:
        """A whole value that is an outside party's number: sealed; anything else as is."""
        person = self.add(number)
        if number is None or person is None:
            return number
        return seal(self.app, number, person, self.keys)

    def text(self, text: str) -> str:
        """Free text (a channel name, a routing note): every outsider's number sealed."""
        return seal_text(self.app, text, self.persons, self.keys) if self.persons else text

    def steps(self, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not self.persons:
            return steps
        return [{**s, "detail": self.text(str(s.get("detail", "")))} for s in steps]

    def context(self, record: dict[str, Any]) -> dict[str, Any]:
        """A call's routing context (recorded for ``pbx audit reroute``): the outside
        caller's number and name and an outside destination sealed."""
        sealed = dict(record)
        caller = outsider(self.directory, record.get("caller_number"))
        if caller is not None:
            self.add(caller)
            sealed["caller_number"] = seal(self.app, str(record["caller_number"]), caller,
                                             self.keys)
            if record.get("caller_name"):
                sealed["caller_name"] = seal(self.app, str(record["caller_name"]), caller,
                                               self.keys)
        if record.get("destination"):
            sealed["destination"] = self.value(str(record["destination"]))
        return sealed


def search_forms(app: Any, number: str, country: str = "NL") -> tuple[str, ...]:
    """What a sealed value about ``number``'s person starts with (``pd:v1:<hash>:``), to find
    it in a read model without opening every row; () for no valid number."""
    e164 = try_normalise(number, country)
    if e164 is None:
        return ()
    return (f"{PREFIX}{keys(app).person_hash(e164)}:",)


def sealed_caller(app: Any, directory: Any, number: str | None, name: str | None = None,
                  ) -> tuple[Any, Any]:
    """An outside caller's number and name sealed under their key (``pbx privacy erase``
    makes both read ``[erased]``); our own numbers, extensions and no number as they are."""
    person = outsider(directory, number)
    if person is None or number is None:
        return number, name
    cache: dict[str, tuple[str, bytes]] = {}
    return (seal(app, number, person, cache),
            seal(app, name, person, cache) if name else name)


def opened(app: Any, value: Any) -> Any:
    """``value`` with every sealed text in it opened (through lists, tuples and dicts)."""
    if isinstance(value, str):
        return open_(app, value)
    if isinstance(value, list):
        return [opened(app, v) for v in value]
    if isinstance(value, tuple):
        return tuple(opened(app, v) for v in value)
    if isinstance(value, dict):
        return {k: opened(app, v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):  # e.g. a Message
        if not _holds_sealed(value):
            return value
        return dataclasses.replace(value, **{
            f.name: opened(app, getattr(value, f.name)) for f in dataclasses.fields(value)
            if f.init})
    return value


def _holds_sealed(value: Any) -> bool:
    if isinstance(value, str):
        return PREFIX in value
    if isinstance(value, (list, tuple)):
        return any(_holds_sealed(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_sealed(v) for v in value.values())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return any(_holds_sealed(getattr(value, f.name)) for f in dataclasses.fields(value))
    return False


def opened_event(app: Any, event: Any) -> Any:
    """A copy of a stored event (same type) whose sealed values are opened, for readers
    that show or compare them; the stored event itself is never touched."""
    fields = getattr(event, "__dict__", None)
    if not fields or not any(_holds_sealed(v) for v in fields.values()):
        return event
    copy = object.__new__(type(event))
    for name, value in fields.items():
        object.__setattr__(copy, name, opened(app, value))
    return copy


def opened_aggregate(app: Any, aggregate: A) -> A:
    """``aggregate`` (freshly read, e.g. a Call) with its sealed attributes opened in place:
    for readers only; its stored events are never touched."""
    for name, value in list(vars(aggregate).items()):
        if _holds_sealed(value):
            object.__setattr__(aggregate, name, opened(app, value))
    return aggregate


# -- secrets at rest (webhook signing secrets) -------------------------------------------------
# A secret the controller must use in clear (an HMAC key) is stored sealed with a key that is
# NOT in the database:  sk:v1:<key id>:<nonce>:<ciphertext>  (AES-256-GCM). The keys come from
# ``PBX_SECRETS_KEY`` (base64 of 32 bytes; several comma-separated, the first seals) or else
# from a key file, mode 0600, made on first use: ``PBX_SECRETS_KEY_FILE``, else beside a
# SQLite store (``var/pbx.sqlite`` -> ``var/pbx-secrets.key``), else ``var/pbx-secrets.key``.
# One base64 key a line, the first seals, the others only open (rotation). Values without the
# prefix (stored before sealing existed) read as they are.
SECRET_PREFIX = "sk:v1:"
SECRET_RE = re.compile(r"sk:v1:([0-9a-f]{8}):([A-Za-z0-9_-]{16}):([A-Za-z0-9_-]+)")
SECRETS_KEY_ENV = "PBX_SECRETS_KEY"
SECRETS_KEY_FILE_ENV = "PBX_SECRETS_KEY_FILE"


class SecretKeyError(Exception):
    """The secrets key cannot be had (bad ``PBX_SECRETS_KEY``, key file open to others)."""


def secrets_key_file(db_url: str) -> Path | None:
    """Where the key file of the store at ``db_url`` is (None: an in-memory store)."""
    from esl_controller.store import sqlite_path

    configured = os.environ.get(SECRETS_KEY_FILE_ENV)
    if configured:
        return Path(configured)
    if db_url.startswith("sqlite") and sqlite_path(db_url) is None:
        return None  # in memory: the key lives as long as the store
    path = sqlite_path(db_url)
    if path is None:
        return Path("var") / "pbx-secrets.key"
    return path.with_name(path.stem + "-secrets.key")


class SecretKeys:
    """The keys secrets are sealed with; the first seals, every one opens."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.configured = bool(os.environ.get(SECRETS_KEY_ENV))
        self.path = None if self.configured else secrets_key_file(db_url)
        self._memory = [AESGCM.generate_key(bit_length=256)]
        self.keys: list[bytes] = []
        self.load()

    def load(self) -> None:
        if self.configured:
            try:
                found = [_unb64(k.strip()) for k in os.environ[SECRETS_KEY_ENV].split(",")
                         if k.strip()]
            except ValueError:
                raise SecretKeyError(f"{SECRETS_KEY_ENV} is not base64") from None
            if not found or any(len(k) != 32 for k in found):
                raise SecretKeyError(f"{SECRETS_KEY_ENV}: each key is 32 bytes in base64 "
                                     "(make one: openssl rand -base64 32)")
            self.keys = found
        elif self.path is None:
            self.keys = self._memory
        else:
            self.keys = self._read_file(self.path)

    @staticmethod
    def _read_file(path: Path) -> list[bytes]:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it first: use theirs
            else:
                with os.fdopen(fd, "w") as out:
                    out.write(_b64(AESGCM.generate_key(bit_length=256)) + "\n")
        if path.stat().st_mode & 0o077:
            raise SecretKeyError(f"the secrets key file {path} is open to other users: "
                                 f"chmod 600 {path}")
        found = [_unb64(line.strip()) for line in path.read_text().splitlines()
                 if line.strip()]
        if not found or any(len(k) != 32 for k in found):
            raise SecretKeyError(f"the secrets key file {path} holds no valid key")
        return found

    def write(self, keys: list[bytes]) -> None:
        """Replace the key file's keys (the first seals); atomically, mode 0600."""
        if self.path is None:
            self._memory = list(keys)
            self.keys = self._memory
            return
        fresh = self.path.with_name(self.path.name + ".new")
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("".join(_b64(k) + "\n" for k in keys))
        os.replace(fresh, self.path)
        self.keys = list(keys)

    def by_id(self, wanted: str) -> bytes | None:
        for _attempt in range(2):  # another process may have rotated: read the file again
            for key in self.keys:
                if key_id(key).hex() == wanted:
                    return key
            self.load()
        return None


_SECRET_KEYS: weakref.WeakKeyDictionary[Any, SecretKeys] = weakref.WeakKeyDictionary()


def secret_keys(app: Any) -> SecretKeys:
    """The secrets keys of ``app`` (a ``Pbx``)."""
    found = _SECRET_KEYS.get(app)
    if found is None:
        found = SecretKeys(str(getattr(app, "db_url", "sqlite://")))
        _SECRET_KEYS[app] = found
    return found


def seal_secret(app: Any, secret: str) -> str:
    """``secret`` sealed with the current secrets key (never stored in clear)."""
    key = secret_keys(app).keys[0]
    nonce = key_id(key) + os.urandom(8)
    sealed = AESGCM(key).encrypt(nonce, secret.encode(), SECRET_PREFIX.encode())
    return f"{SECRET_PREFIX}{key_id(key).hex()}:{_b64(nonce)}:{_b64(sealed)}"


def open_secret(app: Any, value: str | None) -> str | None:
    """The clear secret of a sealed value; an unsealed (older) value as it is; None when it
    cannot be opened (its key is gone from the key file, or it does not authenticate)."""
    if value is None or not value.startswith(SECRET_PREFIX):
        return value
    match = SECRET_RE.fullmatch(value)
    if match is None:
        return None
    key = secret_keys(app).by_id(match.group(1))
    if key is None:
        return None
    try:
        return AESGCM(key).decrypt(_unb64(match.group(2)), _unb64(match.group(3)),
                                   SECRET_PREFIX.encode()).decode()
    except (InvalidTag, ValueError):
        return None


def is_sealed_secret(value: object) -> bool:
    return isinstance(value, str) and value.startswith(SECRET_PREFIX)
