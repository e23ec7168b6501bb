"""tools/uv_install.py: uv gets the sources pip is set up with, in pip's order of precedence."""

import importlib.util
import subprocess
import sys

import pytest

from .conftest import ROOT

SCRIPT = ROOT / "tools" / "uv_install.py"
spec = importlib.util.spec_from_file_location("uv_install", SCRIPT)
uv_install = importlib.util.module_from_spec(spec)
spec.loader.exec_module(uv_install)


def test_a_variable_overrides_the_install_section_which_overrides_global():
    listing = "\n".join([
        ":env:.find-links='/from/env'",  # pip config list prints the variables first
        "global.find-links='/from/global'",
        "install.extra-index-url='https://install.example/simple'",
        "global.extra-index-url='https://a.example/simple https://b.example/simple'",
        "global.cert='/etc/ssl/certs/ca.crt'",  # not a source: not handed on
    ])
    assert uv_install.pip_settings(listing) == {"find-links": ["/from/env"],
                                                "extra-index-url": ["https://install.example/simple"]}


def test_every_whitespace_separated_value_becomes_one_option(tmp_path):
    wheels, simple = tmp_path / "wheels", tmp_path / "simple"
    wheels.mkdir(), simple.mkdir()
    listing = (f"global.extra-index-url='file://{simple} https://download.pytorch.org/whl/cpu'\n"
               f"global.find-links='{wheels}'\nglobal.constraint='{tmp_path / 'cap.txt'}'")
    assert uv_install.uv_source_arguments(uv_install.pip_settings(listing)) == [
        "--extra-index-url", f"file://{simple}", "--extra-index-url", "https://download.pytorch.org/whl/cpu",
        "--find-links", str(wheels)]  # the constraint file does not exist: left out, as pip only warns


def test_real_pip_output_from_a_config_file_and_a_variable(tmp_path):
    """pip's own `config list` for a config file and a PIP_* variable, read back as pip's install would use it."""
    config = tmp_path / "pip.conf"
    config.write_text("[global]\nfind-links = /file/wheels\nextra-index-url = https://a.example/simple\n"
                      "[install]\nextra-index-url = https://b.example/simple https://c.example/simple\n")
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PIP_CONFIG_FILE": str(config),
                   "PIP_FIND_LINKS": "/env/wheels"}
    listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                             check=True, env=environment).stdout
    settings = uv_install.pip_settings(listing)  # the machine's own files may add a constraint: not asserted
    assert settings["find-links"] == ["/env/wheels"]
    assert settings["extra-index-url"] == ["https://b.example/simple", "https://c.example/simple"]


@pytest.mark.parametrize("argv, status, message", [
    ([], 64, "usage"),
    (["/nonexistent-venv", "-e", "."], 2, "uv is missing"),
])
def test_bad_calls_get_one_line_and_a_non_zero_exit(argv, status, message):
    completed = subprocess.run([sys.executable, str(SCRIPT), *argv], capture_output=True, text=True)
    assert completed.returncode == status and message in completed.stderr
    assert len(completed.stderr.strip().splitlines()) == 1 and "Traceback" not in completed.stderr
