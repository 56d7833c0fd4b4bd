#!/bin/sh
# test_availability_db.sh: tests/unit/test_availability_db against a private MariaDB (see tests/lib/with-db.sh).
exec sh "${TF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/with-db.sh" tests/unit/test_availability_db
