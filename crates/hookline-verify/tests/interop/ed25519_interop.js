// Signs and verifies Standard Webhooks `v1a` with Node's own crypto
// (OpenSSL), an ed25519 implementation independent of Hookline's.
//
//   node ed25519_interop.js sign WHSK MSG_ID TIMESTAMP BODY_FILE            -> prints v1a,<sig>
//   node ed25519_interop.js verify WHPK MSG_ID TIMESTAMP SIGNATURE BODY_FILE -> exit 0 if valid
//   node ed25519_interop.js public WHSK                                      -> prints whpk_…
const crypto = require("node:crypto");
const fs = require("node:fs");

const b64 = (text, prefix) => Buffer.from(text.replace(prefix, ""), "base64");

function keys(whsk) {
  const raw = b64(whsk, /^whsk_/);
  const seed = raw.subarray(0, 32);
  // Derive the public key from the seed alone, as OpenSSL does.
  const pkcs8 = Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]);
  const privateKey = crypto.createPrivateKey({ key: pkcs8, format: "der", type: "pkcs8" });
  return { privateKey, publicKey: crypto.createPublicKey(privateKey) };
}

const [mode, ...args] = process.argv.slice(2);
if (mode === "public") {
  const jwk = keys(args[0]).publicKey.export({ format: "jwk" });
  console.log("whpk_" + Buffer.from(jwk.x, "base64url").toString("base64"));
} else if (mode === "sign") {
  const [key, id, timestamp, bodyFile] = args;
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), fs.readFileSync(bodyFile)]);
  console.log("v1a," + crypto.sign(null, signed, keys(key).privateKey).toString("base64"));
} else {
  const [key, id, timestamp, signature, bodyFile] = args;
  const publicKey = crypto.createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: b64(key, /^whpk_/).toString("base64url") },
    format: "jwk",
  });
  const signed = Buffer.concat([Buffer.from(`${id}.${timestamp}.`), fs.readFileSync(bodyFile)]);
  const ok = crypto.verify(null, signed, publicKey, b64(signature, /^v1a,/));
  console.log(ok ? "verified" : "rejected");
  process.exit(ok ? 0 : 1);
}
