-- Whether a premium the sanity gate flagged `suspect` (far from its pair's median, served with
-- the reason) may fire the rule. Existing rules keep firing on every served premium, as before.
ALTER TABLE alert_rules ADD COLUMN allow_suspect BOOLEAN NOT NULL DEFAULT true;
