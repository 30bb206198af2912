from cranial_sct import __version__


def test_version_runs_as_subprocess(cli):
    result = cli("--version")
    assert result.returncode == 0, result.stderr
    assert __version__ in result.stdout
