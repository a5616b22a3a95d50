"""Signs and verifies Standard Webhooks `v1a` with PyNaCl (libsodium), an
ed25519 implementation independent of Hookline's.

    python3 ed25519_interop.py sign WHSK MSG_ID TIMESTAMP BODY_FILE          -> prints v1a,<sig>
    python3 ed25519_interop.py verify WHPK MSG_ID TIMESTAMP SIGNATURE BODY_FILE -> exit 0 if valid
    python3 ed25519_interop.py public WHSK                                     -> prints whpk_…
"""
import base64
import sys

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey


def signing_key(whsk):
    raw = base64.b64decode(whsk.removeprefix("whsk_"))
    return SigningKey(raw[:32])  # seed; a 64-byte key pair carries the public key after it


mode = sys.argv[1]
if mode == "public":
    print("whpk_" + base64.b64encode(bytes(signing_key(sys.argv[2]).verify_key)).decode())
elif mode == "sign":
    key, msg_id, timestamp, body_file = sys.argv[2:6]
    body = open(body_file, "rb").read()
    signed = signing_key(key).sign(f"{msg_id}.{timestamp}.".encode() + body)
    print("v1a," + base64.b64encode(signed.signature).decode())
else:
    key, msg_id, timestamp, signature, body_file = sys.argv[2:7]
    body = open(body_file, "rb").read()
    verify_key = VerifyKey(base64.b64decode(key.removeprefix("whpk_")))
    try:
        verify_key.verify(f"{msg_id}.{timestamp}.".encode() + body, base64.b64decode(signature.removeprefix("v1a,")))
    except BadSignatureError:
        print("rejected")
        sys.exit(1)
    print("verified")
