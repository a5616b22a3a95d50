"""Drives Hookline's Svix-compatible API with the official `svix` Python SDK
(1.x or 2.x, whichever the interpreter has) through a merchant's whole
flow, verifying every delivery with the SDK's own `Webhook` class.

    python scenario.py SERVER_URL ADMIN_TOKEN RUN_ID

Prints one line per step and exits non-zero at the first failure. Started
by crates/hookline-server/tests/it/svix_sdk.rs against a real server.
"""

import datetime
import http.server
import json
import sys
import threading
import time

import svix
from svix.api import (
    ApplicationIn,
    EndpointIn,
    EndpointSecretRotateIn,
    EventTypeIn,
    MessageAttemptListByEndpointOptions,
    MessageCreateOptions,
    MessageIn,
    MessageListOptions,
    RecoverIn,
    Svix,
    SvixOptions,
)
from svix.exceptions import HttpError
from svix.webhooks import Webhook

SERVER, TOKEN, RUN = sys.argv[1], sys.argv[2], sys.argv[3]
VERSION = svix.__version__ if hasattr(svix, "__version__") else "?"
TWO = "event_types" in EndpointIn.model_fields  # 2.x renamed filterTypes


def step(text):
    print(f"[python {VERSION}] {text}", flush=True)


class Receiver(http.server.BaseHTTPRequestHandler):
    """Records every webhook; answers the status at the head of `script`."""

    received = []
    script = []
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        with Receiver.lock:
            Receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = Receiver.script.pop(0) if Receiver.script else 200
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


def wait_for(what, check, seconds=30):
    end = time.time() + seconds
    while time.time() < end:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def deliveries_of(msg_id):
    with Receiver.lock:
        return [(h, b) for h, b in Receiver.received if h.get("svix-id") == msg_id]


def expect_status(status, call):
    try:
        call()
    except HttpError as e:
        assert e.status_code == status, f"expected {status}, got {e.status_code}"
        return e
    raise AssertionError(f"expected HTTP {status}, the call succeeded")


