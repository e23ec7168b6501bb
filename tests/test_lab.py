"""`make lab`: JupyterLab in the course environment opens the MyST lessons as notebooks."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

from .conftest import ROOT


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def test_make_lab_opens_md_lessons_as_notebooks():
    port, token = _free_port(), "course-test"
    args = f"--no-browser --ip=127.0.0.1 --port={port} --ServerApp.token={token} --allow-root"
    lab = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"], cwd=ROOT,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                notebook = _get(f"{base}/api/contents/notebooks/00_notation.md?type=notebook&token={token}")
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError("JupyterLab did not answer within 60 s")
        assert notebook["type"] == "notebook" and len(notebook["content"]["cells"]) > 5
        settings = _get(f"{base}/lab/api/settings/@jupyterlab/docmanager-extension:plugin?token={token}")
        viewers = settings["schema"]["properties"]["defaultViewers"]["default"]
        assert viewers["markdown"] == "Jupytext Notebook"
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=30)
