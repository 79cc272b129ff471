"""``pbx`` loads only the command modules a command needs (commands/main.py LazyGroup)."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from commands.main import cli


def test_the_lazy_map_names_every_module_of_every_command() -> None:
    # A fresh interpreter registers every module and compares with commands/lazy_map.py:
    # a module that adds a command or a subcommand without a regenerated map fails here.
    done = subprocess.run([sys.executable, "-m", "commands.lazy_map", "--check"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_lazily_loaded_group_has_the_subcommands_of_a_full_registration() -> None:
    code = ("import commands.main as m, click\n"
            "ctx = click.Context(m.cli)\n"
            "g = m.cli.get_command(ctx, 'user')\n"
            "print(' '.join(sorted(g.commands)))\n")
    lazy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True).stdout.split()
    full = subprocess.run([sys.executable, "-c", code.replace("\nctx", "\nm._register()\nctx")],
                          capture_output=True, text=True, timeout=120, check=True).stdout.split()
    assert lazy == full and "call-back" in lazy and "recording" in lazy


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("enterprise", "user", "queue", "audit", "privacy", "webhook"):
        assert f"  {name} " in result.output
