"""common.py: the generic parts of the provider fakes (tests/fakes/google.py, microsoft.py): stdlib only.

    FakeServer      ThreadingHTTPServer for the fakes (daemon threads, reuse address, deep backlog)
    BaseHandler     do_GET..do_DELETE → self._dispatch(method); body reading with a size limit
                    (TooLarge), _send/_json, _log_entry (request log record with secrets redacted)
    Sender          a heap of timed jobs worked off by a few threads (push / notification delivery
                    with retries); deliver(job) is the owner's callback
    http_post       one POST to a receiver: (status, headers, body, error name)
    b64url, redact  small helpers
"""
import base64
import heapq
import http.client
import json
import threading
import time
import urllib.parse
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
		raise NotImplementedError

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
