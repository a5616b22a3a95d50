import os

from flask import Flask, request
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

app = Flask(__name__)
webhook = Webhook(os.environ["WEBHOOK_SECRET"])  # the endpoint's whsec_ secret
processed = set()  # use your database in production


@app.post("/webhooks")
def receive():
    try:
        event = webhook.verify(request.get_data(), dict(request.headers))
    except WebhookVerificationError:
        return "invalid signature", 400
    event_id = request.headers["webhook-id"]  # the same on every retry
    if event_id in processed:
        return "", 200  # already handled: acknowledge, do nothing
    processed.add(event_id)
    print(f"handled {event['type']} {event_id}", flush=True)
    return "", 204


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(os.environ.get("PORT", "3000")))
