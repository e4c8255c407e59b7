"""The ``router`` command line: every command group, registered on one typer app."""

from __future__ import annotations

import typer

from router.bench.cli import bench_app
from router.chaos.cli import chaos_command
from router.cli import operator_commands
from router.cli.guard import guard_command
from router.cli.journal import audit_command, db_app, journal_app
from router.cli.plan import plan_command
from router.cli.sim import sim_app
from router.cli.simulate import simulate_command
from router.service.cli import register as register_serve

app = typer.Typer(help="Liquidity-crisis execution router.", no_args_is_help=True)
app.add_typer(sim_app, name="sim")
app.add_typer(db_app, name="db")
app.add_typer(journal_app, name="journal")
register_serve(app)
app.command("plan")(plan_command)
app.command("audit")(audit_command)
app.command("simulate")(simulate_command)
app.command("guard")(guard_command)
app.command("chaos")(chaos_command)
app.command("close")(operator_commands.close_command)
app.command("closes")(operator_commands.closes_command)
app.command("status")(operator_commands.status_command)
app.command("cancel")(operator_commands.cancel_command)
app.command("liquidity")(operator_commands.liquidity_command)
app.command("venues")(operator_commands.venues_command)
app.add_typer(operator_commands.hedge_app, name="hedge")
app.add_typer(bench_app, name="bench")


def main() -> None:
    app()
