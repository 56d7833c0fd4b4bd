"""test_admin.py: tf-admin end to end against a private MariaDB: every command, exit codes, no secret in stderr."""
import base64
import hashlib
import hmac
import json
import os
import re
import subprocess
import sys
import time

SRCDIR = os.environ.get("TF_SRCDIR") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILDDIR = os.environ.get("TF_BUILDDIR") or os.getcwd()
sys.path.insert(0, os.path.join(SRCDIR, "tests", "lib"))

from tap import Tap  # noqa: E402
from cgiapp import CgiSetup  # noqa: E402

t = Tap()
ADMIN = os.path.join(BUILDDIR, "tf-admin")
if not os.access(ADMIN, os.X_OK):
    t.bail(f"{ADMIN} not built")
try:
    from cryptography.fernet import Fernet, InvalidToken
except ImportError:
    Fernet = None

SECRET_KEY = "test-secret-key-0123456789-abcdefghijklmnop"
DB_PASSWORD = "db-Pa55word-for-tests-7"
DOCTOR_PASSWORD = "Kaffee-und-Kuchen-42"
stderr_seen = []   # every stderr of tf-admin, checked for secrets at the end


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64_decode(s):
    return base64.b64decode(s + "=" * (-len(s) % 4))


def write_conf(path, settings):
    with open(path, "w") as f:
        for k, v in settings.items():
            f.write(f"{k}='{v}'\n")


