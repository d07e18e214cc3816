#!/bin/sh
# The streaming replica of docker compose's `scale` profile: a base backup of the primary on
# first start (-R writes primary_conninfo and standby.signal), then a hot standby.
set -e
DATA=/var/lib/postgresql/data
chown postgres:postgres "$DATA"
chmod 0700 "$DATA"
if [ ! -s "$DATA/PG_VERSION" ]; then
  until gosu postgres pg_basebackup -h postgres -U trialfinder -D "$DATA" -R -X stream -c fast; do
    echo "waiting for the primary"; sleep 2
  done
fi
exec gosu postgres postgres -c hot_standby_feedback=on \
  -c "primary_conninfo=host=postgres user=trialfinder password=$PGPASSWORD"
