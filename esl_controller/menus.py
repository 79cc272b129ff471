"""IVR menu use cases (OPT-1): add, change, keys, greetings, remove, show.

Each validates against the directory read model first and writes nothing on bad input:
at most 150 menus per enterprise, extensions and numbers nobody else holds, keys only to
destinations that exist, and no key may lead (directly or through sub-menus) back to its own
menu: ``repeat`` is how a menu replays itself.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eventsourcing.application import AggregateNotFoundError

from esl_controller import licences  # package limits (OPT-6)
from esl_controller.application import Pbx
from esl_controller.domain import numbers
from esl_controller.domain.menus import (
    AFTER_HOURS,
    BUSINESS,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    KEYS,
    MAX_MENUS,
    MAX_RETRIES,
    MAX_TIMEOUT,
    NAME_RE,
    KeyAction,
    Menu,
    MenuKey,
    loop_path,
)
from esl_controller.errors import NotFoundError, ValidationError
from projections.directory import Directory, EnterpriseView
from projections.menus_fold import MenuView

DEFAULT_AUDIO_DIR = "var/audio"
PROMPT_RE = re.compile(r"^[a-z0-9_-]+(/[A-Za-z0-9_.-]+)+$")
MAX_GREETING_SECONDS = 600
UNCHANGED: Any = object()


@dataclass(frozen=True, slots=True)
class Settings:
    timeout: int = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    operator: str | None = None
    schedule: str | None = None


def add_menu(app: Pbx, enterprise: str | None, name: str, extension: str | None = None,
             number: str | None = None, settings: Settings = Settings()) -> MenuView:
    """A new menu (a removed name may be used again: it starts empty)."""
    ent = app.enterprise(enterprise)
    directory = app.directory()
    name = _valid_name(name)
    existing = directory.menu(ent.id, name)
    if existing is not None:
        raise ValidationError(f"menu {existing.name!r} already exists in {ent.name!r}")
    count = len(directory.menus_of(ent.id))
    if count >= MAX_MENUS:
        raise ValidationError(
            f"{ent.name!r} already has {count} menus, the most an enterprise may have")
    if extension is not None or number is not None:  # an entry menu: licensed (OPT-6)
        licences.check_allowed(app, ent.name, "menu", licences.in_use(app, ent.id)["menu"])
    ext = app.check_extension_free(ent, extension) if extension is not None else None
    e164s = [app.check_number_free(ent, number)] if number is not None else []
    timeout, retries, operator, schedule = _valid_settings(directory, ent, name, settings)
    menu_id = Menu.create_id(ent.id, name)
    menu: Menu
    try:
        menu = app.repository.get(menu_id)
        menu.reinstate(name, ext, e164s, timeout, retries, operator, schedule)
    except AggregateNotFoundError:
        menu = Menu(ent.id, name, ext, e164s, timeout, retries, operator, schedule)
    app.save(menu)
    return _view(app, ent, name)


def change_menu(app: Pbx, enterprise: str | None, name: str, timeout: int | None = None,
                retries: int | None = None, operator: str | None = UNCHANGED,
                schedule: str | None = UNCHANGED) -> MenuView:
    """New timeout, tries, operator or schedule (``None`` clears operator / schedule)."""
    ent, found = _find(app, enterprise, name)
    wanted = Settings(
        found.timeout if timeout is None else timeout,
        found.retries if retries is None else retries,
        found.operator if operator is UNCHANGED else operator,
        found.schedule if schedule is UNCHANGED else schedule,
    )
    directory = app.directory()
    valid = _valid_settings(directory, ent, found.name, wanted)
    if valid[2] is None:
        users = [k.key for v in (found.business, found.after_hours) for k in v.keys
                 if k.action is KeyAction.OPERATOR]
        if users:
            raise ValidationError(f"key {users[0]} of menu {found.name} goes to the operator: "
                                  "remove or change it first")
    if valid == (found.timeout, found.retries, found.operator, found.schedule):
        raise ValidationError(f"menu {found.name} already has these settings")
    menu: Menu = app.repository.get(found.id)
    menu.change(*valid)
    app.save(menu)
    return _view(app, ent, found.name)


def set_key(app: Pbx, enterprise: str | None, name: str, key: str, action: str,
            destination: str | None = None, after_hours: bool = False) -> MenuKey:
    """Key ``key`` of the menu (business hours, or ``after_hours``) does ``action``."""
    ent, found = _find(app, enterprise, name)
    key = _valid_key(key)
    try:
        kind = KeyAction(action.strip().lower())
    except ValueError:
        raise ValidationError(
            f"unknown key action {action!r}: use one of "
            + ", ".join(a.value for a in KeyAction)) from None
    if kind.needs_destination and not (destination or "").strip():
        raise ValidationError(f"key action {kind.value!r} needs a destination")
    if not kind.needs_destination and destination:
        raise ValidationError(f"key action {kind.value!r} takes no destination")
    directory = app.directory()
    if kind is KeyAction.OPERATOR and found.operator is None:
        raise ValidationError(f"menu {found.name} has no operator: set one first with "
                              f"'pbx menu set {found.name} --operator DEST'")
    dest = None if destination is None else _valid_key_destination(
        directory, ent, found, kind, destination.strip())
    new = MenuKey(key, kind, dest)
    variant = AFTER_HOURS if after_hours else BUSINESS
    if found.variant(variant).key(key) == new:
        raise ValidationError(f"key {key} of menu {found.name} already goes to {new.describe()}")
    menu: Menu = app.repository.get(found.id)
    menu.set_key(variant, key, kind.value, dest)
    app.save(menu)
    return new


def remove_key(app: Pbx, enterprise: str | None, name: str, key: str,
               after_hours: bool = False) -> MenuKey:
    ent, found = _find(app, enterprise, name)
    key = _valid_key(key)
    variant = AFTER_HOURS if after_hours else BUSINESS
    old = found.variant(variant).key(key)
    if old is None:
        hours = "after hours" if after_hours else "business hours"
        raise ValidationError(f"menu {found.name} has no key {key} ({hours})")
    menu: Menu = app.repository.get(found.id)
    menu.remove_key(variant, key)
    app.save(menu)
    return old


def set_greeting(app: Pbx, enterprise: str | None, name: str, wav: Path | None = None,
                 prompt: str | None = None, after_hours: bool = False,
                 audio_dir: Path = Path(DEFAULT_AUDIO_DIR)) -> str:
    """Copy the WAV file ``wav`` into ``audio_dir/menus/`` (or name a stock ``prompt``,
    relative to FreeSWITCH's sound folder) as the menu's greeting; returns what is played."""
    ent, found = _find(app, enterprise, name)
    if (wav is None) == (prompt is None):
        raise ValidationError("give either a WAV file or --prompt, not both")
    if prompt is not None:
        greeting = _valid_prompt(prompt)
    else:
        assert wav is not None
        data = _valid_wav(wav)
        digest = hashlib.sha256(data).hexdigest()[:8]
        folder = (audio_dir / "menus" / ent.domain).absolute()
        variant_tag = "after-hours" if after_hours else "business"
        slug = re.sub(r"[^a-z0-9_-]+", "-", found.name.lower())
        target = folder / f"{slug}-{variant_tag}-{digest}.wav"
        if any(ch.isspace() for ch in str(target)):
            raise ValidationError(f"the audio folder {str(folder)!r} has a space in its path: "
                                  "FreeSWITCH's play_and_get_digits splits arguments on spaces")
        folder.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            partial = target.with_suffix(".part")
            shutil.copyfile(wav, partial)
            partial.replace(target)
        greeting = str(target)
    variant = AFTER_HOURS if after_hours else BUSINESS
    if found.variant(variant).greeting == greeting:
        raise ValidationError(f"menu {found.name} already has this greeting")
    menu: Menu = app.repository.get(found.id)
    menu.set_greeting(variant, greeting)
    app.save(menu)
    return greeting


def remove_menu(app: Pbx, enterprise: str | None, name: str) -> MenuView:
    """Remove a menu no other menu's key leads to."""
    ent, found = _find(app, enterprise, name)
    for other in app.directory().menus_of(ent.id):
        for variant, label in ((other.business, ""), (other.after_hours, " (after hours)")):
            for k in variant.keys:
                if k.action is KeyAction.MENU and (k.destination or "").lower() == \
                        found.name.lower():
                    raise ValidationError(f"menu {found.name} is still used by key {k.key} "
                                          f"of menu {other.name}{label}")
    menu: Menu = app.repository.get(found.id)
    menu.remove()
    app.save(menu)
    return found


def list_menus(app: Pbx, enterprise: str | None) -> list[MenuView]:
    ent = app.enterprise(enterprise)
    return app.directory().menus_of(ent.id)


def get_menu(app: Pbx, enterprise: str | None, name: str) -> MenuView:
    return _find(app, enterprise, name)[1]


def tree(app: Pbx, enterprise: str | None, name: str) -> dict[str, Any]:
    """The menu and, nested, every sub-menu its keys lead to (no loops: it ends)."""
    ent, found = _find(app, enterprise, name)
    directory = app.directory()

    def node(menu: MenuView) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": menu.name, "extension": menu.extension, "numbers": list(menu.numbers),
            "timeout": menu.timeout, "tries": menu.retries, "operator": menu.operator,
            "schedule": menu.schedule,
        }
        for label, variant in (("business", menu.business), ("after_hours", menu.after_hours)):
            if label == "after_hours" and not variant.configured:
                continue
            keys = []
            for k in variant.keys:
                entry: dict[str, Any] = {"key": k.key, "action": k.action.value,
                                         "destination": k.destination,
                                         "label": describe_destination(directory, ent, k, menu)}
                sub = directory.menu(ent.id, k.destination or "") \
                    if k.action is KeyAction.MENU else None
                if sub is not None:
                    entry["menu"] = node(sub)
                keys.append(entry)
            out[label] = {"greeting": variant.greeting, "keys": keys}
        return out

    return node(found)


