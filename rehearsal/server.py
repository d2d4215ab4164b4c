"""Start the console: the sandbox's Google APIs and the web application, both
on 127.0.0.1, in one process, until stopped."""
from __future__ import annotations

import errno
import socket
import logging
from pathlib import Path
from typing import Any, Callable

from werkzeug.serving import BaseWSGIServer, make_server

from sandbox.server import SandboxServer
from sandbox.store import DB_NAME
from workflows.jobs import load_config
from workspace.errors import HoithaoError

from .app import create_app
from .state import Console
from .runner import Runner

HOST = "127.0.0.1"
# werkzeug logs every request line at INFO: the first carries the access token,
# later ones what was searched (names, addresses). Only its warnings are kept.
logging.getLogger("werkzeug").setLevel(logging.WARNING)


class ConsoleServer:
    """The console over the sandbox in `data_dir`: `url` (with the access
    token) is what the person opens. Jobs started from the console reach the
    same sandbox at `sandbox_url`, in the environment `env` (this process's
    by default)."""

    def __init__(self, data_dir: Path, port: int = 0, env: dict[str, str] | None = None):
        data_dir = Path(data_dir).resolve()
        if not (data_dir / DB_NAME).exists() or not (data_dir / "config.yaml").exists():
            raise HoithaoError(f"Không có sandbox trong {data_dir}: chạy `python run.py demo --data "
                               f"{data_dir}` (hoặc `python run.py sandbox seed --data {data_dir}`) trước.")
        config = load_config(data_dir / "config.yaml")
        self.sandbox = SandboxServer(data_dir).start()
        try:
            self.state = Console(data_dir=data_dir, config=config, sandbox_url=self.sandbox.url,
                                 store=self.sandbox.store)
            self.state.runs = Runner(data_dir / "config.yaml", self.sandbox.url, env,
                                     config.timezone)
            app: list[Callable[..., Any]] = []
            # The socket is bound here rather than by werkzeug, which prints its
            # own English message and exits when the port is taken.
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                listener.bind((HOST, port))
                listener.listen(128)
            except OSError as exc:
                listener.close()
                if exc.errno == errno.EADDRINUSE:
                    raise HoithaoError(f"Cổng {port} trên {HOST} đang được chương trình khác dùng: chọn cổng "
                                       f"khác bằng --port, hoặc --port 0 để dùng một cổng trống bất kỳ.") from None
                raise HoithaoError(f"Không mở được cổng {port} trên {HOST} ({exc.strerror}): chọn cổng khác "
                                   f"bằng --port (cổng dưới 1024 cần quyền quản trị).") from None
            self._listener = listener
            try:
                self._httpd: BaseWSGIServer = make_server(
                    HOST, listener.getsockname()[1], lambda environ, start: app[0](environ, start),
                    threaded=True, fd=listener.fileno())
                self.port = listener.getsockname()[1]
                self.app = create_app(self.state, self.port)
                app.append(self.app.wsgi_app)
            except BaseException:
                listener.close()
                raise
        except BaseException:
            self.sandbox.stop()
            raise

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def url(self) -> str:
        """The address to open, with the access token."""
        return f"{self.base_url}/?token={self.state.token}"

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def start(self) -> "ConsoleServer":
        import threading

        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                         name="console", daemon=True).start()
        return self

    def stop(self) -> None:
        self.state.runs.stop()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._listener.close()
        self.sandbox.stop()

    def __enter__(self) -> "ConsoleServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
