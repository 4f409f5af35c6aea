"""The job's SQL: plain statements for asyncpg, prepared once per connection (the hot path
of a bulk import builds no statement per job)."""

# Lease the row, set the create marker (keeping whether it was set before), and read the
# workspace's settings, connection and respond.io credential and the row's batch size.
CLAIM = """
WITH target AS (
    SELECT id, create_sent_at AS sent_before
    FROM autocreate_contacts
    WHERE id = $1 AND status = 'pending' AND (lease_until IS NULL OR lease_until < now())
    FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE autocreate_contacts AS a
    SET lease_until = now() + make_interval(secs => $2),
        create_sent_at = COALESCE(a.create_sent_at, now()),
        updated_at = now()
    FROM target
    WHERE a.id = target.id
    RETURNING a.*, target.sent_before
)
SELECT claimed.*,
       s.auto_create_enabled, s.auto_create_add_tag, s.auto_create_include_bulk_imports,
       s.auto_create_enabled_at, s.updated_at AS settings_updated_at,
       c.status AS connection_status, c.organization_id AS connection_organization_id,
       r.api_token_encrypted,
       (SELECT count(*) FROM (
            SELECT 1 FROM autocreate_contacts AS b
            WHERE b.workspace_id = claimed.workspace_id
              AND b.sf_created_by_id = claimed.sf_created_by_id
              AND b.sf_created_at = claimed.sf_created_at
            LIMIT $3) AS same_batch
       ) AS batch_size
FROM claimed
LEFT JOIN workspace_settings AS s ON s.workspace_id = claimed.workspace_id
LEFT JOIN salesforce_connections AS c ON c.workspace_id = claimed.workspace_id
LEFT JOIN respondio_credentials AS r ON r.workspace_id = claimed.workspace_id
"""

# Record an outcome. $4..$7 and $10 change their column only when not null; the create
# marker is kept ($8) or set to $9; the contact's personal data is cleared unless the row failed
# (a failed row keeps it so that it can be retried by hand).
SETTLE = """
UPDATE autocreate_contacts
SET status = $2::text,
    reason = $3,
    lease_until = NULL,
    completed_at = now(),
    updated_at = now(),
    respondio_identifier = COALESCE($4, respondio_identifier),
    bulk_import = COALESCE($5, bulk_import),
    last_error = COALESCE($6, last_error),
    respondio_contact_id = COALESCE($7, respondio_contact_id),
    create_sent_at = CASE WHEN $8 THEN create_sent_at ELSE $9 END,
    attempts = COALESCE($10, attempts),
    first_name = CASE WHEN $2::text = 'failed' THEN first_name END,
    last_name = CASE WHEN $2::text = 'failed' THEN last_name END,
    email = CASE WHEN $2::text = 'failed' THEN email END,
    phone = CASE WHEN $2::text = 'failed' THEN phone END,
    mobile_phone = CASE WHEN $2::text = 'failed' THEN mobile_phone END,
    language = CASE WHEN $2::text = 'failed' THEN language END
WHERE id = $1 AND status = 'pending'
"""

# Back to pending with no lease, due at $2; $3 is the note, $4 (when not null) the attempts.
RESCHEDULE = """
UPDATE autocreate_contacts
SET lease_until = NULL, next_attempt_at = $2, last_error = $3,
    attempts = COALESCE($4, attempts), updated_at = now()
WHERE id = $1 AND status = 'pending'
"""

# No respond.io token yet: park the row as waiting (data kept, lease and create marker put
# back) until the token is set (app/autocreate/waiting.py). $2 reason, $3 the marker before the
# claim, $4 the note, $5 whether it is a bulk import.
WAIT = """
UPDATE autocreate_contacts
SET status = 'waiting', reason = $2, lease_until = NULL, create_sent_at = $3,
    last_error = $4, bulk_import = COALESCE($5, bulk_import), updated_at = now()
WHERE id = $1 AND status = 'pending'
"""