def describe_destination(directory: Directory, ent: EnterpriseView, key: MenuKey,
                         menu: MenuView) -> str:
    """A key's destination in words, as it resolves now (``user 101 (Alice)``)."""
    if key.action is KeyAction.REPEAT:
        return "repeat the menu"
    if key.action is KeyAction.OPERATOR:
        return f"operator {menu.operator}"
    dest = key.destination or ""
    if key.action is KeyAction.MENU:
        return f"menu {dest}"
    ext = dest[3:] if dest.startswith("vm:") else dest
    user = directory.user(ent.id, ext)
    if user is not None:
        return f"voicemail of {user.extension} ({user.name})" if dest.startswith("vm:") \
            else f"user {user.extension} ({user.name})"
    target = directory.target(ent.id, ext)
    if target is not None:
        return target.label()
    if dest.startswith("+"):
        return f"number {numbers.national_format(dest)}"
    return f"{dest} (no longer exists)"


# -- validation ---------------------------------------------------------------------------


def _find(app: Pbx, enterprise: str | None, name: str) -> tuple[EnterpriseView, MenuView]:
    ent = app.enterprise(enterprise)
    found = app.directory().menu(ent.id, name.strip())
    if found is None:
        raise NotFoundError(f"no menu named {name.strip()!r} in {ent.name!r}")
    return ent, found


