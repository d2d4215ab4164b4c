"""The console's web application: Flask, its pages as blueprints, and what
keeps it safe on a shared machine.

- Only this machine: the server listens on 127.0.0.1, and a request naming
  any other host (a DNS-rebinding page) is refused (Flask's TRUSTED_HOSTS).
- Only the person who started it: a random access token, printed in the URL
  at start as notebook servers do. Opening that URL once sets a cookie
  (HttpOnly, SameSite=Strict) and redirects to the same page without the
  token; a request with neither is refused.
- No change from another site: every POST carries a CSRF token (Flask-WTF),
  and the cookie is never sent by another site's form.
"""
from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, flash, g, redirect, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect

from .state import Console

COOKIE = "hoithao_console"
HERE = Path(__file__).resolve().parent

# Every page's headers: no script but ours, no framing by another page, no
# address leaking in a Referer (the first URL carries the token).
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                                "script-src 'self'; frame-ancestors 'self'; form-action 'self'; "
                                "base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def create_app(state: Console, port: int) -> Flask:
    from .pages import docs, forms, jobs, mail, sheets

    app = Flask(__name__, template_folder=str(HERE / "templates"), static_folder=str(HERE / "static"))
    app.config.update(
        SECRET_KEY=secrets.token_bytes(32),
        TRUSTED_HOSTS=[f"127.0.0.1:{port}", f"localhost:{port}"],
        SESSION_COOKIE_NAME=f"{COOKIE}_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        WTF_CSRF_TIME_LIMIT=None,      # a rehearsal may sit open all day
        MAX_CONTENT_LENGTH=32 * 1024 * 1024,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.extensions["hoithao_console"] = state
    app.jinja_env.globals.update(event=state.config.event, sheets=state.config.sheets)
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True

    @app.before_request
    def _need_token() -> Response | None:
        request.host   # checked against TRUSTED_HOSTS: another name is refused (400)
        if request.endpoint == "static":
            return None    # the stylesheet and htmx: nothing in them is the event's
        given = request.args.get("token")
        if given is not None and hmac.compare_digest(given.encode(), state.token.encode()):
            if request.method == "GET":
                rest = {k: v for k, v in request.args.items(multi=True) if k != "token"}
                target = request.path + ("?" + urlencode(rest) if rest else "")
                response = redirect(target)
                response.set_cookie(COOKIE, state.token, httponly=True, samesite="Strict", path="/")
                return response
            return None
        cookie = request.cookies.get(COOKIE, "")
        if cookie and hmac.compare_digest(cookie.encode(), state.token.encode()):
            return None
        if request.headers.get("HX-Request"):
            # A page left open from before a restart: reload it, so the person
            # sees the refusal page rather than a click that does nothing.
            return Response("", status=403, headers={"HX-Refresh": "true"})
        return Response(render_template("refused.html", why="token"), status=403)

    # After the token check: a request without the token is refused before anything else.
    CSRFProtect(app)

    def _refuse(why: str, status: int, said: str, **detail: Any) -> Any:
        """A refusal as a page; to a change made through htmx, the same
        sentence above the page it came from (reloaded), so it is seen."""
        if request.headers.get("HX-Request"):
            flash(said, "error")
            return "", status, {"HX-Refresh": "true"}
        return render_template("refused.html", why=why, **detail), status

    @app.errorhandler(400)
    def _bad_request(_exc: Exception) -> Any:
        return _refuse("bad", 400, "Yêu cầu không hợp lệ: chưa ghi gì. Tải lại trang rồi làm lại.")

    @app.errorhandler(404)
    def _not_found(_exc: Exception) -> Any:
        return _refuse("missing", 404, "Không tìm thấy thứ vừa yêu cầu (có thể đã bị xoá): tải lại trang.")

    @app.errorhandler(405)
    def _wrong_method(_exc: Exception) -> Any:
        return _refuse("method", 405, "Thao tác này không làm được theo cách vừa gửi: tải lại trang.")

    @app.errorhandler(413)
    def _too_large(_exc: Exception) -> Any:
        return _refuse("large", 413, "Tệp gửi lên quá lớn: chưa ghi gì.",
                       limit=app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024))

    @app.errorhandler(CSRFError)
    def _csrf(_exc: CSRFError) -> Any:
        return _refuse("csrf", 400, "Trang đã mở từ trước khi bảng điều khiển khởi động lại (hoặc phiên đã hết "
                                    "hạn), nên thay đổi vừa rồi chưa được ghi: trang đã được tải lại, hãy làm lại.")

    @app.errorhandler(500)
    def _failed(_exc: Exception) -> Any:
        return _refuse("failed", 500, "Bảng điều khiển gặp lỗi khi làm việc này; có thể chưa ghi gì. Tải lại "
                                      "trang rồi làm lại; nếu vẫn lỗi, báo cho kỹ thuật viên (xem cửa sổ lệnh).")

    @app.after_request
    def _headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.teardown_appcontext
    def _close(_exc: BaseException | None) -> None:
        for name in ("staff_ws", "service_ws"):
            ws = g.pop(name, None)
            if ws is not None:
                ws.close()

    @app.get("/")
    def index() -> Any:
        return redirect("/bang-tinh")

    @app.get("/favicon.ico")
    def favicon() -> tuple[str, int]:
        return "", 204

    for module in (sheets, forms, mail, docs, jobs):
        app.register_blueprint(module.bp)
    return app
