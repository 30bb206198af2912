"""``cranial-sct simulate``: write a multi-field digital head phantom cohort."""

from __future__ import annotations

from pathlib import Path

import typer

from cranial_sct.cli.app import app
from cranial_sct.errors import InputError


def _floats(option: str, text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"{option} {text}: expected comma-separated numbers, e.g. 0.064,1.5,3,7") from None


@app.command("simulate")
def simulate(
    out: Path = typer.Option(..., "--out", help="Output folder (must be empty unless --overwrite)."),
    subjects: int = typer.Option(2, "--subjects", help="Number of subjects."),
    fields: str = typer.Option("0.064,1.5,3,7", "--fields", help="Field strengths in tesla (0.01-12)."),
    contrasts: str = typer.Option("t1w,t2w,flair", "--contrasts", help="Any of t1w,t2w,flair."),
    spacing: float = typer.Option(1.0, "--spacing", help="Isotropic voxel spacing of the CT grid (mm)."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives identical files."),
    anatomy: str = typer.Option("procedural", "--anatomy", help="Where each head's anatomy comes from: procedural, labels:PATH (BrainWeb/SynthSeg label maps, a file or folder) or ct:PATH (CTs in HU); subject i draws head i mod n. Join a real skull base to another head's vault with ^, e.g. ct:PATH^procedural. Mix sources with +, e.g. procedural+ct:PATH: subject i draws from source i mod k."),
    preview: bool = typer.Option(False, "--preview", help="Also write preview.png of the first subject."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Allow writing into a non-empty folder."),
) -> None:
    """Simulate paired head MRI (per field strength and contrast) and CT with tissue labels."""
    from cranial_sct.io.output_paths import check_output_folder

    check_output_folder(out)
    from cranial_sct.phantom import simulate_cohort  # heavy imports only when the command runs and its output is good

    manifest = simulate_cohort(out, subjects, _floats("--fields", fields),
                               [c.strip() for c in contrasts.split(",") if c.strip()], spacing, seed,
                               preview=preview, overwrite=overwrite, anatomy=anatomy)
    typer.echo(f"wrote {manifest}")
