"""common.py: the generic parts of the provider fakes (tests/fakes/google.py, microsoft.py): stdlib only.

    FakeBase        knobs, failure rules (fail/_match_failure), request + delivery logs, start/stop
    FakeServer      ThreadingHTTPServer for the fakes (daemon threads, reuse address, deep backlog)
    BaseHandler     do_GET..do_DELETE → _dispatch: body with a size limit, the common /_fake/ control
                    endpoints, the request log (secrets redacted, status set before the answer leaves),
                    latency; the fake's handler adds _serve, _control, _answer
    cli_main        the fakes' command line (common options, then serve_cli)
    serve_cli       the CLI loop (URL on stdout, settings on stderr, until SIGTERM/SIGINT)
    Sender          a heap of timed jobs worked off by a few threads (push / notification delivery
                    with retries); deliver(job) is the owner's callback
    http_post       one POST to a receiver: (status, headers, body, error name)
    fetch, js       the test client of the fakes' own tests (no redirects followed, no proxies)
    b64url, redact  small helpers
"""
import argparse
import base64
import heapq
import http.client
import json
import signal
import sys
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1024 * 1024
MAX_LOG = 200000


def b64url(raw):
	return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def redact(v):
	"""A secret shortened to its first 8 characters for the request log."""
	v = str(v)
	return v[:8] + "…" if len(v) > 8 else v


class TooLarge(Exception):
	pass


class FakeServer(ThreadingHTTPServer):
	daemon_threads = True
	allow_reuse_address = True
	request_queue_size = 1024


def http_post(url, body, headers, timeout):
	"""POST body to url: (status, headers dict, body bytes, None) or (None, {}, b"", error class name)."""
	u = urllib.parse.urlsplit(url)
	conn_cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
	try:
		conn = conn_cls(u.hostname, u.port, timeout=timeout)
		try:
			conn.request("POST", (u.path or "/") + ("?" + u.query if u.query else ""), body=body, headers=headers)
			r = conn.getresponse()
			data = r.read(MAX_BODY)
			return r.status, {k.lower(): v for k, v in r.getheaders()}, data, None
		finally:
			conn.close()
	except Exception as e:          # refused, reset, timeout
		return None, {}, b"", type(e).__name__


class Sender:
	"""Timed jobs (due time, job) worked off by `workers` threads calling deliver(job)."""

	def __init__(self, deliver, workers=4):
		self.deliver = deliver
		self.workers = workers
		self.cv = threading.Condition()
		self.q = []
		self.n = 0
		self.stopping = False
		self.threads = []

	def schedule(self, due, job):
		with self.cv:
			self.n += 1
			heapq.heappush(self.q, (due, self.n, job))
			self.cv.notify()

	def pending(self):
		with self.cv:
			return len(self.q)

	def _worker(self):
		while True:
			with self.cv:
				while not self.stopping and (not self.q or self.q[0][0] > time.time()):
					self.cv.wait(timeout=(self.q[0][0] - time.time()) if self.q else 1.0)
				if self.stopping:
					return
				_, _, job = heapq.heappop(self.q)
			self.deliver(job)

	def start(self):
		self.stopping = False
		self.threads = [threading.Thread(target=self._worker, daemon=True) for _ in range(self.workers)]
		for t in self.threads:
			t.start()

	def stop(self):
		with self.cv:
			self.stopping = True
			self.cv.notify_all()
		for t in self.threads:
			t.join(timeout=5)
		self.threads = []


