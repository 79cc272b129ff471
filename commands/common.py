"""Options and helpers shared by the command modules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from commands.main import Context

F = TypeVar("F", bound=Callable[..., Any])

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
enterprise_option = click.option(
    "-e",
    "--enterprise",
    default=None,
    help="Enterprise name (optional when exactly one enterprise exists).",
)


def pass_app(func: F) -> F:
    """Give the command the Pbx application of this invocation as ``app``."""

    @click.pass_obj
    def wrapper(obj: Context, *args: Any, **kwargs: Any) -> Any:
        return func(obj.app, *args, **kwargs)

    wrapper.__name__ = func.__name__
    wrapper.__doc__ = func.__doc__
    return wrapper  # type: ignore[return-value]
