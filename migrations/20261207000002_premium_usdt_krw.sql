-- USDT/KRW per Korean venue and tick (issue 21): each Korean venue has its own KRW-USDT price,
-- the FX of its tether premium, so it is stored on each premium row (`premiums.usdt_krw`, the
-- price of the row's Korean venue). `premium_ticks.usdt_krw` held one value per tick, taken from
-- the tick's first row, so every other Korean venue's rows carried that venue's rate.
--
-- Existing rows lose nothing:
-- * `premium_ticks.usdt_krw` stays as it was (no longer written: NULL from now on). On rows
--   from before this migration it is the KRW-USDT price of one Korean venue of the tick.
-- * A row whose own tether premium was computed from that price (its `usdt_rate` recomputed from
--   `korea_krw`, `foreign_usd` and the tick's `usdt_krw`, within the rounding of `usdt_rate`)
--   gets it as its `usdt_krw`: the value was its venue's. The other rows of those ticks keep
--   NULL: their venue's price was not stored.

ALTER TABLE premiums ADD COLUMN usdt_krw numeric CHECK (usdt_krw > 0);

UPDATE premiums p
   SET usdt_krw = t.usdt_krw
  FROM premium_ticks t
 WHERE t.ts = p.ts
   AND t.usdt_krw IS NOT NULL
   AND p.usdt_rate IS NOT NULL
   AND abs(p.korea_krw / (p.foreign_usd * t.usdt_krw) - 1 - p.usdt_rate / 100) <= 0.000001;

COMMENT ON COLUMN premiums.usdt_krw IS
    'KRW-USDT price of the row''s Korean venue (its tether premium''s FX); NULL when not known';
COMMENT ON COLUMN premium_ticks.usdt_krw IS
    'Before premiums.usdt_krw existed: the KRW-USDT price of one Korean venue of the tick (the first row''s); no longer written';
