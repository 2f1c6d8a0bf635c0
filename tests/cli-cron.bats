#!/usr/bin/env bats
# loom cron next: the real binary, fixed --from times, exact output.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

setup() {
	LOOM="${LOOM_BIN:-$BATS_TEST_DIRNAME/../build/bin}/loom"
}

@test "next five fires in UTC by default" {
	run "$LOOM" cron next "0 3 * * *" --from 2026-11-26T10:00:00Z
	assert_success
	assert_output "2026-11-27T03:00:00Z
2026-11-28T03:00:00Z
2026-11-29T03:00:00Z
2026-11-30T03:00:00Z
2026-12-01T03:00:00Z"
}

@test "options may follow or precede the expression" {
	run "$LOOM" cron next "0 3 * * *" --tz Europe/Kyiv --from 2026-11-26 -n 2
	assert_success
	assert_output "2026-11-26T01:00:00Z
2026-11-27T01:00:00Z"
	run "$LOOM" cron --tz Europe/Kyiv -n 2 next --from=2026-11-26 "0 3 * * *"
	assert_success
	assert_output "2026-11-26T01:00:00Z
2026-11-27T01:00:00Z"
}

@test "--from takes an offset and is exclusive" {
	run "$LOOM" cron next "@hourly" --from 2026-11-26T12:00:00+02:00 -n 1
	assert_success
	assert_output "2026-11-26T11:00:00Z"
	run "$LOOM" cron next "@hourly" --from 2026-11-26T10:00:00Z --count 1
	assert_success
	assert_output "2026-11-26T11:00:00Z"
}

@test "six fields with seconds, names and steps" {
	run "$LOOM" cron next "*/20 0 12 * * MON-FRI" --from 2026-11-27T12:00:10Z -n 3
	assert_success
	assert_output "2026-11-27T12:00:20Z
2026-11-27T12:00:40Z
2026-11-30T12:00:00Z"
}

@test "json has utc and local times with the zone's offset" {
	run "$LOOM" cron next "0 3 * * *" --tz Europe/Kyiv \
	    --from 2026-11-26T10:00:00Z -n 2 -o json
	assert_success
	run jq -c . <<<"$output"
	assert_success
	assert_output '[{"utc":"2026-11-27T01:00:00Z","local":"2026-11-27T03:00:00+02:00"},{"utc":"2026-11-28T01:00:00Z","local":"2026-11-28T03:00:00+02:00"}]'
}

@test "json in UTC" {
	run "$LOOM" cron next "@monthly" --from 2026-11-26 -n 1 --output json
	assert_success
	run jq -r '.[0].utc + " " + .[0].local' <<<"$output"
	assert_output "2026-12-01T00:00:00Z 2026-12-01T00:00:00+00:00"
}

@test "DST: a fixed time in the spring gap fires once, after the gap" {
	run "$LOOM" cron next "30 2 * * *" --tz America/New_York \
	    --from 2026-03-07T12:00:00Z -n 2 -o json
	assert_success
	run jq -r '.[] | .local' <<<"$output"
	assert_output "2026-03-08T03:00:00-04:00
2026-03-09T02:30:00-04:00"
}

@test "DST: a fixed time in the repeated hour fires once" {
	run "$LOOM" cron next "30 1 * * *" --tz America/New_York \
	    --from 2026-10-31T12:00:00Z -n 2
	assert_success
	assert_output "2026-11-01T05:30:00Z
2026-11-02T06:30:00Z"
}

@test "DST: every 15 minutes fires on both passes of the repeated hour" {
	run "$LOOM" cron next "*/15 * * * *" --tz Europe/Kyiv \
	    --from 2026-10-25T00:40:00Z -n 4 -o json
	assert_success
	run jq -r '.[] | .utc + " " + .local' <<<"$output"
	assert_output "2026-10-25T00:45:00Z 2026-10-25T03:45:00+03:00
2026-10-25T01:00:00Z 2026-10-25T03:00:00+02:00
2026-10-25T01:15:00Z 2026-10-25T03:15:00+02:00
2026-10-25T01:30:00Z 2026-10-25T03:30:00+02:00"
}

@test "--help prints usage and exits 0" {
	run "$LOOM" cron next --help
	assert_success
	assert_line --partial "usage: loom cron next EXPR"
	run "$LOOM" help cron
	assert_success
	assert_line --partial "usage: loom cron next EXPR"
}

@test "a bad expression names the field and exits 1" {
	run "$LOOM" cron next "0 0 32 * *" --from 2026-11-26
	assert_failure 1
	assert_output --partial "day-of-month field: 32 is out of range 1-31"
	run "$LOOM" cron next "0 3 * *"
	assert_failure 1
	assert_output --partial "expected 5 or 6 fields, found 4"
	run "$LOOM" cron next "@reboot"
	assert_failure 1
	assert_output --partial "unknown alias '@reboot'"
}

@test "an expression that never fires exits 1" {
	run "$LOOM" cron next "0 0 30 2 *" --from 2026-11-26
	assert_failure 1
	assert_output --partial "never fires"
}

@test "a bad zone, time, count or option is a usage error (exit 2)" {
	run "$LOOM" cron next "0 3 * * *" --tz Mars/Olympus_Mons
	assert_failure 2
	assert_output --partial "unknown time zone 'Mars/Olympus_Mons'"
	run "$LOOM" cron next "0 3 * * *" --tz ../../etc/passwd
	assert_failure 2
	run "$LOOM" cron next "0 3 * * *" --from 2026-02-30
	assert_failure 2
	assert_output --partial "bad --from '2026-02-30'"
	run "$LOOM" cron next "0 3 * * *" --from 2026-11-26T10:00:00
	assert_failure 2
	run "$LOOM" cron next "0 3 * * *" -n 1001
	assert_failure 2
	run "$LOOM" cron next "0 3 * * *" -n
	assert_failure 2
	run "$LOOM" cron next "0 3 * * *" --frobnicate
	assert_failure 2
	assert_output --partial "unknown option '--frobnicate'"
	run "$LOOM" cron next "0 3 * * *" -o yaml
	assert_failure 2
}

@test "missing or extra arguments are usage errors" {
	run "$LOOM" cron
	assert_failure 2
	run "$LOOM" cron next
	assert_failure 2
	assert_output --partial "missing cron expression"
	run "$LOOM" cron later "0 3 * * *"
	assert_failure 2
	run "$LOOM" cron next 0 3 '*' '*' '*'
	assert_failure 2
	assert_output --partial "quote the expression"
}

@test "-n 1000 is allowed and prints 1000 lines" {
	run "$LOOM" cron next "* * * * *" --from 2026-11-26 -n 1000
	assert_success
	assert_equal "${#lines[@]}" 1000
	assert_line --index 999 "2026-11-26T16:40:00Z"
}