class BaseHandler(BaseHTTPRequestHandler):
	"""Request plumbing shared by the fakes; subclasses set `fake` and implement _dispatch(method)."""
	protocol_version = "HTTP/1.1"
	sys_version = ""
	fake = None
	json_type = "application/json; charset=UTF-8"
	redact_form = frozenset()

	def log_message(self, *args):
		pass

	def do_GET(self):
		self._dispatch("GET")

	def do_POST(self):
		self._dispatch("POST")

	def do_PUT(self):
		self._dispatch("PUT")

	def do_PATCH(self):
		self._dispatch("PATCH")

	def do_DELETE(self):
		self._dispatch("DELETE")

	def _dispatch(self, method):
		"""Body, /_fake/ control (_control_common, then the fake's _control), request log, latency, then
		the fake's _serve; exceptions go to the fake's _answer (True when it rendered one)."""
		f = self.fake
		self._status = self._entry = None
		u = urllib.parse.urlsplit(self.path)
		path = u.path
		q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
		try:
			body = self._read_body()
		except TooLarge:
			self.close_connection = True
			return self._too_large()
		if path.startswith("/_fake/"):
			try:
				j = json.loads(body.decode("utf-8")) if body else {}
				if not isinstance(j, dict):
					raise ValueError("JSON object expected")
				if not self._control_common(method, path, q, j):
					self._control(method, path, q, j)
			except (ValueError, KeyError, TypeError) as e:
				self._json(400, {"error": f"{type(e).__name__}: {e}"})
			except Exception as e:
				if not self._answer(e):
					raise
			return
		if f.log_requests:
			self._entry = self._log_entry(method, path, q, body)
			with f.lock:
				if len(f.requests) < MAX_LOG:
					f.requests.append(self._entry)
		if f.latency_ms:
			time.sleep(f.latency_ms / 1000.0)
		try:
			self._serve(method, path, q, body)
		except Exception as e:
			if not self._answer(e):
				traceback.print_exc()
				self._internal_error()
		finally:
			self._entry = None

	def _too_large(self):
		self._json(413, {"error": "request body too large"})

	def _internal_error(self):
		self._json(500, {"error": "internal error"})

	def _answer(self, exc):
		"""Hook: render the fake's own error exceptions; False for anything else."""
		return False

	def _serve(self, method, path, q, body):
		raise NotImplementedError

	def _control(self, method, path, q, j):
		self._json(404, {"error": f"no control endpoint {method} {path}"})

	def _control_common(self, method, path, q, j):
		"""The control endpoints every fake has; False when path is not one of them.
		   GET /_fake/requests[?since=N&path=PREFIX] {"requests", "count"}    DELETE /_fake/requests
		   GET /_fake/knobs | POST /_fake/knobs {knob: value, ...}
		   POST /_fake/fail {"kind", "count" | "fraction", "path_prefix", "method"} | DELETE /_fake/fail
		   GET /_fake/deliveries | POST /_fake/reset"""
		f = self.fake
		key = (method, path)
		if key == ("GET", "/_fake/requests"):
			since = int((q.get("since") or ["0"])[0])
			with f.lock:
				count = len(f.requests)
			self._json(200, {"requests": f.request_log(since, (q.get("path") or [None])[0]), "count": count})
		elif key == ("DELETE", "/_fake/requests"):
			f.clear_requests()
			self._json(200, {})
		elif key == ("GET", "/_fake/knobs"):
			self._json(200, f.knobs())
		elif key == ("POST", "/_fake/knobs"):
			f.set_knobs(**j)
			self._json(200, f.knobs())
		elif key == ("POST", "/_fake/fail"):
			f.fail(j["kind"], count=j.get("count"), fraction=j.get("fraction"), path_prefix=j.get("path_prefix"),
			       method=j.get("method"))
			self._json(200, {})
		elif key == ("DELETE", "/_fake/fail"):
			f.clear_failures()
			self._json(200, {})
		elif key == ("GET", "/_fake/deliveries"):
			self._json(200, {"deliveries": f.delivery_log()})
		elif key == ("POST", "/_fake/reset"):
			f.reset()
			self._json(200, {})
		else:
			return False
		return True

	def _read_body(self):
		"""The request body (Content-Length or chunked); TooLarge over MAX_BODY or when malformed."""
		if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
			out = b""
			while True:
				line = self.rfile.readline(100)
				try:
					n = int(line.split(b";")[0].strip() or b"x", 16)
				except ValueError:
					raise TooLarge()
				if n == 0:
					while self.rfile.readline(1000) not in (b"\r\n", b"\n", b""):
						pass
					return out
				if len(out) + n > MAX_BODY:
					raise TooLarge()
				out += self.rfile.read(n)
				self.rfile.readline(10)
		n = self.headers.get("Content-Length")
		if n is None:
			return b""
		if not n.strip().isdigit() or int(n) > MAX_BODY:
			raise TooLarge()
		return self.rfile.read(int(n))

	def _send(self, status, body=b"", ctype=None, headers=None):
		entry = getattr(self, "_entry", None)
		if entry is not None:           # logged before the answer leaves: a client reading the log sees it
			entry["status"] = status
		self.send_response(status)
		if ctype:
			self.send_header("Content-Type", ctype)
		for k, v in (headers or {}).items():
			self.send_header(k, v)
		if status not in (204, 304):
			self.send_header("Content-Length", str(len(body)))
		self.end_headers()
		if body and status not in (204, 304):
			self.wfile.write(body)
		self._status = status

	def _json(self, status, obj, headers=None):
		self._send(status, (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode(), self.json_type, headers)

	def _form(self, body):
		return urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)

	def _log_entry(self, method, path, q, body):
		"""A request-log record: bearer tokens and the form fields in redact_form shortened."""
		hdrs = {}
		for k, v in self.headers.items():
			if k.lower() == "authorization":
				v = v[:8] + "…" if len(v) > 8 else v
			hdrs[k] = v
		ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
		parsed = None
		if body:
			if ctype == "application/x-www-form-urlencoded":
				form = self._form(body)
				parsed = {k: [redact(x) if k in self.redact_form else x for x in v] for k, v in form.items()}
			else:
				try:
					parsed = json.loads(body.decode("utf-8"))
				except ValueError:
					parsed = body.decode("utf-8", "replace")[:4096]
		return {"time": time.time(), "method": method, "path": path, "query": q, "headers": hdrs, "body": parsed,
			"status": None}


