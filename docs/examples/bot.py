#!/usr/bin/env python3
"""A Banter bot in Python: answers commands in one room.

    !ping      -> pong
    !roll 2d6  -> 2d6: 3 + 5 = 8   (1-20 dice of 1-1000 sides; "d6" is 1d6)

Run it with a personal access token (the page's "Tokens" panel, or
`POST /api/tokens`):

    pip install -r tests/python/requirements.txt
    BANTER_URL=http://127.0.0.1:3000 BANTER_TOKEN=bnt_... BANTER_ROOM=general \\
        python3 docs/examples/bot.py

It prints "ready <room>" once it has joined. docs/bots.md explains each
step; tests/node/bots.test.mjs runs this very file against the server.

How it stays correct across reconnects:
- Socket.IO handlers only queue what arrives; the main thread does the
  work, so a handler never waits for an acknowledgement.
- Every (re)connection joins the room again (a connection hears a room only
  after it joined it) and answers the commands it missed meanwhile: the
  room's history after the last message it saw.
- Every answer carries a client_id made from the command's message id, so
  an answer resent after a lost ack is stored once (`duplicate: true`).
- A disconnect by the server (e.g. the connection fell behind) is followed
  by a new connection; the client library handles a dropped transport by
  itself. A token that no longer works (revoked) ends the bot.
"""

import os
import queue
import random
import re
import sys
import time

import requests
import socketio

URL = os.environ.get("BANTER_URL", "http://127.0.0.1:3000")
TOKEN = os.environ.get("BANTER_TOKEN", "")
ROOM = os.environ.get("BANTER_ROOM", "general")
ACK_TIMEOUT_S = 10
SEND_TRIES = 5
MISSED_PAGES = 10

ROLL = re.compile(r"^!roll\s+(\d*)d(\d+)\s*$")


def answer(text):
    """The bot's answer to a message's text, or None."""
    text = text.strip()
    if text == "!ping":
        return "pong"
    roll = ROLL.match(text)
    if roll:
        count = int(roll.group(1) or "1")
        sides = int(roll.group(2))
        if not (1 <= count <= 20 and 1 <= sides <= 1000):
            return "!roll takes 1-20 dice of 1-1000 sides, e.g. !roll 2d6"
        dice = [random.randint(1, sides) for _ in range(count)]
        return f"{count}d{sides}: {' + '.join(map(str, dice))} = {sum(dice)}"
    return None


class Bot:
    def __init__(self):
        self.events = queue.Queue()
        self.me = None
        self.last_seen = None  # the newest message id seen in ROOM
        self.refusal = None  # why the server last refused to connect
        self.sio = self.client()

    def client(self):
        """A Socket.IO client whose handlers only queue what arrives. It
        reconnects by itself after a dropped transport."""
        sio = socketio.Client(reconnection=True, reconnection_delay=1,
                              reconnection_delay_max=10)
        sio.on("connect", lambda: self.events.put(("connect", None)))
        sio.on("message", lambda m: self.events.put(("message", m)))
        sio.on("disconnect",
               lambda reason=None: self.events.put(("disconnect", reason)))
        sio.on("connect_error", self.on_connect_error)
        return sio

    def on_connect_error(self, data):
        # The server's reason, e.g. {"message": "unauthorized"}. Noted here
        # (connect() raises right after) and queued (for the library's own
        # reconnection attempts).
        self.refusal = (data or {}).get("message") if isinstance(data, dict) else data
        self.events.put(("connect_error", self.refusal))

    def whoami(self):
        """Who the token belongs to (the HTTP API takes it as a bearer token)."""
        res = requests.get(f"{URL}/api/me", timeout=10,
                           headers={"Authorization": f"Bearer {TOKEN}"})
        if res.status_code == 401:
            sys.exit("the token does not work (revoked?)")
        res.raise_for_status()
        self.me = res.json()["user"]

    def connect(self):
        """Connects, retrying for a minute; a refused token ends the bot."""
        deadline = time.monotonic() + 60
        wait = 0.5
        while time.monotonic() < deadline:
            try:
                # WebSocket only: no long-poll to wait for when it closes.
                self.sio.connect(URL, auth={"token": TOKEN},
                                 transports=["websocket"], wait_timeout=10)
                return
            except socketio.exceptions.ConnectionError as err:
                if self.refusal == "unauthorized":
                    self.stop("the server refused the token (revoked?)")
                print(f"cannot connect ({err}); retrying", file=sys.stderr, flush=True)
                wait = min(wait * 2, 10)
            time.sleep(wait)
        self.stop("cannot connect")

    def stop(self, why):
        self.sio.disconnect()
        sys.exit(why)

    def call(self, event, payload):
        """An event and its acknowledgement; None if none came in time."""
        try:
            return self.sio.call(event, payload, timeout=ACK_TIMEOUT_S)
        except (socketio.exceptions.TimeoutError,
                socketio.exceptions.BadNamespaceError):
            return None

    def on_connect(self):
        ack = self.call("join", {"room": ROOM})
        if not ack or not ack.get("ok"):
            print(f"cannot join {ROOM}: {ack}", file=sys.stderr, flush=True)
            self.sio.disconnect()
            return
        if self.last_seen is None:
            # A fresh start answers only what comes from now on.
            self.last_seen = max((m["id"] for m in ack["messages"]), default=0)
        else:
            for message in self.missed():
                self.on_message(message)
        print(f"ready {ROOM}", flush=True)

    def missed(self):
        """What was said since the last message seen (protocol.md: rejoin,
        then `history {after}`), a page of 100 at a time, at most 1000."""
        after = self.last_seen
        for _ in range(MISSED_PAGES):
            ack = self.call("history", {"room": ROOM, "after": after, "limit": 100})
            if not ack or not ack.get("ok"):
                return
            yield from ack["messages"]
            if len(ack["messages"]) < 100:
                return
            after = ack["messages"][-1]["id"]

    def on_message(self, message):
        if message["room"] != ROOM or message["id"] <= (self.last_seen or 0):
            return
        self.last_seen = message["id"]
        if message["author"]["id"] == self.me["id"]:
            return
        reply = answer(message["text"])
        if reply is not None:
            self.send(reply, message["id"])

    def send(self, text, reply_to):
        payload = {"room": ROOM, "text": text, "reply_to": reply_to,
                   "client_id": f"bot-answer-{reply_to}"}
        for _ in range(SEND_TRIES):
            ack = self.call("send", payload)
            if ack and ack.get("ok"):
                return
            error = (ack or {}).get("error") or {}
            if error.get("code") == "rate_limited":
                time.sleep(error.get("retry_after_ms", 1000) / 1000)
            elif ack is not None:
                print(f"send refused: {error}", file=sys.stderr, flush=True)
                return
            # No ack (a dropped connection): the same client_id again later.
            time.sleep(1)

    def run(self):
        self.whoami()
        self.connect()
        while True:
            kind, data = self.events.get()
            if kind == "connect":
                self.on_connect()
            elif kind == "message":
                self.on_message(data)
            elif kind == "connect_error" and data == "unauthorized":
                self.stop("the server refused the token (revoked?)")
            elif kind == "disconnect" and data == self.sio.reason.SERVER_DISCONNECT:
                # The library reconnects by itself after a dropped
                # transport, not after the server disconnected it. A new
                # client, rather than waiting for the old one to wind down.
                time.sleep(1)
                self.sio = self.client()
                self.connect()


if __name__ == "__main__":
    if not TOKEN:
        sys.exit("set BANTER_TOKEN to a personal access token")
    try:
        Bot().run()
    except KeyboardInterrupt:
        pass
