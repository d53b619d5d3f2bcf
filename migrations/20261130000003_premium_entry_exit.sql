-- The executable premium: entry (buy Korea at the ask, short abroad at the bid) and exit (sell
-- Korea at the bid, cover abroad at the ask) rates at the top of both books, when both books
-- were fetched. History buckets report their closes beside the last-price rate.
ALTER TABLE premiums ADD COLUMN IF NOT EXISTS entry_rate NUMERIC;
ALTER TABLE premiums ADD COLUMN IF NOT EXISTS exit_rate NUMERIC;