def run(args, conf, stdin="", extra_env=None):
    """Run tf-admin with a clean environment and TF_CONFIG=conf. Returns (code, stdout, stderr)."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("TF_") or k.startswith("CALENDAR_") or k.startswith("GOOGLE_")
                   or k.startswith("MICROSOFT_"))}
    env["TF_CONFIG"] = conf
    env["TF_DATA_DIR"] = SRCDIR
    if extra_env:
        env.update(extra_env)
    r = subprocess.run([ADMIN] + args, input=stdin.encode(), capture_output=True, env=env,
                       timeout=120)
    out, err = r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")
    stderr_seen.append((" ".join(args), err))
    return r.returncode, out, err


S = CgiSetup(t, "tf-test-admin.", db_dir="mariadb")
tmp, db = S.tmp, S.db
S.start("MariaDB")

try:
    # A user with a password, so that the password path and its redaction are exercised.
    db.sql(f"CREATE USER IF NOT EXISTS 'tf'@'localhost' IDENTIFIED BY '{DB_PASSWORD}';"
           "GRANT ALL ON terminfinder.* TO 'tf'@'localhost';", database="")
    base = {
        "TF_DB_SOCKET": db.socket,
        "TF_DB_USER": "tf",
        "TF_DB_PASSWORD": DB_PASSWORD,
        "TF_DB_NAME": "terminfinder",
        "TF_SECRET_KEY": SECRET_KEY,
    }
    conf = os.path.join(tmp, "tf.env")
    write_conf(conf, base)
    conf_nosecret = os.path.join(tmp, "nosecret.env")
    write_conf(conf_nosecret, {k: v for k, v in base.items() if k != "TF_SECRET_KEY"})
    conf_badsock = os.path.join(tmp, "badsock.env")
    write_conf(conf_badsock, dict(base, TF_DB_SOCKET=os.path.join(tmp, "nothing.sock")))
    conf_badpw = os.path.join(tmp, "badpw.env")
    write_conf(conf_badpw, dict(base, TF_DB_PASSWORD="wrong-Password-99"))

    # ------------------------------------------------------------ help, version, usage
    with t.case("--help lists every command, exit 0"):
        code, out, _ = run(["--help"], conf)
        assert code == 0, code
        for cmd in ("migrate", "add-doctor", "token", "status", "rotate-keys"):
            assert cmd in out, cmd
    with t.case("--version prints the package version"):
        code, out, _ = run(["--version"], conf)
        with open(os.path.join(SRCDIR, "configure.ac")) as f:
            version = re.search(r"AC_INIT\(\[[^]]*\], \[([^]]*)\]", f.read()).group(1)
        assert code == 0 and version in out and out.startswith("tf-admin"), out
    with t.case("no command and unknown command: exit 2"):
        assert run([], conf)[0] == 2
        code, _, err = run(["frobnicate"], conf)
        assert code == 2 and "frobnicate" in err, (code, err)
    with t.case("unknown option and extra argument: exit 2"):
        assert run(["status", "--bogus"], conf)[0] == 2
        assert run(["migrate", "extra"], conf)[0] == 2

    # ------------------------------------------------------------ migrate
    nfiles = len([f for f in os.listdir(os.path.join(SRCDIR, "sql"))
                  if re.fullmatch(r"[0-9]{3}_[a-z0-9_]+\.sql", f)])
    with t.case("migrate applies every file"):
        code, out, err = run(["migrate"], conf)
        assert code == 0, (code, err)
        assert f"applied {nfiles} migration" in out, out
    with t.case("migrate again applies nothing"):
        code, out, err = run(["migrate"], conf)
        assert code == 0 and "applied 0 migration" in out, (code, out, err)
    with t.case("schema_migrations has one row per file"):
        rows = db.sql("SELECT version FROM schema_migrations ORDER BY version").split()
        assert len(rows) == nfiles and rows[0] == "001_foundation", rows
    with t.case("migrate with a missing data directory: exit 2 naming TF_DATA_DIR"):
        code, _, err = run(["migrate"], conf, extra_env={"TF_DATA_DIR": os.path.join(tmp, "none")})
        assert code == 2 and "TF_DATA_DIR" in err, (code, err)

    # ------------------------------------------------------------ add-doctor
    doctor_id = None
    with t.case("add-doctor creates the doctor and prints the id"):
        code, out, err = run(["add-doctor", "anna@praxis.example", "--name", "Dr. Anna Müller"],
                             conf, stdin=DOCTOR_PASSWORD + "\n")
        assert code == 0, (code, err)
        doctor_id = int(out.strip())
        row = db.sql(f"SELECT email, name, slug, timezone FROM doctors WHERE id = {doctor_id}")
        assert row.rstrip("\n").split("\t") == ["anna@praxis.example", "Dr. Anna Müller",
                                                 "dr-anna-mueller", "Europe/Berlin"], row
    with t.case("the new doctor has 10 opening-hour intervals Mon-Fri and one service"):
        hours = db.sql("SELECT weekday, start_minute, end_minute FROM opening_hours "
                       f"WHERE doctor_id = {doctor_id} ORDER BY weekday, start_minute")
        got = [tuple(int(x) for x in line.split("\t")) for line in hours.splitlines()]
        want = [(d, s, e) for d in range(1, 6) for (s, e) in ((480, 720), (840, 1080))]
        assert got == want, got
        svc = db.sql(f"SELECT name, duration_minutes FROM services WHERE doctor_id = {doctor_id}")
        assert svc.splitlines() == ["Sprechstunde\t30"], svc
    with t.case("the stored password hash is PBKDF2-SHA256 and verifies"):
        h = db.sql(f"SELECT password_hash FROM doctors WHERE id = {doctor_id}").strip()
        scheme, iters, salt, dk = h.split("$")
        assert scheme == "pbkdf2-sha256" and int(iters) >= 100000, h
        calc = hashlib.pbkdf2_hmac("sha256", DOCTOR_PASSWORD.encode(), b64_decode(salt),
                                   int(iters), len(b64_decode(dk)))
        assert hmac.compare_digest(calc, b64_decode(dk)), "hash does not verify"
        wrong = hashlib.pbkdf2_hmac("sha256", b"wrong password", b64_decode(salt), int(iters),
                                    len(b64_decode(dk)))
        assert not hmac.compare_digest(wrong, b64_decode(dk))
    with t.case("add-doctor with --slug and --timezone"):
        code, out, err = run(["add-doctor", "bernd@praxis.example", "--name=Bernd Beispiel",
                              "--slug", "praxis-beispiel", "--timezone", "Europe/Vienna"],
                             conf, stdin=DOCTOR_PASSWORD + "\r\n")
        assert code == 0, (code, err)
        row = db.sql(f"SELECT slug, timezone FROM doctors WHERE id = {int(out)}")
        assert row.split() == ["praxis-beispiel", "Europe/Vienna"], row
    with t.case("duplicate e-mail (other case): exit 1 with a message, nothing added"):
        before = db.sql("SELECT COUNT(*) FROM doctors").strip()
        code, out, err = run(["add-doctor", "ANNA@praxis.example", "--name", "Anna Zwei"], conf,
                             stdin=DOCTOR_PASSWORD + "\n")
        assert code == 1 and "already exists" in err, (code, err)
        assert db.sql("SELECT COUNT(*) FROM doctors").strip() == before
    with t.case("short and empty passwords: exit 2"):
        code, _, err = run(["add-doctor", "c@praxis.example", "--name", "Carla Test"], conf,
                           stdin="kurz\n")
        assert code == 2 and "password" in err, (code, err)
        code, _, err = run(["add-doctor", "c@praxis.example", "--name", "Carla Test"], conf, stdin="")
        assert code == 2 and "password" in err, (code, err)
        code, _, err = run(["add-doctor", "c@praxis.example", "--name", "Carla Test"], conf,
                           stdin="x" * 5000 + "\n")
        assert code == 2 and "too long" in err, (code, err)
    with t.case("bad e-mail, slug, missing --name: exit 2"):
        assert run(["add-doctor", "no-at-sign", "--name", "Carla Test"], conf, stdin=DOCTOR_PASSWORD)[0] == 2
        assert run(["add-doctor", "c@praxis.example", "--name", "Carla Test", "--slug", "Bad Slug"], conf,
                   stdin=DOCTOR_PASSWORD)[0] == 2
        assert run(["add-doctor", "c@praxis.example"], conf, stdin=DOCTOR_PASSWORD)[0] == 2
        code, _, err = run(["add-doctor", "c@praxis.example", "--name", "Carla Test", "--timezone",
                            "Nowhere/X"], conf, stdin=DOCTOR_PASSWORD + "\n")
        assert code == 2 and "time zone" in err, (code, err)
        assert db.sql("SELECT COUNT(*) FROM doctors WHERE email = 'c@praxis.example'").strip() == "0"

    # ------------------------------------------------------------ token
    def check_jwt(token, ttl):
        head, payload, sig = token.split(".")
        want = hmac.new(SECRET_KEY.encode(), f"{head}.{payload}".encode(), hashlib.sha256).digest()
        assert hmac.compare_digest(b64url_decode(sig), want), "signature does not verify"
        assert json.loads(b64url_decode(head))["alg"] == "HS256"
        claims = json.loads(b64url_decode(payload))
        assert claims["sub"] == str(doctor_id), claims
        assert claims["email"] == "anna@praxis.example", claims
        assert abs(claims["iat"] - time.time()) < 120, claims
        assert claims["exp"] - claims["iat"] == ttl, claims
        bad = hmac.new(b"other-key", f"{head}.{payload}".encode(), hashlib.sha256).digest()
        assert not hmac.compare_digest(b64url_decode(sig), bad)

    with t.case("token: an HS256 JWT that verifies, 30 days by default"):
        code, out, err = run(["token", "anna@praxis.example"], conf)
        assert code == 0, (code, err)
        check_jwt(out.strip(), 30 * 24 * 3600)
    with t.case("token --ttl 3600"):
        code, out, err = run(["token", "Anna@Praxis.example", "--ttl", "3600"], conf)
        assert code == 0, (code, err)
        check_jwt(out.strip(), 3600)
    with t.case("token without TF_SECRET_KEY: exit 2 naming it"):
        code, out, err = run(["token", "anna@praxis.example"], conf_nosecret)
        assert code == 2 and "TF_SECRET_KEY" in err and out == "", (code, err)
    with t.case("token with a short TF_SECRET_KEY: exit 2"):
        code, _, err = run(["token", "anna@praxis.example"], conf_nosecret,
                           extra_env={"TF_SECRET_KEY": "short-key"})
        assert code == 2 and "TF_SECRET_KEY" in err, (code, err)
    with t.case("token for an unknown doctor: exit 1; bad --ttl: exit 2"):
        code, _, err = run(["token", "nobody@praxis.example"], conf)
        assert code == 1 and "no doctor" in err, (code, err)
        assert run(["token", "anna@praxis.example", "--ttl", "abc"], conf)[0] == 2
        assert run(["token", "anna@praxis.example", "--ttl", "0"], conf)[0] == 2

    # ------------------------------------------------------------ status
    with t.case("status shows the database, migrations and counts"):
        db.sql(f"INSERT INTO sessions (token_hash, doctor_id, expires_at) VALUES "
               f"(REPEAT('a', 64), {doctor_id}, UTC_TIMESTAMP() + INTERVAL 1 HOUR),"
               f"(REPEAT('b', 64), {doctor_id}, UTC_TIMESTAMP() - INTERVAL 1 HOUR)")
        code, out, err = run(["status"], conf)
        assert code == 0, (code, err)
        fields = dict(re.findall(r"^(\w+):\s+(.*)$", out, re.M))
        assert fields["database"].startswith("ok"), out
        assert fields["migrations"].startswith(f"{nfiles}/{nfiles}"), out
        assert fields["doctors"] == "2" and fields["sessions"] == "1", out
        assert fields["integrations"] == "0", out
    with t.case("status with a wrong socket: exit 3 and a clear message"):
        code, out, err = run(["status"], conf_badsock)
        assert code == 3 and "unreachable" in out and "nothing.sock" in err, (code, out, err)
    with t.case("wrong database password: exit 3, password not shown"):
        code, _, err = run(["status"], conf_badpw)
        assert code == 3 and "Access denied" in err, (code, err)
        assert "wrong-Password-99" not in err

    # ------------------------------------------------------------ rotate-keys
    if Fernet is None:
        t.skip("rotate-keys", "python3-cryptography not installed")
    else:
        old, new, other = (Fernet.generate_key().decode() for _ in range(3))
        secrets_plain = ['{"refresh_token": "r1"}', '{"password": "app-pw"}']

        def add_integration(token):
            db.sql("INSERT INTO calendar_integrations (doctor_id, provider, account_email, "
                   f"credentials_encrypted) VALUES ({doctor_id}, 'google', 'a@b.de', '{token}')")

        for p in secrets_plain:
            add_integration(Fernet(old.encode()).encrypt(p.encode()).decode())
        rot_conf = os.path.join(tmp, "rot.env")
        write_conf(rot_conf, dict(base, CALENDAR_ENCRYPTION_KEY=f"{new},{old}"))
        with t.case("rotate-keys re-encrypts with the first key"):
            code, out, err = run(["rotate-keys"], rot_conf)
            assert code == 0 and "re-encrypted 2" in out, (code, out, err)
            toks = db.sql("SELECT credentials_encrypted FROM calendar_integrations ORDER BY id").split()
            assert [Fernet(new.encode()).decrypt(x.encode()).decode() for x in toks] == secrets_plain
            for x in toks:
                try:
                    Fernet(old.encode()).decrypt(x.encode())
                    raise AssertionError("old key still decrypts")
                except InvalidToken:
                    pass
        with t.case("rotate-keys: an undecryptable row is left alone, exit 1, others done"):
            add_integration(Fernet(other.encode()).encrypt(b"lost").decode())
            code, out, err = run(["rotate-keys"], rot_conf)
            assert code == 1 and "re-encrypted 2" in out and "1 failed" in out, (code, out, err)
            toks = db.sql("SELECT credentials_encrypted FROM calendar_integrations ORDER BY id").split()
            assert Fernet(other.encode()).decrypt(toks[2].encode()) == b"lost"
            assert Fernet(new.encode()).decrypt(toks[0].encode()).decode() == secrets_plain[0]
        with t.case("rotate-keys without or with a bad key: exit 2"):
            code, _, err = run(["rotate-keys"], conf)
            assert code == 2 and "CALENDAR_ENCRYPTION_KEY" in err, (code, err)
            code, _, err = run(["rotate-keys"], conf, extra_env={"CALENDAR_ENCRYPTION_KEY": "not-a-key"})
            assert code == 2 and "CALENDAR_ENCRYPTION_KEY" in err, (code, err)

    # ------------------------------------------------------------ database down
    db.stop()
    with t.case("status with the database stopped: exit 3"):
        code, out, err = run(["status"], conf)
        assert code == 3 and "unreachable" in err, (code, err)
    with t.case("migrate with the database stopped: exit 3"):
        assert run(["migrate"], conf)[0] == 3

    # ------------------------------------------------------------ secrets
    with t.case("no secret appears in tf-admin's stderr"):
        leaked = []
        keys = [SECRET_KEY, DB_PASSWORD, DOCTOR_PASSWORD]
        if Fernet is not None:
            keys += [old, new]
        for args, err in stderr_seen:
            for s in keys:
                if s in err:
                    leaked.append((args, s[:4] + "..."))
        assert not leaked, leaked
    with t.case("no sanitizer report in tf-admin's stderr"):
        bad = [a for a, e in stderr_seen if "Sanitizer" in e or "runtime error" in e]
        assert not bad, bad
finally:
    S.finish()
t.done()
