#!/bin/sh
# Temporal's PostgreSQL databases and schemas: created on the first start, brought up to date on
# every start (docker-compose.yml runs this in temporalio/admin-tools before the server starts).
set -eu
tool() { temporal-sql-tool --plugin postgres12_pgx --ep postgresql -p 5432 -u "$POSTGRES_USER" --pw "$POSTGRES_PWD" "$@"; }
for db in temporal:temporal temporal_visibility:visibility; do
  name=${db%%:*}
  schema=${db##*:}
  tool --db "$name" create || echo "database $name exists"
  tool --db "$name" setup-schema -v 0.0 || echo "schema of $name is set up"
  tool --db "$name" update-schema -d "/etc/temporal/schema/postgresql/v12/$schema/versioned"
done
echo 'Temporal schemas are up to date'
