import base64
import json
import os
import time

from flask import Flask, request
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

app = Flask(__name__)
# The endpoint's whpk_ public key (GET …/endpoints/{id}/public-key): not a secret.
public_key = VerifyKey(base64.b64decode(os.environ["WEBHOOK_PUBLIC_KEY"].removeprefix("whpk_")))
TOLERANCE_SECONDS = 5 * 60
processed = set()  # use your database in production


def verified(body, headers):
    """True if one of the `v1a` signatures signs `{id}.{timestamp}.{body}`."""
    msg_id = headers.get("webhook-id")
    timestamp = headers.get("webhook-timestamp", "")
    if not msg_id or not timestamp.isdigit():
        return False
    if abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
        return False  # replayed, or a clock is wrong
    signed = f"{msg_id}.{timestamp}.".encode() + body
    for candidate in headers.get("webhook-signature", "").split(" "):
        version, _, signature = candidate.partition(",")
        if version != "v1a":
            continue
        try:
            public_key.verify(signed, base64.b64decode(signature))
            return True
        except (BadSignatureError, ValueError):
            continue
    return False


@app.post("/webhooks")
def receive():
    body = request.get_data()  # the raw bytes, before any JSON parsing
    if not verified(body, request.headers):
        return "invalid signature", 400
    event_id = request.headers["webhook-id"]  # the same on every retry
    if event_id in processed:
        return "", 200  # already handled: acknowledge, do nothing
    processed.add(event_id)
    print(f"handled {json.loads(body)['type']} {event_id}", flush=True)
    return "", 204


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "3000")))
