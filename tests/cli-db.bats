#!/usr/bin/env bats
# loom db: errors that name the database without showing its password, and
# the private cluster's start/url/migrate/status/stop cycle.

load helpers

@test "an unreachable database exits 3 and hides the password" {
	run "$LOOM_BIN/loom" db status --db "postgresql://bob:hunter2@127.0.0.1:1/x"
	[ "$status" -eq 3 ]
	[[ "$output" == *"bob:***@127.0.0.1:1"* ]]
	[[ "$output" != *hunter2* ]]
	run "$LOOM_BIN/loom" db migrate --db "host=/nonexistent password=hunter2 dbname=x"
	[ "$status" -eq 3 ]
	[[ "$output" == *"password=***"* ]]
	[[ "$output" != *hunter2* ]]
}

@test "db start, status, migrate, status, stop" {
	loom_pg_start
	run "$LOOM_BIN/loom" db status -o json
	[ "$status" -eq 0 ]
	[ "$(echo "$output" | jq .current)" = true ]
	run "$LOOM_BIN/loom" db migrate
	[ "$status" -eq 0 ]
	[[ "$output" == "schema is up to date"* ]]
	# A database missing an earlier migration gets it, later ones or not.
	psql -q "$LOOM_DATABASE_URL" -c "DELETE FROM loom_schema_migrations \
	    WHERE version = 2" -c "DROP TABLE breakers"
	run "$LOOM_BIN/loom" db status
	[ "$status" -eq 1 ]
	run "$LOOM_BIN/loom" db migrate
	[ "$status" -eq 0 ]
	run psql -qAt "$LOOM_DATABASE_URL" -c "SELECT count(*) FROM breakers"
	[ "$output" = 0 ]
	dir=$LOOM_TEST_DIR url=$LOOM_DATABASE_URL
	loom_pg_stop
	run "$LOOM_BIN/loom" db status --db "$url"
	[ "$status" -eq 3 ]
	[ ! -e "$dir" ]
}

@test "statements are prepared once per connection and the cache survives errors (C driver)" {
	loom_pg_start
	run "$LOOM_BIN/../tests/test_db"
	loom_pg_stop
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"not ok"* && "$output" != *"# skip"* ]]
	[ "$(grep -c '^ok' <<<"$output")" -ge 18 ]
}

@test "db with a bad subcommand or option is a usage error" {
	run "$LOOM_BIN/loom" db frobnicate
	[ "$status" -eq 2 ]
	run "$LOOM_BIN/loom" db start --port 99999
	[ "$status" -eq 2 ]
}