def _view(app: Pbx, ent: EnterpriseView, name: str) -> MenuView:
    found = app.directory().menu(ent.id, name)
    assert found is not None
    return found


def _valid_name(name: str) -> str:
    name = name.strip()
    if not NAME_RE.fullmatch(name):
        raise ValidationError(f"invalid menu name {name!r}: a letter, then up to 39 letters, "
                              "digits, spaces, '-' or '_'")
    return name


def _valid_key(key: str) -> str:
    key = key.strip()
    if len(key) != 1 or key not in KEYS:
        raise ValidationError(f"invalid key {key!r}: one of 0-9, * or #")
    return key


def _valid_settings(directory: Directory, ent: EnterpriseView, name: str,
                    s: Settings) -> tuple[int, int, str | None, str | None]:
    if not 1 <= s.timeout <= MAX_TIMEOUT:
        raise ValidationError(f"timeout must be 1 to {MAX_TIMEOUT} seconds, not {s.timeout}")
    if not 1 <= s.retries <= MAX_RETRIES:
        raise ValidationError(f"tries must be 1 to {MAX_RETRIES}, not {s.retries}")
    operator = None
    if s.operator is not None and s.operator.strip().lower() not in ("", "none"):
        operator = _valid_destination(directory, ent, s.operator.strip(), "operator")
    schedule = None
    if s.schedule is not None and s.schedule.strip().lower() not in ("", "none"):
        found = directory.schedule(ent.id, s.schedule)
        if found is None:
            raise NotFoundError(f"no schedule named {s.schedule.strip()!r} in {ent.name!r}")
        schedule = found.name
    return s.timeout, s.retries, operator, schedule


