-- History of tickers, FX rates and premiums, and hedged positions.
-- Money is NUMERIC (never float). Primary keys make every insert idempotent: a job re-run after
-- a worker died inserts nothing twice (ON CONFLICT DO NOTHING).

CREATE TABLE IF NOT EXISTS tickers (
    venue       TEXT        NOT NULL,
    coin        TEXT        NOT NULL,
    price       NUMERIC     NOT NULL CHECK (price > 0),
    observed_at TIMESTAMPTZ NOT NULL,
    fetched_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (venue, coin, observed_at)
);
CREATE INDEX IF NOT EXISTS tickers_fetched_at ON tickers (fetched_at);

CREATE TABLE IF NOT EXISTS fx_rates (
    source      TEXT        NOT NULL,
    usd_krw     NUMERIC     NOT NULL CHECK (usd_krw > 0),
    observed_at TIMESTAMPTZ NOT NULL,
    fetched_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, observed_at)
);
CREATE INDEX IF NOT EXISTS fx_rates_fetched_at ON fx_rates (fetched_at);

-- One row per (coin, pair, tick). `ts` is the nominal tick time: the axis of history queries.
CREATE TABLE IF NOT EXISTS premiums (
    coin          TEXT        NOT NULL,
    korea_venue   TEXT        NOT NULL,
    foreign_venue TEXT        NOT NULL,
    ts            TIMESTAMPTZ NOT NULL,
    rate          NUMERIC     NOT NULL,
    usdt_rate     NUMERIC,
    korea_krw     NUMERIC     NOT NULL CHECK (korea_krw > 0),
    foreign_usd   NUMERIC     NOT NULL CHECK (foreign_usd > 0),
    usd_krw       NUMERIC     NOT NULL CHECK (usd_krw > 0),
    fx_source     TEXT        NOT NULL,
    usdt_krw      NUMERIC,
    observed_at   TIMESTAMPTZ NOT NULL,
    computed_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (coin, korea_venue, foreign_venue, ts)
);
CREATE INDEX IF NOT EXISTS premiums_ts ON premiums (ts);

CREATE TABLE IF NOT EXISTS positions (
    id             BIGSERIAL   PRIMARY KEY,
    coin           TEXT        NOT NULL,
    korea_venue    TEXT        NOT NULL,
    foreign_venue  TEXT        NOT NULL,
    korea_qty      NUMERIC     NOT NULL CHECK (korea_qty > 0),
    korea_entry    NUMERIC     NOT NULL CHECK (korea_entry > 0),
    foreign_qty    NUMERIC     NOT NULL CHECK (foreign_qty > 0),
    foreign_entry  NUMERIC     NOT NULL CHECK (foreign_entry > 0),
    leverage       INTEGER     NOT NULL CHECK (leverage BETWEEN 1 AND 125),
    entry_usd_krw  NUMERIC     NOT NULL CHECK (entry_usd_krw > 0),
    entry_premium  NUMERIC     NOT NULL,
    opened_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    closed_at      TIMESTAMPTZ,
    close_pnl_krw  NUMERIC
);
CREATE INDEX IF NOT EXISTS positions_open ON positions (id) WHERE closed_at IS NULL;
