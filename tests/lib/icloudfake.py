"""icloudfake.py: a small fake of iCloud's CalDAV quirks for the tests (stdlib only).

What it reproduces (providers.md 5.10): an entry host (caldav.icloud.com) that answers the
principal, a calendar home on a second "partition" host (another port here), default-namespace XML
with calendar-data in CDATA, a 401 that lists several WWW-Authenticate schemes
(X-MobileMe-AuthToken and Basic; user "mobileme" gets only X-MobileMe-AuthToken), a home holding
inbox, outbox, notification and a VTODO-only "tasks" list besides the event calendar "home",
sync-collection that lists the collection itself and truncates (507 on the collection, a new
token, the rest on the next REPORT), 403 valid-sync-token for unknown tokens, PUT answers without
an ETag (the client must ask for getetag), multiget with 404 for missing hrefs.

    python3 tests/lib/icloudfake.py DIR      # writes DIR/url (entry URL) and DIR/pid; runs until SIGTERM

For the HTTP client's tests: GET /redirect?to=URL on the entry host answers 307 to URL, GET
/echo-auth on the partition host says whether Basic credentials arrived ("auth=yes"/"auth=no").

Account: 12345@icloud.example / abcd-efgh-ijkl-mnop. Requests are appended to DIR/requests.log as
"PORTKIND METHOD PATH AUTH" (AUTH: yes/no whether a Basic header came along).
"""
import base64
import hashlib
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

USER, PASSWORD, DSID = "12345@icloud.example", "abcd-efgh-ijkl-mnop", "123456789"
HOME = f"/{DSID}/calendars/"
CAL = HOME + "home/"


def ics(uid, start, minutes, extra=""):
    def fmt(t):
        return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Apple Inc.//iCloud//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:20250101T000000Z\r\nDTSTART:{fmt(start)}\r\n"
            f"DTEND:{fmt(start + minutes * 60)}\r\nSUMMARY:Zahnarzt <privat> & so\r\n{extra}"
            "END:VEVENT\r\nEND:VCALENDAR\r\n")


class State:
    def __init__(self):
        t0 = int(time.time()) // 3600 * 3600
        self.lock = threading.Lock()
        self.objects = {}        # name -> (etag, data)
        self.version = 1
        for i in range(3):
            self.put(f"apple-{i}.ics", ics(f"apple-{i}", t0 + (i + 1) * 86400, 60))
        self.put("broken.ics", "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:garbage\r\n")

    def put(self, name, data):
        etag = '"' + hashlib.sha1(data.encode()).hexdigest()[:12] + '"'
        self.objects[name] = (etag, data)
        self.version += 1
        return etag


