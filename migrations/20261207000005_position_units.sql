-- The foreign leg of a position in its instrument's own units. `foreign_qty` and
-- `foreign_entry` stay per coin whatever the position was entered in; `units` says which units
-- the trader wrote, and the instrument with its units (recorded from the registry at entry)
-- converts the leg back. Positions opened before this have no instrument recorded.
ALTER TABLE positions
    ADD COLUMN IF NOT EXISTS units TEXT NOT NULL DEFAULT 'coin'
        CHECK (units IN ('coin', 'contract')),
    ADD COLUMN IF NOT EXISTS foreign_instrument TEXT,
    ADD COLUMN IF NOT EXISTS foreign_price_multiplier NUMERIC
        CHECK (foreign_price_multiplier > 0),
    ADD COLUMN IF NOT EXISTS foreign_coins_per_contract NUMERIC
        CHECK (foreign_coins_per_contract > 0);

ALTER TABLE positions ADD CONSTRAINT positions_contract_whole CHECK (
    (foreign_instrument IS NULL) = (foreign_price_multiplier IS NULL)
    AND (foreign_instrument IS NULL) = (foreign_coins_per_contract IS NULL)
);
ALTER TABLE positions ADD CONSTRAINT positions_contract_units_name_the_instrument
    CHECK (units = 'coin' OR foreign_instrument IS NOT NULL);
