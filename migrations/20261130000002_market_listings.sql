-- The market registry's history: which instrument each coin was on each venue, at which price
-- multiplier, status and flags, from when to when. A history row (a premium at time t) keeps the
-- mapping it was computed with: the listing whose validity covers t. Written by refresh-markets;
-- the registry in force lives in Redis.
CREATE TABLE market_listings (
    venue       text        NOT NULL,
    symbol      text        NOT NULL,
    coin        text        NOT NULL,
    multiplier  numeric     NOT NULL,
    status      text        NOT NULL,
    -- comma-separated, sorted (`caution,warning`); '' when none
    flags       text        NOT NULL DEFAULT '',
    valid_from  timestamptz NOT NULL,
    valid_to    timestamptz,
    PRIMARY KEY (venue, symbol, valid_from)
);

-- At most one open (current) row per instrument.
CREATE UNIQUE INDEX market_listings_open ON market_listings (venue, symbol) WHERE valid_to IS NULL;
CREATE INDEX market_listings_by_coin ON market_listings (coin, venue, valid_from);
