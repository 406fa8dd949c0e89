"""Run the emulator: ``python -m xray_cmk_emulator --host 127.0.0.1 --port 0 --port-file PATH``.

The port file is written (atomically) only after the listening socket exists
and the serving thread is running, so a reader that sees it can connect.
SIGTERM/SIGINT shut the server down cleanly (exit code 0).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading

from werkzeug.serving import make_server


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m xray_cmk_emulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one")
    parser.add_argument("--port-file", help="write the bound port number to this file once serving")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    return parser.parse_args(argv)


def _write_port_file(path: str, port: int) -> None:
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w") as fh:
        fh.write(f"{port}\n")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    # Imported here so --help works fast and moto reads env vars set above.
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    from .app import create_app

    app = create_app()
    server = make_server(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)
    port = server.server_address[1]
    # moto uses MOTO_PORT when it calls itself (e.g. some cross-service features).
    os.environ["MOTO_PORT"] = str(port)

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    thread = threading.Thread(target=server.serve_forever, name="emulator-http", daemon=True)
    thread.start()
    if args.port_file:
        _write_port_file(args.port_file, port)
    print(f"xray-cmk emulator listening on http://{args.host}:{port}", file=sys.stderr, flush=True)

    # Event.wait with a timeout keeps the main thread responsive to signals.
    while not stop.wait(0.5):
        pass
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()
    print("xray-cmk emulator stopped", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
