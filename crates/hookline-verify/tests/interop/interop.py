"""Signs and verifies with the official `standardwebhooks` package (PyPI).

    python3 interop.py sign SECRET MSG_ID TIMESTAMP BODY_FILE   -> prints the signature
    python3 interop.py verify SECRET MSG_ID TIMESTAMP SIGNATURE BODY_FILE -> exit 0 if valid
"""
import sys
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook

mode, secret, msg_id, timestamp = sys.argv[1:5]
wh = Webhook(secret)
if mode == "sign":
    body = open(sys.argv[5], "rb").read().decode()
    print(wh.sign(msg_id, datetime.fromtimestamp(int(timestamp), tz=timezone.utc), body))
else:
    signature, body_file = sys.argv[5:7]
    body = open(body_file, "rb").read()
    headers = {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": signature}
    try:
        wh.verify(body, headers, json_parse=False)
    except Exception as err:  # WebhookVerificationError and friends
        print(f"rejected: {err}")
        sys.exit(1)
    print("verified")
