#!/bin/sh
# test_booking.sh: tests/unit/test_booking against a private MariaDB (see tests/lib/with-db.sh).
exec sh "${TF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib/with-db.sh" tests/unit/test_booking
