"""The logger's SQL: plain statements for asyncpg (app/conversation_logging/jobs.py)."""

# Lease the conversation ($2 seconds) and read what the decision needs: the workspace's
# settings, its connection and its respond.io token.
CLAIM = """
WITH claimed AS (
    UPDATE logged_conversations AS c
    SET lease_until = now() + make_interval(secs => $2)
    WHERE c.id = (
        SELECT id FROM logged_conversations
        WHERE id = $1 AND status = 'pending' AND (lease_until IS NULL OR lease_until < now())
        FOR UPDATE SKIP LOCKED
    )
    RETURNING c.*
)
SELECT claimed.*,
       s.conversation_logging_enabled, s.conversation_logging_min_messages,
       s.leads_enabled, s.phone_matching,
       con.status AS connection_status, con.organization_id, con.instance_url,
       r.api_token_encrypted
FROM claimed
LEFT JOIN workspace_settings AS s ON s.workspace_id = claimed.workspace_id
LEFT JOIN salesforce_connections AS con ON con.workspace_id = claimed.workspace_id
LEFT JOIN respondio_credentials AS r ON r.workspace_id = claimed.workspace_id
"""

LEASE = "SELECT status, lease_until FROM logged_conversations WHERE id = $1"

# The Task to write, decided once: a retry writes exactly this.
PLAN = """
UPDATE logged_conversations
SET record_id = $2, owner_id = $3, subject = $4, description = $5, activity_date = $6
WHERE id = $1 AND status = 'pending'
"""

# Set just before the Task is sent: a later attempt looks for the Task before sending again.
# Only when the marker is still what this attempt saw ($2): an attempt whose lease ran out
# while another took over finds it moved on and sends nothing. The lease is renewed ($3).
SENT = """
UPDATE logged_conversations
SET task_sent_at = clock_timestamp(), lease_until = now() + make_interval(secs => $3)
WHERE id = $1 AND status = 'pending' AND task_sent_at IS NOT DISTINCT FROM $2
RETURNING id
"""

# The outcome: $2 status, $3 reason, $4 task id, $5 task url. The event and the transcript
# (personal data) are kept only while someone may have to look at them: a failed row.
SETTLE = """
UPDATE logged_conversations
SET status = $2::text, reason = $3, task_id = $4, task_url = $5, lease_until = NULL,
    processed_at = now(), next_attempt_at = NULL,
    description = CASE WHEN $2::text = 'failed' THEN description END,
    event = CASE WHEN $2::text = 'failed' THEN event ELSE '{}'::jsonb END
WHERE id = $1 AND status = 'pending'
"""

# Still pending, tried again at $2 ($3: the note shown as its reason meanwhile; $4 when not
# null replaces the attempts).
RESCHEDULE = """
UPDATE logged_conversations
SET lease_until = NULL, next_attempt_at = $2, reason = $3, attempts = COALESCE($4, attempts)
WHERE id = $1 AND status = 'pending'
"""

# Pending conversations overdue by $1 seconds with no live lease: their job was lost (its
# re-queue failed, e.g. while the database was cut); queued again (deduplicated).
STRANDED = """
SELECT id FROM logged_conversations
WHERE status = 'pending' AND (lease_until IS NULL OR lease_until < now())
  AND next_attempt_at < now() - make_interval(secs => $1)
ORDER BY next_attempt_at LIMIT 1000
"""

# The Task in the 9.4 list of activities (GET .../activities?record_id=): the same external
# id answers the same Task to a hand-made POST .../activities.
ACTIVITY = """
INSERT INTO logged_activities (workspace_id, organization_id, external_id, record_id, marker,
                               subject, occurred_at, status, task_id, created_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, 'created', $8, 'respond.io')
ON CONFLICT (workspace_id, external_id) DO NOTHING
"""