def make_handler(kind, state, logpath, partition_url):
    class H(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def body(self):
            n = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(n).decode("utf-8", "replace") if n else ""

        def send(self, code, body="", ctype="text/xml; charset=utf-8", headers=()):
            data = body.encode("utf-8")
            self.send_response(code)
            self.send_header("Server", "AppleHttpServer/fake")
            for k, v in headers:
                self.send_header(k, v)
            if data or code not in (204, 304):
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def authed(self):
            a = self.headers.get("Authorization", "")
            with open(logpath, "a") as f:
                f.write(f"{kind} {self.command} {self.path} {'yes' if a.startswith('Basic ') else 'no'}\n")
            if a.startswith("Basic "):
                try:
                    u, p = base64.b64decode(a[6:]).decode().split(":", 1)
                except Exception:
                    u = p = ""
                if u == USER and p == PASSWORD:
                    return True
                hdrs = [("WWW-Authenticate", 'X-MobileMe-AuthToken realm="Newcastle"')]
                if u != "mobileme":
                    hdrs.append(("WWW-Authenticate", 'Basic realm="Newcastle"'))
            else:
                hdrs = [("WWW-Authenticate", 'X-MobileMe-AuthToken realm="Newcastle"'),
                        ("WWW-Authenticate", 'Basic realm="Newcastle"')]
            self.body()
            self.send(401, "Unauthorized", "text/plain", hdrs)
            return False

        @staticmethod
        def ms(inner, token=None):
            tok = f"<sync-token>{escape(token)}</sync-token>" if token else ""
            return f'<?xml version="1.0" encoding="UTF-8"?>\n<multistatus xmlns="DAV:">{inner}{tok}</multistatus>'

        def do_PROPFIND(self):
            if kind == "entry" and self.path.rstrip("/") == "/.well-known/caldav":
                self.body()
                return self.send(301, "", "text/plain", [("Location", "/")])
            if not self.authed():
                return
            req = self.body()
            depth = self.headers.get("Depth", "1")
            if kind == "entry" and self.path == "/":
                return self.send(207, self.ms(
                    "<response><href>/</href><propstat><prop><current-user-principal>"
                    f"<href>/{DSID}/principal/</href></current-user-principal></prop>"
                    "<status>HTTP/1.1 200 OK</status></propstat></response>"))
            if kind == "entry" and self.path == f"/{DSID}/principal/":
                return self.send(207, self.ms(
                    f"<response><href>/{DSID}/principal/</href><propstat><prop>"
                    '<calendar-home-set xmlns="urn:ietf:params:xml:ns:caldav">'
                    f'<href xmlns="DAV:">{partition_url}{HOME}</href></calendar-home-set>'
                    "</prop><status>HTTP/1.1 200 OK</status></propstat>"
                    "<propstat><prop><displayname/></prop><status>HTTP/1.1 404 Not Found</status>"
                    "</propstat></response>"))
            if kind == "partition" and self.path == HOME and depth == "1":
                def coll(name, rt, comps=None, extra=""):
                    c = ""
                    if comps:
                        c = ('<supported-calendar-component-set xmlns="urn:ietf:params:xml:ns:caldav">'
                             + "".join(f'<comp name="{x}"/>' for x in comps)
                             + "</supported-calendar-component-set>")
                    return (f"<response><href>{HOME}{name}</href><propstat><prop>"
                            f"<resourcetype>{rt}</resourcetype>{c}{extra}</prop>"
                            "<status>HTTP/1.1 200 OK</status></propstat></response>")
                cal = '<calendar xmlns="urn:ietf:params:xml:ns:caldav"/>'
                write = ("<current-user-privilege-set><privilege><read/></privilege>"
                         "<privilege><write/></privilege></current-user-privilege-set>")
                inner = (coll("", "<collection/>")
                         + coll("home/", "<collection/>" + cal, ["VEVENT"],
                                "<displayname>Privat</displayname>"
                                '<calendar-color xmlns="http://apple.com/ns/ical/">#FF2968FF</calendar-color>'
                                + write)
                         + coll("tasks/", "<collection/>" + cal, ["VTODO"], "<displayname>Erinnerungen</displayname>")
                         + coll("inbox/", '<collection/><schedule-inbox xmlns="urn:ietf:params:xml:ns:caldav"/>')
                         + coll("outbox/", '<collection/><schedule-outbox xmlns="urn:ietf:params:xml:ns:caldav"/>')
                         + coll("notification/", '<collection/><notification xmlns="http://calendarserver.org/ns/"/>'))
                return self.send(207, self.ms(inner))
            if kind == "partition" and self.path == CAL and depth == "0":
                with state.lock:
                    v = state.version
                return self.send(207, self.ms(
                    f"<response><href>{CAL}</href><propstat><prop>"
                    f'<getctag xmlns="http://calendarserver.org/ns/">ctag-{v}</getctag>'
                    f"<sync-token>https://fake/sync/{v}</sync-token>"
                    "<supported-report-set><supported-report><report><sync-collection/></report>"
                    "</supported-report></supported-report-set>"
                    "</prop><status>HTTP/1.1 200 OK</status></propstat></response>"))
            if kind == "partition" and self.path.startswith(CAL) and depth == "0":
                name = self.path[len(CAL):]
                with state.lock:
                    o = state.objects.get(name)
                if not o:
                    return self.send(404, "", "text/plain")
                return self.send(207, self.ms(
                    f"<response><href>{self.path}</href><propstat><prop><getetag>{escape(o[0])}</getetag>"
                    "</prop><status>HTTP/1.1 200 OK</status></propstat></response>"))
            self.send(404, "", "text/plain")

        def do_REPORT(self):
            if not self.authed():
                return
            req = self.body()
            if kind != "partition" or self.path != CAL:
                return self.send(404, "", "text/plain")
            with state.lock:
                objs = dict(state.objects)
                v = state.version
            if "sync-collection" in req:
                import re
                m = re.search(r"<d:sync-token>([^<]*)</d:sync-token>", req)
                tok = m.group(1) if m else ""
                names = sorted(objs)
                if tok == "":
                    page, rest_tok = names[:2], f"https://fake/sync/page-{v}"
                elif tok == f"https://fake/sync/page-{v}":
                    page, rest_tok = names[2:], None
                elif tok == f"https://fake/sync/{v}":
                    page, rest_tok = [], None
                else:
                    return self.send(403, '<?xml version="1.0"?><error xmlns="DAV:"><valid-sync-token/></error>')
                # iCloud lists the collection itself among the changes
                inner = (f"<response><href>{CAL}</href><propstat><prop><getetag>\"coll-{v}\"</getetag>"
                         "</prop><status>HTTP/1.1 200 OK</status></propstat></response>")
                for n in page:
                    inner += (f"<response><href>{CAL}{n}</href><propstat><prop><getetag>{escape(objs[n][0])}"
                              "</getetag></prop><status>HTTP/1.1 200 OK</status></propstat></response>")
                if rest_tok:
                    inner += (f"<response><href>{CAL}</href><status>HTTP/1.1 507 Insufficient Storage"
                              "</status></response>")
                return self.send(207, self.ms(inner, rest_tok or f"https://fake/sync/{v}"))
            if "calendar-multiget" in req:
                import re
                inner = ""
                for href in re.findall(r"<d:href>([^<]*)</d:href>", req):
                    name = href[len(CAL):] if href.startswith(CAL) else None
                    o = objs.get(name) if name else None
                    if not o:
                        inner += f"<response><href>{href}</href><status>HTTP/1.1 404 Not Found</status></response>"
                        continue
                    inner += (f"<response><href>{href}</href><propstat><prop><getetag>{escape(o[0])}</getetag>"
                              f'<calendar-data xmlns="urn:ietf:params:xml:ns:caldav"><![CDATA[{o[1]}]]>'
                              "</calendar-data></prop><status>HTTP/1.1 200 OK</status></propstat></response>")
                return self.send(207, self.ms(inner))
            self.send(400, "", "text/plain")

        def do_GET(self):
            # helpers for the HTTP client's redirect rules (not iCloud behaviour)
            if kind == "entry" and self.path.startswith("/redirect?to="):
                from urllib.parse import unquote
                return self.send(307, "", "text/plain", [("Location", unquote(self.path[len("/redirect?to="):]))])
            if kind == "partition" and self.path == "/echo-auth":
                a = self.headers.get("Authorization", "")
                return self.send(200, "auth=" + ("yes" if a.startswith("Basic ") else "no"), "text/plain",
                                 [("ETag", '"echo"'), ("Retry-After", "120")])
            if not self.authed():
                return
            name = self.path[len(CAL):] if self.path.startswith(CAL) else None
            with state.lock:
                o = state.objects.get(name) if name else None
            if not o:
                return self.send(404, "", "text/plain")
            self.send(200, o[1], "text/calendar; charset=utf-8", [("ETag", o[0])])

        def do_PUT(self):
            if not self.authed():
                return
            data = self.body()
            if kind != "partition" or not self.path.startswith(CAL):
                return self.send(403, "", "text/plain")
            name = self.path[len(CAL):]
            with state.lock:
                exists = name in state.objects
                if self.headers.get("If-None-Match") == "*" and exists:
                    return self.send(412, "", "text/plain")
                im = self.headers.get("If-Match")
                if im and (not exists or state.objects[name][0] != im):
                    return self.send(412, "", "text/plain")
                # iCloud rewrites the data: no ETag in the answer
                state.put(name, data.replace("PRODID:", "X-APPLE-REWRITTEN:1\r\nPRODID:", 1))
            self.send(204 if exists else 201, "", "text/plain")

        def do_DELETE(self):
            if not self.authed():
                return
            name = self.path[len(CAL):] if self.path.startswith(CAL) else None
            with state.lock:
                if not name or name not in state.objects:
                    return self.send(404, "", "text/plain")
                im = self.headers.get("If-Match")
                if im and state.objects[name][0] != im:
                    return self.send(412, "", "text/plain")
                del state.objects[name]
                state.version += 1
            self.send(204, "", "text/plain")

    return H


def main(argv):
    if len(argv) != 2:
        print("usage: icloudfake.py DIR", file=sys.stderr)
        return 2
    d = os.path.abspath(argv[1])
    os.makedirs(d, exist_ok=True)
    state = State()
    logpath = os.path.join(d, "requests.log")
    part = ThreadingHTTPServer(("127.0.0.1", 0), None)
    part_url = f"http://127.0.0.1:{part.server_address[1]}"
    part.RequestHandlerClass = make_handler("partition", state, logpath, part_url)
    entry = ThreadingHTTPServer(("127.0.0.1", 0), make_handler("entry", state, logpath, part_url))
    for s in (part, entry):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    with open(os.path.join(d, "pid"), "w") as f:
        f.write(f"{os.getpid()}\n")
    with open(os.path.join(d, "url.tmp"), "w") as f:
        f.write(f"http://127.0.0.1:{entry.server_address[1]}\n")
    os.rename(os.path.join(d, "url.tmp"), os.path.join(d, "url"))
    try:
        while True:
            time.sleep(3600)
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
