from click.testing import CliRunner

from mlgate import __version__
from mlgate.cli import cli


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output