class FakeBase:
	"""What every fake has: knobs, failure rules, request and delivery logs, the server's start/stop.
	A subclass sets KNOBS, FAIL_KINDS, FAIL_PREFIX and HANDLER (a BaseHandler subclass), and has lock,
	rng, failures, requests, deliveries, host, port, sender (a Sender) and log_requests."""
	KNOBS = ()
	FAIL_KINDS = {}
	FAIL_PREFIX = "/"
	HANDLER = None

	def _check_knob(self, name, value):
		"""Hook: raise ValueError for a bad value of a knob."""

	def set_knobs(self, **kw):
		with self.lock:
			for k, v in kw.items():
				if k not in self.KNOBS:
					raise ValueError(f"unknown knob {k}")
				self._check_knob(k, v)
				setattr(self, k, v)

	def knobs(self):
		with self.lock:
			return {k: getattr(self, k) for k in self.KNOBS}

	def fail(self, kind, count=None, fraction=None, path_prefix=None, method=None):
		"""Answer the next count matching requests (or each with probability fraction) with failure kind."""
		if kind not in self.FAIL_KINDS:
			raise ValueError("kind: one of " + ", ".join(self.FAIL_KINDS))
		if (count is None) == (fraction is None):
			raise ValueError("give count or fraction")
		with self.lock:
			self.failures.append({"kind": kind, "count": count, "fraction": fraction,
					      "path_prefix": self.FAIL_PREFIX if path_prefix is None else path_prefix,
					      "method": method})

	def clear_failures(self):
		with self.lock:
			self.failures = []

	def _match_failure(self, method, path):
		"""The kind of the first failure rule that takes this request (its count used up by one), or None.
		Call with the lock held."""
		for rule in self.failures:
			if not path.startswith(rule["path_prefix"] or "") or (rule["method"] and rule["method"] != method):
				continue
			if rule["count"] is not None:
				if rule["count"] <= 0:
					continue
				rule["count"] -= 1
			elif self.rng.random() >= rule["fraction"]:
				continue
			return rule["kind"]
		return None

	def request_log(self, since=0, path_prefix=None):
		with self.lock:
			return [r for r in self.requests[since:] if path_prefix is None or r["path"].startswith(path_prefix)]

	def clear_requests(self):
		with self.lock:
			self.requests = []

	def delivery_log(self):
		with self.lock:
			return list(self.deliveries)

	def start(self):
		handler = type("Handler", (self.HANDLER,), {"fake": self})
		self.server = FakeServer((self.host, self.port), handler)
		self.port = self.server.server_address[1]
		self.base_url = f"http://{self.host}:{self.port}"
		self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
		self._thread.start()
		self.sender.start()
		return self

	def stop(self):
		if self.server is None:
			return
		self.sender.stop()
		self.server.shutdown()
		self.server.server_close()
		self._thread.join(timeout=5)
		self.server = None

	def __enter__(self):
		return self.start()

	def __exit__(self, *exc):
		self.stop()


