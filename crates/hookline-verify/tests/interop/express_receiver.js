const express = require("express");
const { Webhook } = require("standardwebhooks");

const webhook = new Webhook(process.env.WEBHOOK_SECRET); // the endpoint's whsec_ secret
const processed = new Set(); // use your database in production
const app = express();

// Verify the raw bytes: parsing and re-serialising JSON would change them.
app.post("/webhooks", express.raw({ type: "application/json" }), (req, res) => {
  let event;
  try {
    event = webhook.verify(req.body.toString("utf8"), req.headers);
  } catch (err) {
    return res.status(400).send("invalid signature");
  }
  const eventId = req.headers["webhook-id"]; // the same on every retry
  if (processed.has(eventId)) {
    return res.sendStatus(200); // already handled: acknowledge, do nothing
  }
  processed.add(eventId);
  console.log(`handled ${event.type} ${eventId}`);
  res.sendStatus(204);
});

app.listen(Number(process.env.PORT || 3000), "127.0.0.1");
