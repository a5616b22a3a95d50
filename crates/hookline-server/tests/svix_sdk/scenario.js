// Drives Hookline's Svix-compatible API with the official `svix` npm
// package through a merchant's whole flow, verifying every delivery with
// the SDK's own `Webhook` class.
//
//     node scenario.js SERVER_URL ADMIN_TOKEN RUN_ID
//
// Prints one line per step and exits non-zero at the first failure.
// Started by crates/hookline-server/tests/it/svix_sdk.rs against a real server.
"use strict";

const assert = require("node:assert/strict");
const http = require("node:http");
const { Svix, Webhook, ApiException } = require("svix");
const VERSION = require("svix/package.json").version;

const [SERVER, TOKEN, RUN] = process.argv.slice(2);
const step = (text) => console.log(`[node ${VERSION}] ${text}`);

const received = [];
const script = [];
const receiver = http.createServer((req, res) => {
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
    res.writeHead(script.length ? script.shift() : 200);
    res.end();
  });
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function waitFor(what, check, seconds = 30) {
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const value = await check();
    if (value) return value;
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}`);
}
const deliveriesOf = (id) => received.filter((r) => r.headers["svix-id"] === id);

async function expectStatus(status, call) {
  try {
    await call();
  } catch (e) {
    assert.ok(e instanceof ApiException, String(e));
    assert.equal(e.code, status);
    return e;
  }
  throw new Error(`expected HTTP ${status}, the call succeeded`);
}

async function main() {
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  const hookUrl = `http://127.0.0.1:${receiver.address().port}/webhooks`;
  const svix = new Svix(TOKEN, { serverUrl: SERVER });

  const paid = `invoice.paid.${RUN}`;
  await svix.eventType.create({ name: paid, description: "An invoice was paid", schemas: { 1: { type: "object" } } });
  const types = await svix.eventType.list({ limit: 250 });
  assert.ok(types.data.some((t) => t.name === paid));
  step("event type created");

  const uid = `acme-${RUN}`;
  const app = await svix.application.getOrCreate({ name: "Acme", uid });
  assert.equal((await svix.application.getOrCreate({ name: "Acme", uid })).id, app.id);
  assert.equal((await svix.application.get(uid)).id, app.id);
  step(`application ${app.id} by uid ${uid}`);

  const ep = await svix.endpoint.create(uid, { url: hookUrl, filterTypes: [paid], channels: ["eu"], uid: "billing" });
  assert.deepEqual(ep.filterTypes, [paid]);
  assert.deepEqual(ep.channels, ["eu"]);
  assert.ok(ep.createdAt instanceof Date);
  const secret = (await svix.endpoint.getSecret(uid, "billing")).key;
  step(`endpoint ${ep.id} for ${paid} on channel eu`);

  const eu = await svix.message.create(uid, { eventType: paid, payload: { invoice: "in_1", amount: 4999 }, eventId: `order-${RUN}`, channels: ["eu"] });
  const us = await svix.message.create(uid, { eventType: paid, payload: { invoice: "in_2" }, channels: ["us"] });
  await expectStatus(409, () => svix.message.create(uid, { eventType: paid, payload: {}, eventId: `order-${RUN}` }));
  const got = (await waitFor("the eu delivery", () => deliveriesOf(eu.id)[0]));
  assert.deepEqual(new Webhook(secret).verify(got.body, got.headers), { invoice: "in_1", amount: 4999 });
  assert.equal(got.body, JSON.stringify({ invoice: "in_1", amount: 4999 }));
  step("the eu message arrived, verified by svix's Webhook; a repeated eventId answered 409");

  const list = await svix.message.list(app.id, { channel: "eu" });
  assert.deepEqual(list.data.map((m) => m.id), [eu.id]);
  const all = await svix.message.list(app.id, { limit: 1 });
  assert.equal(all.done, false);
  const rest = await svix.message.list(app.id, { limit: 1, iterator: all.iterator });
  assert.deepEqual([...all.data, ...rest.data].map((m) => m.id), [us.id, eu.id]);
  assert.equal((await svix.message.get(uid, `order-${RUN}`)).id, eu.id);
  assert.equal(deliveriesOf(us.id).length, 0, "not on the endpoint's channel");
  step("messages listed by channel and page");

  const attempts = await waitFor("the attempt log", async () => {
    const page = await svix.messageAttempt.listByMsg(app.id, eu.id);
    return page.data.length ? page : null;
  });
  assert.equal(attempts.data[0].status, 0);
  assert.equal(attempts.data[0].responseStatusCode, 200);
  assert.ok(attempts.data[0].timestamp instanceof Date);
  const byEndpoint = await svix.messageAttempt.listByEndpoint(app.id, ep.id, { statusCodeClass: 200 });
  assert.equal(byEndpoint.data.length, 1);
  step("attempts listed");

  await svix.endpoint.rotateSecret(uid, ep.id, {});
  const newSecret = (await svix.endpoint.getSecret(uid, ep.id)).key;
  assert.notEqual(newSecret, secret);
  script.push(503);
  const later = await svix.message.create(uid, { eventType: paid, payload: { invoice: "in_3" }, channels: ["eu"] });
  const [first, second] = await waitFor("a retried delivery", () => {
    const d = deliveriesOf(later.id);
    return d.length >= 2 ? d : null;
  });
  for (const d of [first, second]) {
    new Webhook(secret).verify(d.body, d.headers);
    new Webhook(newSecret).verify(d.body, d.headers);
  }
  step("after rotation both keys verify, across a retry");

  const recovered = await svix.endpoint.recover(uid, ep.id, { since: new Date(Date.now() - 3600_000) });
  assert.equal(recovered.status, "finished");
  // The retried delivery is recorded a moment after the receiver answers.
  await waitFor("both deliveries counted as successes", async () => {
    const stats = await svix.endpoint.getStats(uid, ep.id);
    return stats.success >= 2 && stats.sending === 0;
  });
  await svix.messageAttempt.resend(uid, eu.id, ep.id);
  await waitFor("the resend", () => deliveriesOf(eu.id).length >= 2);
  step("recover and resend answered");

  await svix.endpoint.delete(uid, ep.id);
  await expectStatus(404, () => svix.endpoint.get(uid, ep.id));
  await svix.application.delete(app.id);
  await expectStatus(404, () => svix.application.get(uid));
  step("endpoint and application deleted");
  console.log("ok");
}

main()
  .then(() => process.exit(0))
  .catch((e) => {
    console.error(e && e.body ? `${e.stack}\n${JSON.stringify(e.body)}` : e);
    process.exit(1);
  });
