"""tap.py: a tiny TAP producer for the Python integration tests (automake's tap-driver reads it).

Use:
    from tap import Tap
    t = Tap()
    t.ok(cond, "name")                  # one test point
    t.eq(got, want, "name")             # equality with a diagnostic on mismatch
    t.skip("name", "reason")
    t.done()                            # prints the plan; exits 1 if any point failed

A test function can be wrapped with t.case("name") as a decorator-free context:
    with t.case("login works"):
        ...assert statements...
An exception inside the block is a failed point with the traceback as diagnostics.
"""
import sys
import traceback


class Tap:
    def __init__(self):
        self.n = 0
        self.failed = 0
        sys.stdout.reconfigure(line_buffering=True)

    def _line(self, ok, name, directive=""):
        self.n += 1
        name = " ".join(str(name).split())
        print(f"{'ok' if ok else 'not ok'} {self.n} - {name}{directive}")
        if not ok:
            self.failed += 1

    def diag(self, msg):
        for line in str(msg).splitlines() or [""]:
            print(f"# {line}")

    def ok(self, cond, name, diag=None):
        self._line(bool(cond), name)
        if not cond and diag is not None:
            self.diag(diag)
        return bool(cond)

    def eq(self, got, want, name):
        return self.ok(got == want, name, f"got:  {got!r}\nwant: {want!r}")

    def skip(self, name, reason):
        self._line(True, name, f" # SKIP {reason}")

    def bail(self, reason):
        print(f"Bail out! {reason}")
        sys.exit(1)

    def case(self, name):
        tap = self

        class _Case:
            def __enter__(self):
                return self

            def __exit__(self, exc_type, exc, tb):
                if exc_type is None:
                    tap._line(True, name)
                else:
                    tap._line(False, name)
                    tap.diag("".join(traceback.format_exception(exc_type, exc, tb)).rstrip())
                return True  # keep going with the next case

        return _Case()

    def done(self):
        print(f"1..{self.n}")
        sys.exit(1 if self.failed else 0)