def _valid_key_destination(directory: Directory, ent: EnterpriseView, menu: MenuView,
                           kind: KeyAction, dest: str) -> str:
    if kind is KeyAction.MENU:
        sub = directory.menu(ent.id, dest)
        if sub is None:
            raise NotFoundError(f"no menu named {dest!r} in {ent.name!r}")
        by_name = {m.name.lower(): m for m in directory.menus_of(ent.id)}

        def submenus(name: str) -> tuple[str, ...]:
            found = by_name.get(name.lower())
            return () if found is None else found.submenus()

        path = loop_path(sub.name, menu.name, submenus)
        if path is not None:
            hint = " (use the 'repeat' action to replay a menu)" if len(path) == 1 else ""
            raise ValidationError(f"menu {' -> '.join([menu.name, *path])} would loop{hint}")
        return sub.name
    if kind is KeyAction.USER:
        if directory.user(ent.id, dest) is None:
            raise NotFoundError(f"no user with extension {dest!r} in {ent.name!r}")
        return dest
    if kind is KeyAction.GROUP:
        target = directory.target(ent.id, dest)
        if target is None:
            raise NotFoundError(f"no hunt group, call center or other target has extension "
                                f"{dest!r} in {ent.name!r}")
        _not_a_menu(target.kind, target.name, dest)
        return dest
    if kind is KeyAction.VOICEMAIL:
        ext = dest[3:] if dest.startswith("vm:") else dest
        if directory.user(ent.id, ext) is not None:
            return f"vm:{ext}"
        target = directory.target(ent.id, ext)
        if target is not None and "voicemail" in target.kind and not dest.startswith("vm:"):
            return ext
        raise NotFoundError(f"no user or group voicemail box has extension {ext!r} "
                            f"in {ent.name!r}")
    if kind is KeyAction.NUMBER:
        return _not_a_menu_number(directory, numbers.normalise(dest, ent.country))
    return _valid_destination(directory, ent, dest, "key")


def _valid_destination(directory: Directory, ent: EnterpriseView, dest: str, what: str) -> str:
    """Any destination ``targets.reach`` understands, except a menu (those go by name)."""
    if dest.startswith("vm:"):
        if directory.user(ent.id, dest[3:]) is None:
            raise NotFoundError(f"{what} {dest}: no user with extension {dest[3:]!r}")
        return dest
    if directory.user(ent.id, dest) is not None:
        return dest
    target = directory.target(ent.id, dest)
    if target is not None:
        _not_a_menu(target.kind, target.name, dest)
        return dest
    if ent.in_plan(dest):
        raise NotFoundError(f"{what} {dest}: no user or target has extension {dest!r} "
                            f"in {ent.name!r}")
    e164 = numbers.try_normalise(dest, ent.country)
    if e164 is None:
        raise ValidationError(f"{what} {dest!r}: no extension, vm:EXT or telephone number")
    return _not_a_menu_number(directory, e164)


def _not_a_menu_number(directory: Directory, e164: str) -> str:
    """A menu's own public number would lead back in through the gateway: refused."""
    target = directory.target_with_number(e164)
    if target is not None:
        _not_a_menu(target.kind, target.name, numbers.national_format(e164))
    return e164


def _not_a_menu(kind: str, name: str, dest: str) -> None:
    if kind == "menu":
        raise ValidationError(f"{dest} is menu {name}: use the 'menu' action with its name, "
                              "which is checked for loops")


def _valid_prompt(prompt: str) -> str:
    prompt = prompt.strip()
    if not PROMPT_RE.fullmatch(prompt) or ".." in prompt or not prompt.endswith(".wav"):
        raise ValidationError(f"invalid stock prompt {prompt!r}: a path under FreeSWITCH's "
                              "sounds folder such as ivr/ivr-welcome.wav")
    return prompt


def _valid_wav(path: Path) -> bytes:
    """The file's bytes, if it is a readable WAV file holding some audio."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    try:
        with wave.open(str(path), "rb") as audio:
            frames, rate = audio.getnframes(), audio.getframerate()
    except (wave.Error, EOFError):
        raise ValidationError(f"{path.name} is not a WAV file") from None
    if frames == 0 or rate == 0:
        raise ValidationError(f"{path.name} holds no audio")
    if frames / rate > MAX_GREETING_SECONDS:
        raise ValidationError(f"{path.name} is {frames / rate:.0f} s long: a greeting may last "
                              f"at most {MAX_GREETING_SECONDS} s")
    return data
