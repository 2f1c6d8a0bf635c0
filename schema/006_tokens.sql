-- Link Loom schema, migration 006: API bearer tokens.
--
-- A token is "loom_<id>_<secret>": id is 12 hex digits (the public handle
-- that `loom token list` shows and `loom token revoke` takes), secret 64
-- hex digits (256 random bits from getrandom).  Only the SHA-256 of the
-- whole token is stored (lib/store/token.c), so a copy of this table does not
-- give anyone access; loom-api looks the row up by id and compares the
-- hash in constant time.  The plain token is shown once, at creation.
--
-- scope: read (every GET), operator (read plus every action: trigger,
-- cancel, retry, apply, ...), admin (operator plus token management).
-- A token stops working when revoked_at or expires_at is set and past;
-- rows are kept for the audit trail.  last_used_at is refreshed at most
-- once a minute per token, so authentication is not a write per request.

CREATE TABLE api_tokens (
	id		text PRIMARY KEY
			CHECK (id ~ '^[0-9a-f]{12}$'),
	name		text NOT NULL
			CHECK (length(name) BETWEEN 1 AND 128),
	scope		text NOT NULL
			CHECK (scope IN ('read', 'operator', 'admin')),
	hash		text NOT NULL
			CHECK (hash ~ '^[0-9a-f]{64}$'),
	created_at	timestamptz NOT NULL DEFAULT now(),
	last_used_at	timestamptz,
	expires_at	timestamptz,
	revoked_at	timestamptz
);
CREATE INDEX api_tokens_created ON api_tokens (created_at);
