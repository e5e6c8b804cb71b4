// The benchmark baseline: Banter's protocol (docs/protocol.md, guests only)
// on the classic Node.js stack, Express 4 + Socket.IO 4, everything in
// memory, one process, default options (except the 64 KiB packet limit
// Banter has too), the way the Socket.IO chat tutorial builds it. The load
// generator (bench/src) drives this and Banter the same way.
//
//   PORT=0 node server.js        (or --port 0; 0 picks a free port)
//   HOST=127.0.0.1               (the default)

import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import express from "express";
import { Server } from "socket.io";

const KEEP_MESSAGES = 1000; // per room: the last 1000 are kept (history, join)
const KEEP_CLIENT_IDS = 10000; // per user: the last 10000 client ids deduplicate
// Both bounds keep memory flat while the benchmarks send millions of messages.

const NAME = /^[A-Za-z0-9_.-]{1,32}$/;
const ROOM = /^[a-z0-9_-]{1,64}$/;
const CLIENT_ID = /^[A-Za-z0-9_.:-]{1,64}$/;
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/; // all but tab, newline

const tokens = new Map(); // token -> user
const names = new Map(); // lowercased name -> user (unique regardless of case)
const users = new Map(); // user id -> user
const clientIds = new Map(); // user id -> Map client_id -> message
const rooms = new Map(); // room name -> { name, topic, messages: [...] }
const presence = new Map(); // room name -> Map user id -> sockets in the room
let lastUserId = 0;
let lastMessageId = 0;

rooms.set("general", { name: "general", topic: "", messages: [] });

const error = (code, message) => ({ ok: false, error: { code, message } });
const httpError = (res, status, code, message) =>
  res.status(status).json({ error: { code, message } });

// --- HTTP ------------------------------------------------------------------

const app = express();
app.use(express.json({ limit: "64kb" }));

app.get("/healthz", (req, res) => res.json({ status: "ok" }));

app.post("/api/auth/guest", (req, res) => {
  if (!req.is("application/json"))
    return httpError(res, 415, "unsupported_media_type", "expected JSON");
  const name = req.body?.name;
  if (typeof name !== "string") return httpError(res, 400, "invalid_json", "expected {name}");
  if (!NAME.test(name))
    return httpError(res, 400, "invalid_username", "1-32 letters, digits, _ . -");
  if (names.has(name.toLowerCase())) return httpError(res, 409, "name_taken", "name taken");
  const user = { id: ++lastUserId, name, guest: true };
  const token = randomBytes(32).toString("base64url");
  tokens.set(token, user);
  names.set(name.toLowerCase(), user);
  users.set(user.id, user);
  res.status(201).json({ token, user });
});

app.use("/api", (req, res) => httpError(res, 404, "not_found", "not found"));
app.use((err, req, res, next) => {
  if (err.type === "entity.too.large")
    return httpError(res, 413, "payload_too_large", "body too large");
  if (err.type === "entity.parse.failed") return httpError(res, 400, "invalid_json", "bad JSON");
  next(err);
});

// --- Socket.IO -------------------------------------------------------------

const server = createServer(app);
const io = new Server(server, { maxHttpBufferSize: 64 * 1024 });

io.use((socket, next) => {
  const user = tokens.get(socket.handshake.auth?.token);
  if (!user) return next(new Error("unauthorized"));
  socket.data.user = user;
  next();
});

// Adds one of the user's sockets to a room; true when it is the user's first.
function arrive(room, userId) {
  if (!presence.has(room)) presence.set(room, new Map());
  const counts = presence.get(room);
  const n = (counts.get(userId) ?? 0) + 1;
  counts.set(userId, n);
  return n === 1;
}

// Takes one of the user's sockets out of a room; true when it was the last.
function depart(room, userId) {
  const counts = presence.get(room);
  const n = counts.get(userId) - 1;
  if (n > 0) {
    counts.set(userId, n);
    return false;
  }
  counts.delete(userId);
  if (counts.size === 0) presence.delete(room);
  return true;
}

function history(room, { before, after, limit = 50 }) {
  const all = room.messages;
  if (before != null) {
    const end = all.findIndex((m) => m.id >= before);
    const upto = end === -1 ? all.length : end;
    return all.slice(Math.max(0, upto - limit), upto);
  }
  if (after != null) return all.filter((m) => m.id > after).slice(0, limit);
  return all.slice(-limit);
}

const isObject = (p) => p !== null && typeof p === "object" && !Array.isArray(p);
const isPositiveInt = (n) => Number.isSafeInteger(n) && n > 0;

