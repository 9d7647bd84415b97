"""A small Flask blog for the lisod end-to-end CGI test.

Entries live in DATA_DIR/entries.json; the session is Flask's signed cookie
(secret key from DATA_DIR/secret_key). One fixed test user may log in and
add entries; anyone may read them.
"""
import hmac
import html
import json
import os
import time
from pathlib import Path

from flask import Flask, redirect, request, session, url_for

TEST_USER = "alice"
TEST_PASSWORD = "wonderland-42"


def create_app(data_dir):
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    entries_path = data_dir / "entries.json"
    key_path = data_dir / "secret_key"
    if not key_path.exists():
        key_path.write_bytes(os.urandom(32).hex().encode())

    app = Flask(__name__)
    app.secret_key = key_path.read_bytes()
    app.config["SESSION_COOKIE_HTTPONLY"] = True

    def load():
        if not entries_path.exists():
            return [{"title": "Welcome", "body": "The first entry.", "author": "system",
                     "time": 0}]
        return json.loads(entries_path.read_text())

    def save(entries):
        tmp = entries_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(entries))
        tmp.replace(entries_path)

    def page(title, content, status=200):
        user = session.get("user")
        who = (f'<p id="user">Logged in as {html.escape(user)} '
               f'<a href="{url_for("logout")}">log out</a></p>' if user else
               f'<p id="user"><a href="{url_for("login")}">log in</a></p>')
        return (f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
                f"<body><h1>{html.escape(title)}</h1>{who}{content}</body></html>", status,
                {"Content-Type": "text/html; charset=utf-8"})

    @app.get("/")
    def index():
        items = "".join(
            f'<li class="entry"><h2>{html.escape(e["title"])}</h2>'
            f'<p>{html.escape(e["body"])}</p><small>by {html.escape(e["author"])}</small></li>'
            for e in reversed(load()))
        form = ""
        if session.get("user"):
            form = (f'<form method="post" action="{url_for("add")}">'
                    '<input name="title"><textarea name="body"></textarea>'
                    '<button>Add</button></form>')
        return page("Blog", f'<ul id="entries">{items}</ul>{form}')

    @app.route("/login", methods=["GET", "POST"])
    def login():
        form = (f'<form method="post" action="{url_for("login")}">'
                '<input name="username"><input name="password" type="password">'
                '<button>Log in</button></form>')
        if request.method == "GET":
            return page("Log in", form)
        user = request.form.get("username", "")
        password = request.form.get("password", "")
        ok = hmac.compare_digest(user.encode(), TEST_USER.encode()) & \
            hmac.compare_digest(password.encode(), TEST_PASSWORD.encode())
        if not ok:
            session.pop("user", None)
            return page("Log in", '<p class="error">Invalid username or password</p>' + form,
                        401)
        session["user"] = user
        return redirect(url_for("index"))

    @app.get("/logout")
    def logout():
        session.pop("user", None)
        return redirect(url_for("index"))

    @app.post("/add")
    def add():
        user = session.get("user")
        if not user:
            return page("Forbidden", "<p>log in first</p>", 403)
        title = request.form.get("title", "").strip()
        body = request.form.get("body", "").strip()
        if not title:
            return page("Bad entry", "<p>a title is required</p>", 400)
        entries = load()
        entries.append({"title": title, "body": body, "author": user, "time": time.time()})
        save(entries)
        return redirect(url_for("index"))

    return app
