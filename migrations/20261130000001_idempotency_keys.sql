-- Idempotency-Key of POST /api/v1/positions: the key, the canonical request it was first used
-- with, and the position it created. Rows are kept 24 h (older ones are purged and ignored).
CREATE TABLE idempotency_keys (
    key         TEXT        PRIMARY KEY,
    request     TEXT        NOT NULL,
    position_id BIGINT      NOT NULL REFERENCES positions (id) ON DELETE CASCADE,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
