// Several nodes (issue #9): three Banter processes on different ports share
// one database and one Redis; official socket.io-client clients spread over
// them. Every member receives every message once, in the same order,
// whichever node it is on; presence and typing cross nodes; a logout or ban
// on one node reaches the sockets on the others; a node killed with SIGKILL
// loses nothing: its clients catch up elsewhere, the survivors' members get
// every acknowledged message live and in order (even one the dead node
// stored and never published), and its users leave presence in time.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';

import { HEARTBEAT_MS, NODE_TIMEOUT_MS, keysUnder, metricsOf, startCluster } from './cluster.mjs';
import {
  api,
  assertStrictlyIncreasing,
  collect,
  connect,
  emitAck,
  guest,
  ids,
  ok,
  register,
  rname,
  sleep,
  uname,
  until,
  waitForDisconnect,
} from './helpers.mjs';
import { BANTER_BIN } from './server.mjs';

const run = promisify(execFile);

// Address bans would shut every later guest out: all of them come from 127.0.0.1.
const ARGS = ['--ban-address-secs', '0', '--metrics-bind', '127.0.0.1:0'];

/** Every message of `room` in the database, oldest first (`history after`, page by page). */
async function stored(socket, room) {
  const all = [];
  let after = 0;
  for (;;) {
    const page = (await ok(socket, 'history', { room, after, limit: 100 })).messages;
    all.push(...page);
    if (page.length < 100) return all;
    after = page[page.length - 1].id;
  }
}

/** A guest connected to `node`, with its 'message' events per room recorded. */
async function member(node, t, prefix = 'm', token = undefined) {
  const who = token ? { token } : await guest(node.url, uname(prefix));
  const socket = await connect(node.url, who.token, {}, t);
  const messages = collect(socket, 'message');
  const inRoom = (room) => messages.items.filter((m) => m.room === room);
  return { ...who, socket, messages, inRoom };
}

