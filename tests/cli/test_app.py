import pytest

from cranial_sct import __version__
from cranial_sct import cli as entry_point
from cranial_sct.errors import InputError


def test_version_runs_as_subprocess(cli):
    result = cli("--version")
    assert result.returncode == 0, result.stderr
    assert __version__ in result.stdout


def test_a_user_error_is_one_line_even_when_its_message_quotes_several(monkeypatch, capsys):
    def failing() -> None:
        raise InputError("scan.nii: cannot read (OSError: Expected 10 bytes,\n - could the file be damaged?)")

    monkeypatch.setattr(entry_point, "app", failing)
    with pytest.raises(SystemExit) as exited:
        entry_point.main()
    assert exited.value.code == 2
    assert capsys.readouterr().err == "error: scan.nii: cannot read (OSError: Expected 10 bytes, - could the file be damaged?)\n"
