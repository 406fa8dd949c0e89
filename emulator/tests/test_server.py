"""Server lifecycle: free port via --port-file, clean exit on SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import urllib.request

import pytest
from conftest import start_server


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_port_file_and_clean_shutdown(tmp_path, sig) -> None:
    srv = start_server(tmp_path)
    port = int(srv.port_file.read_text())
    assert port > 0 and srv.endpoint.endswith(f":{port}")
    # Accepting connections as soon as the port file exists.
    req = urllib.request.Request(f"{srv.endpoint}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    srv.process.send_signal(sig)
    assert srv.process.wait(timeout=15) == 0
    assert "stopped" in srv.log_path.read_text()