def endpoint_in(**fields):
    types = fields.pop("types", None)
    if types is not None:
        fields["event_types" if TWO else "filter_types"] = types
    return EndpointIn(**fields)


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{server.server_address[1]}/webhooks"
    client = Svix(TOKEN, SvixOptions(server_url=SERVER))

    paid, refunded = f"invoice.paid.{RUN}", f"invoice.refunded.{RUN}"
    for name in (paid, refunded):
        schema = {"type": "object", "properties": {"invoice": {"type": "string"}}}
        client.event_type.create(EventTypeIn(name=name, description="An invoice event", schemas={"1": schema}))
    assert client.event_type.get(paid).schemas["1"]["type"] == "object"
    step("event types created")

    uid = f"acme-{RUN}"
    app = client.application.get_or_create(ApplicationIn(name="Acme", uid=uid, metadata={"plan": "pro"}))
    again = client.application.get_or_create(ApplicationIn(name="Acme", uid=uid))
    assert again.id == app.id and app.uid == uid and app.metadata == {"plan": "pro"}
    assert client.application.get(uid).id == app.id
    step(f"application {app.id} by uid {uid}")

    ep = client.endpoint.create(uid, endpoint_in(url=hook_url, types=[paid], uid="billing", description="billing"))
    assert client.endpoint.get(uid, "billing").id == ep.id
    listed = client.endpoint.list(app.id)
    assert [e.id for e in listed.data] == [ep.id] and listed.done
    got_types = ep.event_types if TWO else ep.filter_types
    assert got_types == [paid], got_types
    secret = client.endpoint.get_secret(uid, ep.id).key
    step(f"endpoint {ep.id} for {paid}")

    sent = []
    for i in range(3):
        payload = {"invoice": f"in_{i}", "amount": 1000 + i, "nested": {"ok": True}}
        msg = client.message.create(
            uid,
            MessageIn(event_type=paid, payload=payload, event_id=f"order-{RUN}-{i}"),
            MessageCreateOptions(with_content=True),
        )
        assert msg.event_id == f"order-{RUN}-{i}", msg
        assert msg.payload == payload, (msg.payload, payload)
        sent.append((msg, payload))
    other = client.message.create(uid, MessageIn(event_type=refunded, payload={"invoice": "in_9"}))
    expect_status(409, lambda: client.message.create(uid, MessageIn(event_type=paid, payload={}, event_id=f"order-{RUN}-0")))
    step("3 messages sent, a repeated eventId answered 409")

    wh = Webhook(secret)
    for msg, payload in sent:
        headers, body = wait_for(f"the delivery of {msg.id}", lambda: deliveries_of(msg.id))[0]
        assert json.loads(body) == payload, body
        wh.verify(body, headers)  # raises WebhookVerificationError when it does not verify
    assert not deliveries_of(other.id), "the endpoint does not take refunds"
    step("every delivery verified by svix.webhooks.Webhook")

    pages, iterator = [], None
    while True:
        page = client.message.list(app.id, MessageListOptions(limit=2, iterator=iterator))
        pages.append(page)
        if page.done:
            break
        iterator = page.iterator
    ids = [m.id for p in pages for m in p.data]
    assert ids == [other.id] + [m.id for m, _ in reversed(sent)], ids
    only_paid = client.message.list(app.id, MessageListOptions(event_types=[paid]))
    assert len(only_paid.data) == 3
    assert client.message.get(uid, f"order-{RUN}-1").id == sent[1][0].id
    step(f"messages listed newest first in {len(pages)} pages")

    attempts = wait_for(
        "attempts logged",
        lambda: (lambda a: a if len(a.data) == 3 else None)(
            client.message_attempt.list_by_endpoint(app.id, ep.id, MessageAttemptListByEndpointOptions(with_msg=True))
        ),
    )
    for a in attempts.data:
        assert int(a.status) == 0 and a.response_status_code == 200 and a.endpoint_id == ep.id
    by_msg = client.message_attempt.list_by_msg(app.id, sent[0][0].id)
    assert by_msg.data[0].msg_id == sent[0][0].id
    step("attempts listed by endpoint and by message")

    rotated = client.endpoint.rotate_secret(uid, ep.id, EndpointSecretRotateIn())
    new_secret = client.endpoint.get_secret(uid, ep.id).key
    if rotated is not None:  # 2.x reads the new key from the answer
        assert rotated.key == new_secret
    assert new_secret != secret
    msg = client.message.create(uid, MessageIn(event_type=paid, payload={"invoice": "in_rot"}))
    headers, body = wait_for("the delivery after rotation", lambda: deliveries_of(msg.id))[0]
    assert json.loads(body) == {"invoice": "in_rot"}
    Webhook(secret).verify(body, headers)
    Webhook(new_secret).verify(body, headers)
    step("secret rotated: both the old and the new key verify")

    with Receiver.lock:
        Receiver.script = [500, 500, 500]
    failing = client.message.create(uid, MessageIn(event_type=paid, payload={"invoice": "in_fail"}))
    wait_for("three failed attempts", lambda: len(deliveries_of(failing.id)) >= 3)
    wait_for(
        "the delivery to fail",
        lambda: client.endpoint.get_stats(uid, ep.id).fail >= 1,
    )
    since = datetime.datetime.utcnow() - datetime.timedelta(hours=1)  # naive: read as UTC
    recovered = client.endpoint.recover(uid, ep.id, RecoverIn(since=since))
    assert str(recovered.status) in ("finished", "BackgroundTaskStatus.FINISHED"), recovered.status
    wait_for("the recovered delivery", lambda: len(deliveries_of(failing.id)) >= 4)
    manual = wait_for(
        "the recovered attempt logged",
        lambda: [a for a in client.message_attempt.list_by_msg(app.id, failing.id).data if int(a.status) == 0],
    )
    assert int(manual[0].trigger_type) == 1
    failed = [a for a in client.message_attempt.list_by_msg(app.id, failing.id).data if int(a.status) == 2]
    assert len(failed) == 3 and all(a.response_status_code == 500 for a in failed)
    step("failed delivery recovered (triggerType manual)")

    client.endpoint.delete(uid, ep.id)
    expect_status(404, lambda: client.endpoint.get(uid, ep.id))
    client.application.delete(uid)
    expect_status(404, lambda: client.application.get(uid))
    step("endpoint and application deleted")
    print("ok", flush=True)


if __name__ == "__main__":
    main()
