"""Command groups whose commands are imported when the command line names them.

Every long-running process is an ``aitrader run ...`` command, and a command's
module imports what it runs (faust, the API, the audit chain, the projections).
Importing every command's module for every command cost each process more than
a second of start-up; a lazy group imports only the module of the command that
runs. ``aitrader --help`` lists every command, so it still imports them all.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import typer
import typer.main
from typer.core import TyperGroup


@dataclass(frozen=True)
class Lazy:
    """A command (a function) or a group of them (a ``typer.Typer``): ``attribute`` of ``module``."""

    module: str
    attribute: str
    help: str | None = None  # a group's help, where its Typer has none of its own

    def load(self, name: str) -> Any:
        """The click command Typer builds for it, named ``name``."""
        target = getattr(importlib.import_module(self.module), self.attribute)
        holder = typer.Typer()
        if isinstance(target, typer.Typer):
            holder.add_typer(target, name=name, **({} if self.help is None else {"help": self.help}))
        else:
            holder.command(name)(target)
        return typer.main.get_group(holder).commands[name]


def lazy_group(commands: Mapping[str, Lazy]) -> type[TyperGroup]:
    """A group class holding ``commands`` in their order, each imported the first time it is asked for."""

    class LazyGroup(TyperGroup):
        def list_commands(self, ctx: Any) -> list[str]:
            return list(commands)  # every command of a lazy group is one of these, loaded or not

        def get_command(self, ctx: Any, name: str) -> Any:
            if name in commands and name not in self.commands:
                self.add_command(commands[name].load(name), name)
            return super().get_command(ctx, name)

    return LazyGroup
