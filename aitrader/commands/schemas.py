"""``aitrader schemas``: the Avro contract under schemas/."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from aitrader.commands.common import console, fail
from aitrader.output import JsonOption, emit_json, out
from contract.compat import check, release
from contract.schema_registry import SchemaRegistry, default_schemas_dir

schemas_app = typer.Typer(help="Check and release the event schemas (schemas/events, schemas/released).", no_args_is_help=True)

DirOption = typer.Option(None, "--dir", help="Schemas directory (default: the repository's schemas/).")


def _registry(directory: str | None) -> SchemaRegistry:
    return SchemaRegistry(Path(directory) if directory else default_schemas_dir())


@schemas_app.command("check")
def check_command(directory: str | None = DirOption) -> None:
    """Fail when a schema cannot read a released version, or keeps its fingerprint while changing."""
    results = check(_registry(directory))
    table = Table("schema", "status", "problems")
    for result in results:
        table.add_row(result.full_name, result.status, "\n".join(result.problems))
    out.print(table)
    if any(r.status == "refused" for r in results):
        raise fail("incompatible schema change (see problems above)", 1)


@schemas_app.command("release")
def release_command(directory: str | None = DirOption) -> None:
    """Freeze new or changed (compatible) schemas as their next released version."""
    try:
        written = release(_registry(directory))
    except ValueError as exc:
        raise fail(str(exc), 1) from None
    for path in written:
        console.print(f"released {path}")
    if not written:
        console.print("nothing to release")


@schemas_app.command("list")
def list_command(directory: str | None = DirOption, as_json: bool = JsonOption) -> None:
    """Each schema with its released versions and current fingerprint."""
    registry = _registry(directory)
    if as_json:
        emit_json([
            {"schema": name, "fingerprint": current.fingerprint_hex,
             "released": [{"version": v.version, "fingerprint": v.fingerprint_hex} for v in registry.released.get(name, [])]}
            for name, current in sorted(registry.current.items())
        ])
        return
    table = Table("schema", "fingerprint (CRC-64-AVRO)", "released versions")
    for name, current in sorted(registry.current.items()):
        versions = ", ".join(f"v{v.version}:{v.fingerprint_hex}" for v in registry.released.get(name, []))
        table.add_row(name, current.fingerprint_hex, versions)
    out.print(table)
