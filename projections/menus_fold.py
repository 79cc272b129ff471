"""The Directory's fold of IVR menus (OPT-1): menus by id and name, each a ``menu`` target.

Every menu is in the target index (kind ``menu``), with or without an extension: a sub-menu
usually has none and is reached through its parent's keys only.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from esl_controller.domain.menus import (
    AFTER_HOURS,
    BUSINESS,
    KeyAction,
    Menu,
    MenuKey,
    key_order,
)
from projections.targets import TargetIndex, TargetView

KIND = "menu"

EVENTS: dict[str, tuple[str, ...]] = {
    "esl_controller.domain.menus:Menu": (
        "MenuCreated",
        "MenuReinstated",
        "MenuSettingsChanged",
        "MenuKeySet",
        "MenuKeyRemoved",
        "MenuGreetingSet",
        "MenuRemoved",
    ),
}


@dataclass(frozen=True, slots=True)
class MenuVariant:
    """The greeting (None: the stock one) and key map of business or after hours."""

    greeting: str | None = None
    keys: tuple[MenuKey, ...] = ()

    @property
    def configured(self) -> bool:
        return self.greeting is not None or bool(self.keys)

    def key(self, key: str) -> MenuKey | None:
        return next((k for k in self.keys if k.key == key), None)


@dataclass(frozen=True, slots=True)
class MenuView:
    id: UUID
    enterprise_id: UUID
    name: str
    extension: str | None
    numbers: tuple[str, ...]
    timeout: int
    retries: int
    operator: str | None
    schedule: str | None
    business: MenuVariant = MenuVariant()
    after_hours: MenuVariant = MenuVariant()

    def variant(self, name: str) -> MenuVariant:
        return self.after_hours if name == AFTER_HOURS else self.business

    def with_variant(self, name: str, variant: MenuVariant) -> MenuView:
        if name == AFTER_HOURS:
            return replace(self, after_hours=variant)
        return replace(self, business=variant)

    def submenus(self) -> tuple[str, ...]:
        """Names of the menus this one's keys (either variant) lead to."""
        return tuple(k.destination for v in (self.business, self.after_hours) for k in v.keys
                     if k.action is KeyAction.MENU and k.destination)

    def as_target(self) -> TargetView:
        return TargetView(KIND, self.id, self.enterprise_id, self.name, self.extension,
                          self.numbers)


def _with_key(variant: MenuVariant, key: MenuKey | None, drop: str) -> MenuVariant:
    keys = [k for k in variant.keys if k.key != drop]
    if key is not None:
        keys.append(key)
    return replace(variant, keys=tuple(sorted(keys, key=lambda k: key_order(k.key))))


class MenuFold(TargetIndex):
    """Folds Menu events; routing reads ``menus`` and the menu targets."""

    def __init__(self) -> None:
        super().__init__()
        self.menus: dict[UUID, MenuView] = {}
        self._menu_enterprise: dict[UUID, UUID] = {}

    def _on_MenuCreated(self, mid: UUID, e: Any) -> None:
        self._menu_enterprise[mid] = e.enterprise_id
        self._put_menu(mid, e)

    def _on_MenuReinstated(self, mid: UUID, e: Any) -> None:
        self._put_menu(mid, e)

    def _put_menu(self, mid: UUID, e: Any) -> None:
        view = MenuView(mid, self._menu_enterprise[mid], e.name, e.extension,
                        tuple(e.numbers), e.timeout, e.retries, e.operator, e.schedule)
        self.menus[mid] = view
        self._put_target(view.as_target())

    def _change_menu(self, mid: UUID, **changes: Any) -> None:
        old = self.menus.get(mid)
        if old is not None:
            self.menus[mid] = replace(old, **changes)

    def _on_MenuSettingsChanged(self, mid: UUID, e: Any) -> None:
        self._change_menu(mid, timeout=e.timeout, retries=e.retries, operator=e.operator,
                          schedule=e.schedule)

    def _on_MenuKeySet(self, mid: UUID, e: Any) -> None:
        menu = self.menus.get(mid)
        if menu is not None:
            key = MenuKey(e.key, KeyAction(e.action), e.destination)
            variant = _with_key(menu.variant(e.variant), key, e.key)
            self.menus[mid] = menu.with_variant(e.variant, variant)

    def _on_MenuKeyRemoved(self, mid: UUID, e: Any) -> None:
        menu = self.menus.get(mid)
        if menu is not None:
            variant = _with_key(menu.variant(e.variant), None, e.key)
            self.menus[mid] = menu.with_variant(e.variant, variant)

    def _on_MenuGreetingSet(self, mid: UUID, e: Any) -> None:
        menu = self.menus.get(mid)
        if menu is not None:
            variant = replace(menu.variant(e.variant), greeting=e.greeting)
            self.menus[mid] = menu.with_variant(e.variant, variant)

    def _on_MenuRemoved(self, mid: UUID, e: Any) -> None:
        if self.menus.pop(mid, None) is not None:
            self._drop_target(mid)

    # -- lookups -------------------------------------------------------------------------
    def menu(self, enterprise_id: UUID, name: str) -> MenuView | None:
        return self.menus.get(Menu.create_id(enterprise_id, name))

    def menus_of(self, enterprise_id: UUID) -> list[MenuView]:
        found = [m for m in self.menus.values() if m.enterprise_id == enterprise_id]
        return sorted(found, key=lambda m: m.name.lower())

    def _fold_state(self) -> dict[str, Any]:
        return {**super()._fold_state(), "menus": dict(sorted(self.menus.items()))}


__all__ = ["BUSINESS", "AFTER_HOURS", "EVENTS", "MenuFold", "MenuVariant", "MenuView"]
