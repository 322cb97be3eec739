"""The workbook's Locust scenario (lesson 10): one person using the Notes service.

Each simulated user registers an account of its own, logs in once for a bearer token, then
works as people do, with short pauses: writes notes, lists and reads them, searches them,
comments and reads the comments. Run it headless against a served lesson:

    python -m locust -f lessons/data/locustfile.py --headless -u 20 -r 10 -t 10s \\
        --host http://127.0.0.1:8000 --csv results/run

(``lessons.loadtest.run_locust`` does exactly that from a notebook.) Locust replaces parts of
the standard library with gevent's when it is imported, so this file only ever runs in
Locust's own process: the ``lessons`` package never imports it.
"""

from __future__ import annotations

import random
import secrets

from locust import HttpUser, between, task

WORDS = ("plan", "notes", "meeting", "budget", "travel", "ideas", "draft", "list")


class NotesUser(HttpUser):
    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        # Every Locust user runs on this one machine, so all would be one client to the
        # service, and its limits per client address (registrations, failed logins, places in
        # the hashing queue) would be the load test's, not the service's. The workbook serves
        # the lesson behind a proxy it trusts on loopback (lessons.loadtest.Servers): each user
        # comes through it from an address of its own, as real users would.
        self.client.headers["X-Forwarded-For"] = (
            f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(254) + 1}")
        # A name and password of its own: 12 random hex digits, a 24-character random password
        # (the service's policy refuses common or guessable ones).
        self.username = f"load_{secrets.token_hex(6)}"
        password = secrets.token_urlsafe(18)
        self.client.post("/users", name="POST /users", json={
            "username": self.username, "email": f"{self.username}@example.org",
            "password": password})
        answer = self.client.post("/auth/token", name="POST /auth/token",
                                  data={"username": self.username, "password": password})
        token = answer.json().get("access_token", "") if answer.ok else ""
        self.headers = {"Authorization": f"Bearer {token}"}
        self.notes: list[int] = []

    @task(3)
    def write_note(self) -> None:
        word = random.choice(WORDS)  # noqa: S311 -- test data, not a secret
        answer = self.client.post("/notes", name="POST /notes", headers=self.headers,
                                  json={"title": f"{word} {len(self.notes) + 1}",
                                        "body": f"Some thoughts about the {word}."})
        if answer.ok:
            self.notes.append(answer.json()["id"])

    @task(3)
    def list_notes(self) -> None:
        self.client.get("/notes", name="GET /notes", headers=self.headers)

    @task(2)
    def read_note(self) -> None:
        if self.notes:
            note = random.choice(self.notes)  # noqa: S311
            self.client.get(f"/notes/{note}", name="GET /notes/{id}", headers=self.headers)

    @task(2)
    def search(self) -> None:
        self.client.get("/notes/search", name="GET /notes/search", headers=self.headers,
                        params={"q": random.choice(WORDS)})  # noqa: S311

    @task(1)
    def comment(self) -> None:
        self.client.post("/comments", name="POST /comments", headers=self.headers,
                         json={"body": "<p>Well <b>said</b>.</p>"})

    @task(1)
    def read_comments(self) -> None:
        self.client.get("/comments", name="GET /comments")
