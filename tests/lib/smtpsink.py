"""smtpsink.py: a real SMTP server on loopback (Debian's python3-aiosmtpd) that stores every message as a file.

Command line (the dev stack and the tests use it):
    python3 tests/lib/smtpsink.py --port N --dir DIR [--host 127.0.0.1] [--auth USER:PASS]
                                  [--tls-cert CERT --tls-key KEY [--require-starttls]]

Library use:
    from smtpsink import SmtpSink, self_signed_cert
    sink = SmtpSink(dir, port=0)        # port 0: pick a free one (sink.port after start)
    sink.start(); ...; sink.messages(); sink.stop()

Each accepted message becomes DIR/<time_ns>-<n>.eml (written as .tmp, then renamed): the raw
message as received, preceded by trace headers with the envelope and the session:
    X-Sink-Mail-From: <sender>
    X-Sink-Rcpt-To: <recipient>        (one per recipient)
    X-Sink-Auth: LOGIN-NAME            (only after a successful AUTH)
    X-Sink-TLS: yes|no                 (whether STARTTLS was used)
so the file still parses as one e-mail (Python: email.message_from_bytes).

--auth USER:PASS makes AUTH (PLAIN, LOGIN) mandatory before MAIL; with a certificate AUTH is only
offered after STARTTLS, without one it is offered in the clear (loopback tests only).
--require-starttls refuses MAIL until STARTTLS was done. self_signed_cert(dir) makes a key and a
certificate for "localhost" and 127.0.0.1 with `openssl req`.
"""
import argparse
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


# AUTH without TLS is what the loopback tests want; aiosmtpd's warnings about it are noise.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
logging.getLogger("mail.log").setLevel(logging.ERROR)


def free_port(host="127.0.0.1"):
    """A TCP port on host that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def self_signed_cert(dir, names=("localhost",), days=2):
    """Write DIR/sink-cert.pem and DIR/sink-key.pem (RSA 2048, CN and subjectAltName = names plus
    IP 127.0.0.1) with the openssl command; returns (cert, key)."""
    os.makedirs(dir, exist_ok=True)
    cert = os.path.join(dir, "sink-cert.pem")
    key = os.path.join(dir, "sink-key.pem")
    san = ",".join([f"DNS:{n}" for n in names] + ["IP:127.0.0.1"])
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cert, "-days", str(days),
                        "-subj", f"/CN={names[0]}", "-addext", f"subjectAltName={san}"],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("openssl req failed: " + r.stderr.decode("utf-8", "replace"))
    os.chmod(key, 0o600)
    return cert, key


class _Handler:
    def __init__(self, dir):
        self.dir = dir
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.count += 1
            n = self.count
        name = f"{time.time_ns()}-{n:05d}.eml"
        trace = [f"X-Sink-Mail-From: <{envelope.mail_from}>"]
        trace += [f"X-Sink-Rcpt-To: <{r}>" for r in envelope.rcpt_tos]
        login = getattr(session, "auth_data", None)
        if isinstance(login, LoginPassword):
            trace.append("X-Sink-Auth: " + login.login.decode("utf-8", "replace"))
        trace.append("X-Sink-TLS: " + ("yes" if session.ssl else "no"))
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        tmp = os.path.join(self.dir, name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(("\r\n".join(trace) + "\r\n").encode("ascii", "replace"))
            f.write(data)
        os.rename(tmp, os.path.join(self.dir, name))
        print(f"smtpsink: stored {name} from <{envelope.mail_from}> to "
              f"{', '.join(envelope.rcpt_tos)} ({len(data)} bytes)", flush=True)
        return "250 2.0.0 Message accepted for delivery"


class _Authenticator:
    def __init__(self, user, password):
        self.user = user.encode("utf-8")
        self.password = password.encode("utf-8")

    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == self.user
              and auth_data.password == self.password)
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class SmtpSink:
    def __init__(self, dir, host="127.0.0.1", port=0, auth=None, tls_cert=None, tls_key=None,
                 require_starttls=False):
        """auth: None or (user, password). tls_cert/tls_key: PEM files enabling STARTTLS."""
        self.dir = os.path.abspath(dir)
        self.host = host
        self.port = port or free_port("127.0.0.1" if host == "localhost" else host)
        self.auth = auth
        self.tls_cert, self.tls_key = tls_cert, tls_key
        self.require_starttls = require_starttls
        self.controller = None

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        kwargs = {"ident": "TerminFinder test SMTP sink",
                  "data_size_limit": 10 * 1024 * 1024}
        if self.tls_cert:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(self.tls_cert, self.tls_key)
            kwargs["tls_context"] = ctx
            kwargs["require_starttls"] = self.require_starttls
        if self.auth:
            kwargs["authenticator"] = _Authenticator(*self.auth)
            kwargs["auth_required"] = True
            kwargs["auth_require_tls"] = bool(self.tls_cert)
        self.controller = Controller(_Handler(self.dir), hostname=self.host, port=self.port,
                                     server_hostname="sink.localhost", **kwargs)
        self.controller.start()
        return self

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def messages(self):
        """[(path, raw bytes)] of the stored messages, oldest first."""
        names = sorted(n for n in os.listdir(self.dir) if n.endswith(".eml"))
        out = []
        for n in names:
            with open(os.path.join(self.dir, n), "rb") as f:
                out.append((os.path.join(self.dir, n), f.read()))
        return out

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def main(argv):
    ap = argparse.ArgumentParser(description="SMTP sink: stores every message in DIR")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--auth", help="USER:PASS; AUTH becomes mandatory")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--require-starttls", action="store_true")
    a = ap.parse_args(argv[1:])
    if bool(a.tls_cert) != bool(a.tls_key):
        ap.error("--tls-cert and --tls-key go together")
    if a.require_starttls and not a.tls_cert:
        ap.error("--require-starttls needs --tls-cert and --tls-key")
    auth = None
    if a.auth:
        if ":" not in a.auth:
            ap.error("--auth wants USER:PASS")
        auth = tuple(a.auth.split(":", 1))
    sink = SmtpSink(a.dir, host=a.host, port=a.port, auth=auth, tls_cert=a.tls_cert,
                    tls_key=a.tls_key, require_starttls=a.require_starttls)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    sink.start()
    print(f"smtpsink: listening on {a.host}:{sink.port}, storing into {sink.dir}", flush=True)
    try:
        while not stop.wait(1):
            pass
    finally:
        sink.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