describe('three nodes, one database, one Redis', () => {
  let cluster;
  let A;
  let B;
  let C;
  let admin;

  before(async () => {
    cluster = await startCluster({ nodes: 3, args: ARGS });
    [A, B, C] = cluster.nodes;
    // Made an admin by the operator, on the shared database.
    admin = await register(A.url, uname('boss'));
    await run(BANTER_BIN, ['admin', '--database-url', cluster.databaseUrl, 'grant-admin', admin.name], {
      env: { ...process.env, RUST_LOG: 'error' },
      timeout: 20_000,
    });
  });

  after(async () => {
    const prefix = cluster?.prefix;
    await cluster?.dispose();
    if (prefix) assert.deepEqual(await keysUnder(prefix), [], 'no Redis keys left behind');
  });

  test('every member receives every message once, in the same order, whichever node it is on', async (t) => {
    const rooms = [rname('c-one'), rname('c-two')];
    const nodes = [A, B, C];
    const members = [];
    for (let i = 0; i < 6; i++) members.push(await member(nodes[i % 3], t, `c${i}`));
    for (const m of members) for (const room of rooms) await ok(m.socket, 'join', { room });
    // Everyone talks in both rooms at once: commits interleave across the
    // three processes, and each node's messages reach the others over Redis.
    const acks = await Promise.all(
      members.flatMap((m, i) =>
        rooms.flatMap((room) =>
          Array.from({ length: 10 }, (_, n) => emitAck(m.socket, 'send', { room, text: `${i}:${n}` }, 15_000)),
        ),
      ),
    );
    for (const ack of acks) assert.equal(ack.ok, true, JSON.stringify(ack));
    for (const room of rooms) {
      const sent = acks.filter((a) => a.message.room === room).map((a) => a.message.id).sort((x, y) => x - y);
      await until(() => members.every((m) => m.inRoom(room).length >= sent.length), `60 messages in ${room} everywhere`);
      await sleep(200); // anything extra (a duplicate) would come now
      const history = ids(await stored(members[0].socket, room));
      assert.deepEqual(history, sent, 'the database holds exactly what was acknowledged');
      for (const [i, m] of members.entries()) {
        assert.deepEqual(ids(m.inRoom(room)), history, `member ${i} (node ${'ABC'[i % 3]}) in ${room}`);
      }
    }
    // The bus as node A counts it: frames out and in, none lost, two peers.
    const metric = await metricsOf(A);
    assert.ok(metric('banter_bus_frames_published_total') > 0);
    assert.ok(metric('banter_bus_frames_received_total') > 0);
    assert.equal(metric('banter_bus_frames_dropped_total'), 0);
    await until(async () => (await metricsOf(A))('banter_bus_peers') === 2, 'A counts two peers', 5000);
  });

  test('a user on two nodes is one member; presence and typing cross nodes', async (t) => {
    const room = rname('c-presence');
    const watcher = await member(A, t, 'watch');
    await ok(watcher.socket, 'join', { room });
    const joined = collect(watcher.socket, 'joined');
    const left = collect(watcher.socket, 'left');
    const typing = collect(watcher.socket, 'typing');

    const p = await guest(B.url, uname('two-tabs'));
    const tab1 = await connect(B.url, p.token, {}, t);
    await ok(tab1, 'join', { room });
    await joined.waitForCount(1);
    assert.deepEqual(joined.items[0], { room, user: p.user });

    // The second tab, on another node: the room already counts this user.
    const tab2 = await connect(C.url, p.token, {}, t);
    const ack = await ok(tab2, 'join', { room });
    assert.equal(ack.member_count, 2, JSON.stringify(ack));
    assert.deepEqual(ack.members.map((u) => u.id).sort(), [watcher.user.id, p.user.id].sort());
    const page = await ok(watcher.socket, 'members', { room });
    assert.equal(page.member_count, 2);

    // Typing on one node reaches a member on another (not the typist's own tabs).
    const ownTyping = collect(tab2, 'typing');
    await ok(tab1, 'typing', { room, active: true });
    await typing.waitForCount(1);
    assert.deepEqual(typing.items[0], { room, user: p.user, active: true });

    // One tab goes: still a member. The last one goes: `left`, once.
    tab1.close();
    await sleep(400);
    assert.equal(left.items.length, 0, 'no `left` while a tab on another node stays');
    assert.equal(joined.items.length, 1, 'one `joined` for two tabs on two nodes');
    assert.equal(ownTyping.items.length, 0, "the typist's own tab is not told");
    tab2.close();
    await left.waitForCount(1);
    assert.deepEqual(left.items[0], { room, user: p.user });
    const after = await ok(watcher.socket, 'members', { room });
    assert.equal(after.member_count, 1);
  });

  test("a logout or a ban on one node disconnects the user's sockets on the others", async (t) => {
    const account = await register(A.url, uname('leaver'));
    const onB = await connect(B.url, account.token, {}, t);
    const onC = await connect(C.url, account.token, {}, t);
    const res = await api(A.url, '/api/auth/logout', { method: 'POST', token: account.token });
    assert.equal(res.status, 204, res.text);
    await Promise.all([waitForDisconnect(onB, 5000), waitForDisconnect(onC, 5000)]);

    const target = await guest(C.url, uname('banned'));
    const targetOnA = await connect(A.url, target.token, {}, t);
    const targetOnC = await connect(C.url, target.token, {}, t);
    const boss = await connect(B.url, admin.token, {}, t);
    await ok(boss, 'ban', { user_id: target.user.id });
    await Promise.all([waitForDisconnect(targetOnA, 5000), waitForDisconnect(targetOnC, 5000)]);
  });

  test('a node killed mid-conversation loses nothing, and its users leave presence in time', async (t) => {
    const room = rname('c-kill');
    // Present throughout, on the survivors.
    const watchA = await member(A, t, 'wa');
    const watchB = await member(B, t, 'wb');
    // Talkers on every node; the one on C stops when C dies.
    const talkers = [await member(A, t, 'ta'), await member(B, t, 'tb'), await member(C, t, 'tc')];
    // On C only, reconnecting elsewhere as soon as C is gone.
    const mover = await member(C, t, 'mv');
    // On C only, never back: must leave presence.
    const lost = await member(C, t, 'lost');
    // On C and A: stays a member.
    const both = await member(A, t, 'both');
    const bothOnC = await connect(C.url, both.token, {}, t);
    for (const m of [watchA, watchB, ...talkers, mover, lost, both]) await ok(m.socket, 'join', { room });
    await ok(bothOnC, 'join', { room });
    const left = collect(watchA.socket, 'left');

    const acked = [];
    let talking = true;
    const talk = async (m, name) => {
      for (let n = 0; talking && m.socket.connected; n++) {
        try {
          const ack = await emitAck(m.socket, 'send', { room, text: `${name}:${n}` }, 3000);
          if (ack.ok) acked.push(ack.message.id);
        } catch {
          return; // no answer: C died with this send in flight
        }
        await sleep(15);
      }
    };
    const conversation = talkers.map((m, i) => talk(m, 'ABC'[i]));

    await sleep(400);
    const lastSeenOnC = () => mover.inRoom(room).at(-1)?.id ?? 0;
    const moved = waitForDisconnect(mover.socket, 5000);
    const killedAt = Date.now();
    await C.kill();
    await moved;
    const seenBefore = mover.inRoom(room).map((m) => m.id);
    const lastSeen = lastSeenOnC();

    // The mover reconnects to A with its session and catches up: the join's
    // history ends where the live stream starts, and `history after` fills
    // in from the last message it saw up to there.
    const again = await connect(A.url, mover.token, {}, t);
    const live = collect(again, 'message');
    const ack = await ok(again, 'join', { room });
    const joinedAt = ack.messages.at(-1)?.id ?? lastSeen;
    const caughtUp = [];
    for (let after = lastSeen; ; ) {
      const page = (await ok(again, 'history', { room, after, limit: 100 })).messages;
      caughtUp.push(...page.filter((m) => m.id <= joinedAt));
      if (page.length < 100 || page.at(-1).id >= joinedAt) break;
      after = page.at(-1).id;
    }

    await sleep(600);
    talking = false;
    await Promise.all(conversation);

    // Everything settles: the survivors' watchers hold the whole room.
    let history = [];
    await until(async () => {
      history = ids(await stored(watchA.socket, room));
      return ids(watchA.inRoom(room)).length >= history.length && ids(watchB.inRoom(room)).length >= history.length;
    }, 'the watchers caught up with the database');
    await sleep(200);
    assert.ok(history.length > 20, `a conversation took place (${history.length} messages)`);
    for (const id of acked) assert.ok(history.includes(id), `acknowledged message ${id} is stored`);
    assert.deepEqual(ids(watchA.inRoom(room)), history, 'the watcher on A got every message live, once, in order');
    assert.deepEqual(ids(watchB.inRoom(room)), history, 'the watcher on B got every message live, once, in order');
    const moverSaw = [...seenBefore, ...ids(caughtUp), ...ids(live.items.filter((m) => m.room === room))];
    assertStrictlyIncreasing(moverSaw, 'what the mover saw');
    assert.deepEqual(moverSaw, history, 'the mover missed nothing and saw nothing twice');

    // Presence: the user only on C left within the bound; the one also on A
    // and the one who moved did not.
    await left.waitForCount(1, NODE_TIMEOUT_MS + 4 * HEARTBEAT_MS + 3000);
    const took = Date.now() - killedAt;
    assert.ok(took < 30_000, `left within 30 s (${took} ms)`);
    await sleep(300);
    const whoLeft = left.items.map((e) => e.user.id);
    assert.ok(whoLeft.includes(lost.user.id), `the user only on C left: ${JSON.stringify(left.items)}`);
    assert.ok(!whoLeft.includes(both.user.id), 'a user still connected to A stays');
    assert.ok(!whoLeft.includes(mover.user.id), 'a user who reconnected elsewhere stays');
    const members = await ok(watchA.socket, 'members', { room, limit: 100 });
    const listed = members.members.map((u) => u.id);
    assert.ok(!listed.includes(lost.user.id) && listed.includes(both.user.id) && listed.includes(mover.user.id));
    assert.ok((await metricsOf(A))('banter_bus_nodes_lost_total') >= 1, 'A counted the lost node');
  });

  test('a message the dead node stored but never published still reaches members live', async (t) => {
    // This node stores and acknowledges messages but never publishes them:
    // what a node that dies between its commit and its publish leaves.
    const W = await cluster.add({ args: ['--test-withhold-messages'] });
    const room = rname('c-withheld');
    const watcher = await member(A, t, 'ww');
    await ok(watcher.socket, 'join', { room });
    const speaker = await member(W, t, 'sp');
    await ok(speaker.socket, 'join', { room });
    const acks = [];
    for (let n = 0; n < 5; n++) acks.push(await ok(speaker.socket, 'send', { room, text: `held ${n}` }));
    await sleep(300);
    assert.equal(watcher.inRoom(room).length, 0, 'withheld: nothing crossed over the bus');
    await W.kill();
    await until(() => watcher.inRoom(room).length >= 5, 'the withheld messages arrive once W is found dead', NODE_TIMEOUT_MS + 5000);
    await sleep(200);
    assert.deepEqual(ids(watcher.inRoom(room)), acks.map((a) => a.message.id));
    assert.ok((await metricsOf(A))('banter_bus_messages_repaired_total') >= 5, 'read from the database, not the bus');
  });
});
