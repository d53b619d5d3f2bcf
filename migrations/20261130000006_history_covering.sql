-- The rollup tiers answer history from their primary key alone (index-only scans).
--
-- A minute (hour) row of one coin and pair is written with the rows of every other coin and pair
-- of that minute, so the rows one history answer needs lie one per heap page: a 7-day `1m`
-- answer of the full universe read ~10,000 scattered pages. With every column the answer reads
-- INCLUDEd in the primary key, the answer is one contiguous range of index leaf pages (once
-- autovacuum has marked the pages all-visible, which insert-only partitions get by themselves).
-- Cost: a wider index (bytes per row in README "Performance"). The key columns, and so the
-- idempotency key of the rollup upserts (`ON CONFLICT (coin_id, korea_venue, foreign_venue,
-- bucket)`), are unchanged. The partitions' indexes are rebuilt here: this takes as long as
-- building the index of every row already rolled up.

ALTER TABLE premium_1m
    DROP CONSTRAINT premium_1m_pkey,
    ADD PRIMARY KEY (coin_id, korea_venue, foreign_venue, bucket)
        INCLUDE (count, open, high, low, close, usdt_open, usdt_high, usdt_low, usdt_close,
                 entry_close, exit_close);

ALTER TABLE premium_1h
    DROP CONSTRAINT premium_1h_pkey,
    ADD PRIMARY KEY (coin_id, korea_venue, foreign_venue, bucket)
        INCLUDE (count, open, high, low, close, usdt_open, usdt_high, usdt_low, usdt_close,
                 entry_close, exit_close);
