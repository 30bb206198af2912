"""The typer application that every command module attaches itself to."""

import typer

app = typer.Typer(
    name="cranial-sct",
    help="Cranial synthetic CT from MRI across field strengths (0.064 T to 7 T).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        from cranial_sct import __version__

        typer.echo(f"cranial-sct {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True, help="Print the version."),
) -> None:
    """Cranial synthetic CT from MRI across field strengths (0.064 T to 7 T)."""