io.on("connection", (socket) => {
  const user = socket.data.user;
  // Every socket of a user is in "user:ID" so typing can skip all of them
  // (room names cannot contain ':').
  socket.join(`user:${user.id}`);

  const handlers = {
    join(p) {
      if (!isObject(p) || typeof p.room !== "string") return error("invalid_payload", "expected {room}");
      if (!ROOM.test(p.room)) return error("invalid_room", "1-64 of a-z 0-9 _ -");
      if (!rooms.has(p.room)) rooms.set(p.room, { name: p.room, topic: "", messages: [] });
      const room = rooms.get(p.room);
      if (!socket.rooms.has(p.room)) {
        socket.join(p.room);
        if (arrive(p.room, user.id)) socket.to(p.room).emit("joined", { room: p.room, user });
      }
      const members = [...presence.get(p.room).keys()].map((id) => users.get(id));
      return { ok: true, room: { name: room.name, topic: room.topic }, members, messages: room.messages.slice(-50) };
    },

    send(p) {
      if (!isObject(p) || typeof p.room !== "string" || typeof p.text !== "string" ||
          (p.client_id != null && typeof p.client_id !== "string"))
        return error("invalid_payload", "expected {room, text, client_id?}");
      if (!ROOM.test(p.room)) return error("invalid_room", "1-64 of a-z 0-9 _ -");
      const text = p.text.replace(/\r\n/g, "\n").trim();
      const chars = [...text].length;
      if (chars < 1 || chars > 4000 || CONTROL.test(text))
        return error("invalid_text", "1-4000 characters, no control characters");
      if (p.client_id != null && !CLIENT_ID.test(p.client_id))
        return error("invalid_client_id", "1-64 of A-Z a-z 0-9 _ - . :");
      if (!socket.rooms.has(p.room)) return error("not_in_room", "join the room first");

      if (!clientIds.has(user.id)) clientIds.set(user.id, new Map());
      const seen = clientIds.get(user.id);
      if (p.client_id != null && seen.has(p.client_id))
        return { ok: true, message: seen.get(p.client_id), duplicate: true };

      const message = { id: ++lastMessageId, room: p.room, author: user, text, ts: Date.now() };
      if (p.client_id != null) {
        message.client_id = p.client_id;
        seen.set(p.client_id, message);
        if (seen.size > KEEP_CLIENT_IDS) seen.delete(seen.keys().next().value); // oldest
      }
      const room = rooms.get(p.room);
      room.messages.push(message);
      // Trim in batches so each send stays O(1); between 1000 and 2000 stay.
      if (room.messages.length > 2 * KEEP_MESSAGES) room.messages = room.messages.slice(-KEEP_MESSAGES);
      io.to(p.room).emit("message", message); // the sender's sockets included
      return { ok: true, message, duplicate: false };
    },

    leave(p) {
      if (!isObject(p) || typeof p.room !== "string") return error("invalid_payload", "expected {room}");
      if (!ROOM.test(p.room)) return error("invalid_room", "1-64 of a-z 0-9 _ -");
      if (!socket.rooms.has(p.room)) return error("not_in_room", "not in this room");
      socket.leave(p.room);
      if (depart(p.room, user.id)) io.to(p.room).emit("left", { room: p.room, user });
      return { ok: true };
    },

    typing(p) {
      if (!isObject(p) || typeof p.room !== "string" || typeof p.active !== "boolean")
        return error("invalid_payload", "expected {room, active}");
      if (!ROOM.test(p.room)) return error("invalid_room", "1-64 of a-z 0-9 _ -");
      if (!socket.rooms.has(p.room)) return error("not_in_room", "join the room first");
      socket.to(p.room).except(`user:${user.id}`).emit("typing", { room: p.room, user, active: p.active });
      return { ok: true };
    },

    history(p) {
      if (!isObject(p) || typeof p.room !== "string") return error("invalid_payload", "expected {room}");
      if (!ROOM.test(p.room)) return error("invalid_room", "1-64 of a-z 0-9 _ -");
      const { before, after, limit } = p;
      if (limit != null && (!Number.isInteger(limit) || limit < 1 || limit > 100))
        return error("invalid_limit", "limit is 1-100");
      if ((before != null && !isPositiveInt(before)) || (after != null && !isPositiveInt(after)) ||
          (before != null && after != null))
        return error("invalid_cursor", "before or after, a positive integer");
      const room = rooms.get(p.room);
      if (!room) return error("room_not_found", "no such room");
      return { ok: true, messages: history(room, { before, after, limit: limit ?? 50 }) };
    },
  };

  // Every event takes one payload and answers through the ack, if asked.
  for (const [event, handler] of Object.entries(handlers)) {
    socket.on(event, (payload, ack) => {
      if (typeof payload === "function") [payload, ack] = [undefined, payload];
      const reply = handler(payload);
      if (typeof ack === "function") ack(reply);
    });
  }
  socket.onAny((event, ...args) => {
    const ack = args.at(-1);
    if (!Object.hasOwn(handlers, event) && typeof ack === "function")
      ack(error("unknown_event", `unknown event ${event}`));
  });

  socket.on("disconnecting", () => {
    for (const room of socket.rooms) {
      // socket.rooms also holds the socket's own id and "user:ID"
      if (rooms.has(room) && depart(room, user.id)) socket.to(room).emit("left", { room, user });
    }
  });
});

// --- Start -----------------------------------------------------------------

const portArg = process.argv.indexOf("--port");
const port = Number(portArg > 0 ? process.argv[portArg + 1] : (process.env.PORT ?? 3000));
const host = process.env.HOST ?? "127.0.0.1";

server.listen(port, host, () => {
  const { address, port } = server.address();
  // The same ready line as Banter on purpose: the benchmark scripts wait for
  // "Banter listening on http://ADDR" from either server.
  console.log(`Banter listening on http://${address}:${port}`);
});

for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => {
    io.close();
    process.exit(0);
  });
}
