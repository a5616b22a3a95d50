const crypto = require("node:crypto");
const express = require("express");

// The endpoint's whpk_ public key (GET …/endpoints/{id}/public-key): not a secret.
const raw = Buffer.from(process.env.WEBHOOK_PUBLIC_KEY.replace(/^whpk_/, ""), "base64");
const publicKey = crypto.createPublicKey({
  key: { kty: "OKP", crv: "Ed25519", x: raw.toString("base64url") },
  format: "jwk",
});
const TOLERANCE_SECONDS = 5 * 60;
const processed = new Set(); // use your database in production

// True if one of the `v1a` signatures signs `{id}.{timestamp}.{body}`.
function verified(body, headers) {
  const id = headers["webhook-id"];
  const timestamp = Number(headers["webhook-timestamp"]);
  const signatures = headers["webhook-signature"] || "";
  if (!id || !Number.isInteger(timestamp)) return false;
  if (Math.abs(Date.now() / 1000 - timestamp) > TOLERANCE_SECONDS) return false; // replayed?
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), body]);
  return signatures.split(" ").some((candidate) => {
    const [version, signature] = candidate.split(",");
    if (version !== "v1a" || !signature) return false;
    try {
      return crypto.verify(null, signed, publicKey, Buffer.from(signature, "base64"));
    } catch {
      return false;
    }
  });
}

const app = express();
// Verify the raw bytes: parsing and re-serialising JSON would change them.
app.post("/webhooks", express.raw({ type: "application/json" }), (req, res) => {
  if (!verified(req.body, req.headers)) {
    return res.status(400).send("invalid signature");
  }
  const eventId = req.headers["webhook-id"]; // the same on every retry
  if (processed.has(eventId)) {
    return res.sendStatus(200); // already handled: acknowledge, do nothing
  }
  processed.add(eventId);
  const event = JSON.parse(req.body.toString("utf8"));
  console.log(`handled ${event.type} ${eventId}`);
  res.sendStatus(204);
});

app.listen(Number(process.env.PORT || 3000), "127.0.0.1");
