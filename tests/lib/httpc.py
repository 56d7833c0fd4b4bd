"""httpc.py: the HTTP helpers of the end-to-end tests (stdlib http.client; redirects are never followed).

    from httpc import Client, parse_forms, csrf_of, is_json_error, security_header_problems, CSP
    cl = Client(port)
    r = cl.request("POST", "/path", body={"form": "fields"}, cookies={"tf_csrf": "..."})
    r = cl.request("POST", "/api/x", json_body={"a": 1}, headers={"Idempotency-Key": "k"})
    r.status, r.header("Location"), r.cookies(), r.json(), r.text
"""
import html.parser
import http.client
import json
import urllib.parse

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


class Resp:
    def __init__(self, r, body):
        self.status = r.status
        self.headers = r.headers
        self.body = body
        self.text = body.decode("utf-8", "replace")

    def header(self, name):
        return self.headers.get(name)

    def cookies(self):
        """Set-Cookie headers as {name: (value, attrs-lowercase-list, raw)}."""
        out = {}
        for raw in self.headers.get_all("Set-Cookie") or []:
            parts = [p.strip() for p in raw.split(";")]
            name, _, value = parts[0].partition("=")
            out[name] = (value, [p.lower() for p in parts[1:]], raw)
        return out

    def json(self):
        return json.loads(self.body)

    def json_or_none(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def __repr__(self):
        return f"<{self.status} {self.headers.get('Content-Type')} {self.text[:300]!r}>"


class Client:
    def __init__(self, port, host="127.0.0.1", timeout=30):
        self.host = host
        self.port = port
        self.timeout = timeout

    def connect(self):
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)

    def request(self, method, path, body=None, headers=None, cookies=None, conn=None, json_body=None):
        """One request; a dict body is sent form-encoded, json_body as application/json."""
        h = dict(headers or {})
        if cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        if json_body is not None:
            body = json.dumps(json_body).encode()
            h.setdefault("Content-Type", "application/json")
        elif isinstance(body, dict):
            body = urllib.parse.urlencode(body).encode()
            h.setdefault("Content-Type", "application/x-www-form-urlencoded")
        own = conn is None
        c = conn or self.connect()
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return Resp(r, r.read())
        finally:
            if own:
                c.close()


class FormParser(html.parser.HTMLParser):
    """Collects <form>, <input>, <select>/<option> and <button> attributes of a page."""

    def __init__(self):
        super().__init__()
        self.inputs = []
        self.forms = []
        self.selects = []
        self.options = []
        self.buttons = []
        self._select = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input":
            self.inputs.append(a)
        elif tag == "form":
            self.forms.append(a)
        elif tag == "select":
            self._select = a.get("name")
            self.selects.append(a)
        elif tag == "option":
            self.options.append(dict(a, select=self._select))
        elif tag == "button":
            self.buttons.append(a)

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None


def parse_forms(text):
    p = FormParser()
    p.feed(text)
    return p


def csrf_of(resp):
    for i in parse_forms(resp.text).inputs:
        if i.get("name") == "csrf_token":
            return i.get("value")
    return None


def security_header_problems(resp, html_page, form_origins=()):
    """What is wrong with the security headers of a response ([] when nothing). form_origins: origins
    the page's form-action may name besides 'self' (the integrations page lets its "Mit Google
    verbinden" form's 303 reach Google's authorization origin when Google is configured)."""
    problems = []
    allowed = {CSP} | {CSP.replace("form-action 'self'", f"form-action 'self' {o}") for o in form_origins}
    if resp.header("Content-Security-Policy") not in allowed:
        problems.append(f"Content-Security-Policy: {resp.header('Content-Security-Policy')!r}")
    csp = resp.header("Content-Security-Policy") or ""
    if "unsafe-inline" in csp or "frame-ancestors 'none'" not in csp:
        problems.append("CSP allows inline code or framing")
    if resp.header("X-Content-Type-Options") != "nosniff":
        problems.append(f"X-Content-Type-Options: {resp.header('X-Content-Type-Options')!r}")
    if resp.header("Referrer-Policy") != "same-origin":
        problems.append(f"Referrer-Policy: {resp.header('Referrer-Policy')!r}")
    if resp.header("X-Frame-Options") != "DENY":
        problems.append(f"X-Frame-Options: {resp.header('X-Frame-Options')!r}")
    if html_page and "no-store" not in (resp.header("Cache-Control") or ""):
        problems.append(f"Cache-Control: {resp.header('Cache-Control')!r}")
    return problems


def is_json_error(resp, code):
    j = resp.json_or_none()
    return (isinstance(j, dict) and isinstance(j.get("error"), dict)
            and j["error"].get("code") == code and bool(j["error"].get("message")))
