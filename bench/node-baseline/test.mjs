// Smoke test of the baseline server: `node --test test.mjs` (after npm ci).
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";

let server;
let url;

before(async () => {
  server = spawn(process.execPath, [new URL("./server.js", import.meta.url).pathname], {
    env: { ...process.env, PORT: "0" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  for await (const chunk of server.stdout) {
    out += chunk;
    const m = out.match(/Banter listening on (http:\/\/\S+)/);
    if (m) {
      url = m[1];
      break;
    }
  }
  assert.ok(url, "server printed its ready line");
});

after(() => server?.kill());

async function guest(name) {
  const res = await fetch(`${url}/api/auth/guest`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name }),
  });
  return { status: res.status, body: await res.json() };
}

async function connect(token) {
  const socket = io(url, { auth: { token }, transports: ["websocket"], reconnection: false });
  await Promise.race([
    once(socket, "connect"),
    once(socket, "connect_error").then(([e]) => Promise.reject(e)),
  ]);
  return socket;
}

test("http: health and guests", async () => {
  assert.deepEqual(await (await fetch(`${url}/healthz`)).json(), { status: "ok" });
  const ok = await guest("carol");
  assert.equal(ok.status, 201);
  assert.deepEqual(ok.body.user, { id: ok.body.user.id, name: "carol", guest: true });
  assert.match(ok.body.token, /^[A-Za-z0-9_-]{43}$/);
  assert.equal((await guest("CAROL")).status, 409);
  const bad = await guest("no spaces");
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error.code, "invalid_username");
});

test("socket: unauthorized without a token", async () => {
  await assert.rejects(connect("nope"), /unauthorized/);
});

test("two clients join a room, one sends, both receive", async () => {
  const alice = await guest("alice");
  const bob = await guest("bob");
  const a = await connect(alice.body.token);
  const b = await connect(bob.body.token);
  try {
    assert.equal((await a.emitWithAck("send", { room: "lobby", text: "hi" })).error.code, "not_in_room");
    const ja = await a.emitWithAck("join", { room: "lobby" });
    assert.deepEqual(ja.room, { name: "lobby", topic: "" });
    const joined = once(a, "joined");
    const jb = await b.emitWithAck("join", { room: "lobby" });
    assert.deepEqual(jb.members.map((u) => u.name).sort(), ["alice", "bob"]);
    assert.equal((await joined)[0].user.name, "bob");

    const got = [once(a, "message"), once(b, "message")];
    const ack = await a.emitWithAck("send", { room: "lobby", text: "  hello  ", client_id: "c1" });
    assert.equal(ack.ok, true);
    assert.equal(ack.duplicate, false);
    assert.equal(ack.message.text, "hello");
    for (const [m] of await Promise.all(got)) assert.deepEqual(m, ack.message);

    const again = await a.emitWithAck("send", { room: "lobby", text: "hello", client_id: "c1" });
    assert.equal(again.duplicate, true);
    assert.deepEqual(again.message, ack.message);
    assert.equal((await a.emitWithAck("send", { room: "lobby", text: "   " })).error.code, "invalid_text");

    const hist = await b.emitWithAck("history", { room: "lobby" });
    assert.deepEqual(hist.messages, [ack.message]);
    assert.equal((await b.emitWithAck("history", { room: "nowhere" })).error.code, "room_not_found");

    const typing = once(b, "typing");
    await a.emitWithAck("typing", { room: "lobby", active: true });
    assert.equal((await typing)[0].user.name, "alice");

    const left = once(a, "left");
    b.disconnect();
    assert.deepEqual((await left)[0], { room: "lobby", user: bob.body.user });
  } finally {
    a.disconnect();
    b.disconnect();
  }
});