def serve_cli(fake, env):
	"""Run fake until SIGTERM/SIGINT: the base URL on stdout, env() as NAME=value lines on stderr."""
	done = threading.Event()              # handlers first: a caller may signal as soon as it reads the URL
	signal.signal(signal.SIGTERM, lambda *_: done.set())
	signal.signal(signal.SIGINT, lambda *_: done.set())
	fake.start()
	print(fake.base_url, flush=True)
	for k, v in env().items():
		print(f"{k}={v}", file=sys.stderr, flush=True)
	while not done.wait(1.0):
		pass
	fake.stop()
	return 0


def cli_main(cls, description, account, argv=None, extra_args=None, env=None):
	"""The command line of a fake class cls: --port --host --latency-ms --redirect-uri... --client-id
	--client-secret --account --auto-approve --no-log (+ extra_args(parser)); env(fake, args) → settings."""
	ap = argparse.ArgumentParser(description=description)
	ap.add_argument("--port", type=int, default=0)
	ap.add_argument("--host", default="127.0.0.1")
	ap.add_argument("--latency-ms", type=float, default=0)
	ap.add_argument("--redirect-uri", action="append", help="a registered redirect URI (repeatable)")
	ap.add_argument("--client-id", default=cls.DEFAULT_CLIENT_ID)
	ap.add_argument("--client-secret", default=cls.DEFAULT_CLIENT_SECRET)
	ap.add_argument("--account", default=account, help="the account that signs in and consents")
	ap.add_argument("--auto-approve", action="store_true", help="no consent page: approve at once")
	ap.add_argument("--no-log", action="store_true", help="do not record requests (long benches)")
	if extra_args:
		extra_args(ap)
	a = ap.parse_args(argv)
	fake = cls(port=a.port, host=a.host, client_id=a.client_id, client_secret=a.client_secret,
		   redirect_uris=a.redirect_uri, latency_ms=a.latency_ms, account_email=a.account)
	if a.auto_approve:
		fake.consent = "approve"
	if a.no_log:
		fake.log_requests = False
	return serve_cli(fake, (lambda: env(fake, a)) if env else fake.env)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
	def redirect_request(self, *a, **k):
		return None


_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def fetch(method, url, body=None, headers=None, form=None, timeout=30):
	"""A test request: (status, headers, bytes); body is sent as JSON, form as urlencoded; never raises
	for HTTP statuses, never follows redirects."""
	h = dict(headers or {})
	data = None
	if form is not None:
		data = urllib.parse.urlencode(form).encode()
		h.setdefault("Content-Type", "application/x-www-form-urlencoded")
	elif body is not None:
		data = json.dumps(body).encode()
		h.setdefault("Content-Type", "application/json")
	req = urllib.request.Request(url, data=data, method=method, headers=h)
	try:
		with _OPENER.open(req, timeout=timeout) as r:
			return r.status, r.headers, r.read()
	except urllib.error.HTTPError as e:
		return e.code, e.headers, e.read()


def js(b):
	"""JSON of a body, None when empty or not JSON."""
	try:
		return json.loads(b) if b else None
	except ValueError:
		return None
