// Signs and verifies with the official `standardwebhooks` package (npm).
//   node interop.js sign SECRET MSG_ID TIMESTAMP BODY_FILE
//   node interop.js verify SECRET MSG_ID TIMESTAMP SIGNATURE BODY_FILE
const fs = require("fs");
const { Webhook } = require("standardwebhooks");

const [mode, secret, msgId, timestamp] = process.argv.slice(2, 6);
const wh = new Webhook(secret);
if (mode === "sign") {
  const body = fs.readFileSync(process.argv[6], "utf8");
  console.log(wh.sign(msgId, new Date(Number(timestamp) * 1000), body));
} else {
  const [signature, bodyFile] = process.argv.slice(6, 8);
  const body = fs.readFileSync(bodyFile, "utf8");
  try {
    wh.verify(body, { "webhook-id": msgId, "webhook-timestamp": timestamp, "webhook-signature": signature });
    console.log("verified");
  } catch (err) {
    console.log(`rejected: ${err.message}`);
    process.exit(1);
  }
}
