-- Premium alert rules (POST /api/v1/alerts) and their firings. The armed state of a rule lives in
-- Redis (`{p}:alert:{id}`); this is the durable part: the rule, its target and what each firing's
-- delivery did. A webhook secret is stored encrypted (ChaCha20-Poly1305, 12-byte nonce first,
-- key `alerts.secret_key`), never in clear: a dump of this table alone does not reveal it.
CREATE TABLE alert_rules (
    id              BIGSERIAL   PRIMARY KEY,
    -- a coin, or '*' for every tracked coin of the pair
    coin            TEXT        NOT NULL,
    korea_venue     TEXT        NOT NULL,
    foreign_venue   TEXT        NOT NULL,
    metric          TEXT        NOT NULL CHECK (metric IN ('rate', 'usdt_rate', 'entry_rate', 'exit_rate')),
    op              TEXT        NOT NULL CHECK (op IN ('above', 'below')),
    threshold       NUMERIC     NOT NULL,
    hysteresis      NUMERIC     NOT NULL CHECK (hysteresis >= 0),
    cooldown_secs   INTEGER     NOT NULL CHECK (cooldown_secs >= 0),
    -- NULL: the deployment's alerts.language
    language        TEXT        CHECK (language IN ('en', 'ko')),
    webhook_url     TEXT,
    webhook_secret  BYTEA,
    telegram_chat   TEXT,
    -- set when a receiver answered 410 Gone: the rule no longer fires
    disabled_at     TIMESTAMPTZ,
    disabled_reason TEXT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK ((webhook_url IS NOT NULL AND webhook_secret IS NOT NULL AND telegram_chat IS NULL)
        OR (webhook_url IS NULL AND webhook_secret IS NULL AND telegram_chat IS NOT NULL))
);

-- One row per firing (the deliver-alert job id), updated by every delivery attempt.
CREATE TABLE alert_firings (
    job_id       TEXT        PRIMARY KEY,
    rule_id      BIGINT      NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    seq          BIGINT      NOT NULL,
    coin         TEXT        NOT NULL,
    value        NUMERIC     NOT NULL,
    fired_at     TIMESTAMPTZ NOT NULL,
    -- delivering, retrying, delivered, failed (permanent), dead (every attempt failed)
    state        TEXT        NOT NULL,
    attempts     INTEGER     NOT NULL,
    last_error   TEXT,
    delivered_at TIMESTAMPTZ,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX alert_firings_by_rule ON alert_firings (rule_id, fired_at DESC);
