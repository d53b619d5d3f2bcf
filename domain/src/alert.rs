//! Premium alerts: what a rule watches ([`Metric`] of a [`Premium`], [`Op`] against a
//! threshold) and the crossing logic with hysteresis ([`Rule::decide`]). The armed state itself
//! lives in Redis (the worker changes it in one script with the firing's outbox entry); this
//! module only says, for one value, whether the rule may fire or may re-arm.

use std::{fmt, str::FromStr};

use chrono::{DateTime, FixedOffset, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::{Coin, FxSource, Premium, VenuePair, display_rate};

/// Which number of a premium a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// The premium on the official USD/KRW basis.
    Rate,
    /// The premium on the Korean venue's own USDT/KRW ("tether premium").
    UsdtRate,
    /// Buying Korea at its ask and shorting abroad at the bid (top of both books).
    EntryRate,
    /// Selling Korea at its bid and covering abroad at the ask.
    ExitRate,
}

impl Metric {
    pub const ALL: [Metric; 4] = [
        Metric::Rate,
        Metric::UsdtRate,
        Metric::EntryRate,
        Metric::ExitRate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Rate => "rate",
            Metric::UsdtRate => "usdt_rate",
            Metric::EntryRate => "entry_rate",
            Metric::ExitRate => "exit_rate",
        }
    }

    /// The value of this metric in `p`, when `p` has it (no USDT price, no books).
    pub fn of(self, p: &Premium) -> Option<Decimal> {
        match self {
            Metric::Rate => Some(p.rate),
            Metric::UsdtRate => p.usdt_rate,
            Metric::EntryRate => p.executable.as_ref().map(|e| e.entry_rate),
            Metric::ExitRate => p.executable.as_ref().map(|e| e.exit_rate),
        }
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Metric {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Metric::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                format!("`{s}` is not a metric: expected rate, usdt_rate, entry_rate or exit_rate")
            })
    }
}

/// Which side of the threshold fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Fires when the value reaches the threshold or more.
    Above,
    /// Fires when the value reaches the threshold or less.
    Below,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Above => "above",
            Op::Below => "below",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Op {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "above" => Ok(Op::Above),
            "below" => Ok(Op::Below),
            _ => Err(format!("`{s}` is not an op: expected above or below")),
        }
    }
}

/// The language of a rule's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    En,
    Ko,
}

impl Language {
    pub fn as_str(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Ko => "ko",
        }
    }
}

impl FromStr for Language {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "en" => Ok(Language::En),
            "ko" => Ok(Language::Ko),
            _ => Err(format!("`{s}` is not a language: expected en or ko")),
        }
    }
}

/// Which coins a rule watches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CoinFilter {
    /// `*`: every tracked coin of the pair.
    Any,
    One(Coin),
}

impl CoinFilter {
    pub fn matches(&self, coin: &Coin) -> bool {
        match self {
            CoinFilter::Any => true,
            CoinFilter::One(c) => c == coin,
        }
    }
}

impl fmt::Display for CoinFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoinFilter::Any => f.write_str("*"),
            CoinFilter::One(c) => write!(f, "{c}"),
        }
    }
}

/// What a value means for a rule: it may fire (it is at or past the threshold), it may re-arm
/// the rule (it came back past threshold ∓ hysteresis), or neither (inside the band).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Fire,
    Rearm,
    Hold,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Fire => "fire",
            Decision::Rearm => "rearm",
            Decision::Hold => "hold",
        }
    }
}

/// What is evaluated against each premium: the condition of a rule, without its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub id: i64,
    pub coin: CoinFilter,
    pub pair: VenuePair,
    pub metric: Metric,
    pub op: Op,
    pub threshold: Decimal,
    /// Points back past the threshold before the rule re-arms (≥ 0).
    pub hysteresis: Decimal,
    pub cooldown_secs: u32,
    /// Whether a premium the sanity gate flagged `suspect` may fire the rule (the message then
    /// says so); when false such a premium neither fires nor re-arms it.
    pub allow_suspect: bool,
}

/// Default hysteresis, percentage points.
pub const DEFAULT_HYSTERESIS: Decimal = Decimal::from_parts(2, 0, 0, false, 1);
/// Default cooldown between two firings of a rule, seconds.
pub const DEFAULT_COOLDOWN_SECS: u32 = 300;

impl Rule {
    /// Whether the rule watches this (coin, pair).
    pub fn watches(&self, coin: &Coin, pair: VenuePair) -> bool {
        self.pair == pair && self.coin.matches(coin)
    }

    /// Whether the rule looks at this premium at all: one it watches, and not a `suspect` one
    /// unless the rule allows them.
    pub fn considers(&self, p: &Premium) -> bool {
        self.watches(&p.inputs.coin, p.inputs.pair) && (self.allow_suspect || p.suspect.is_none())
    }

    /// `above`: fire at `value ≥ threshold`, re-arm at `value ≤ threshold − hysteresis`;
    /// `below`: fire at `value ≤ threshold`, re-arm at `value ≥ threshold + hysteresis`.
    pub fn decide(&self, value: Decimal) -> Decision {
        match self.op {
            Op::Above if value >= self.threshold => Decision::Fire,
            Op::Above if value <= self.threshold - self.hysteresis => Decision::Rearm,
            Op::Below if value <= self.threshold => Decision::Fire,
            Op::Below if value >= self.threshold + self.hysteresis => Decision::Rearm,
            _ => Decision::Hold,
        }
    }
}

/// What one firing saw: written by `compute-premium` in the same Redis script that disarms the
/// rule, read by its `deliver-alert` job (every attempt sends the same message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Firing {
    pub rule_id: i64,
    pub coin: Coin,
    pub pair: VenuePair,
    pub metric: Metric,
    pub op: Op,
    pub value: Decimal,
    pub threshold: Decimal,
    pub korea_krw: Decimal,
    /// Which price `korea_krw` is (the book mid for an illiquid coin's old last trade).
    #[serde(default)]
    pub korea_price_source: crate::PriceSource,
    pub foreign_usd: Decimal,
    pub usd_krw: Decimal,
    pub fx_source: FxSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usdt_krw: Option<Decimal>,
    /// When the premium was computed.
    pub at: DateTime<Utc>,
    /// The compute-premium tick that fired.
    pub tick: i64,
    /// Why the premium was flagged `suspect`, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspect: Option<String>,
}

impl Firing {
    /// The firing of `rule` on premium `p` whose metric is `value`.
    pub fn of(rule: &Rule, p: &Premium, value: Decimal, tick: i64) -> Firing {
        Firing {
            rule_id: rule.id,
            coin: p.inputs.coin.clone(),
            pair: p.inputs.pair,
            metric: rule.metric,
            op: rule.op,
            value,
            threshold: rule.threshold,
            korea_krw: p.inputs.korea_krw.value(),
            korea_price_source: p.inputs.korea_price_source,
            foreign_usd: p.inputs.foreign_usd.value(),
            usd_krw: p.inputs.usd_krw.value(),
            fx_source: p.inputs.fx_source,
            usdt_krw: p.inputs.usdt_krw.map(|u| u.value()),
            at: p.computed_at,
            tick,
            suspect: p.suspect.clone(),
        }
    }

    /// The dashboard row of the coin and pair under `public_url`.
    pub fn link(&self, public_url: &str) -> String {
        format!(
            "{}/?coin={}&pair={}",
            public_url.trim_end_matches('/'),
            self.coin,
            self.pair
        )
    }

    /// The human message, in `lang`, with the link when `public_url` is set.
    pub fn text(&self, lang: Language, public_url: Option<&str>) -> String {
        let fx = self.fx_source.as_str();
        let value = display_rate(self.value);
        let threshold = self.threshold.normalize();
        // An illiquid coin's Korean price is its book mid, and the message says so.
        let mid = self.korea_price_source == crate::PriceSource::BookMid;
        let (k, f, usd) = (
            self.korea_krw.normalize(),
            self.foreign_usd.normalize(),
            self.usd_krw.normalize(),
        );
        let mut text = match lang {
            Language::En => {
                let dir = match self.op {
                    Op::Above => "above",
                    Op::Below => "below",
                };
                format!(
                    "{coin} {metric} {dir} {threshold} %: now {value} % ({pair})\n\
                     Korea {k} KRW{src} · foreign {f} USD · USD/KRW {usd} ({fx})\n{at}",
                    src = if mid { " (book mid)" } else { "" },
                    coin = self.coin,
                    metric = self.metric,
                    pair = self.pair,
                    at = self.at.format("%Y-%m-%d %H:%M:%S UTC"),
                )
            }
            Language::Ko => {
                let dir = match self.op {
                    Op::Above => "이상",
                    Op::Below => "이하",
                };
                let metric = match self.metric {
                    Metric::Rate => "김치 프리미엄",
                    Metric::UsdtRate => "테더 프리미엄",
                    Metric::EntryRate => "진입 프리미엄",
                    Metric::ExitRate => "청산 프리미엄",
                };
                let kst = FixedOffset::east_opt(9 * 3600).expect("KST offset");
                format!(
                    "{coin} {metric} {threshold} % {dir}: 현재 {value} % ({pair})\n\
                     국내 {k} KRW{src} · 해외 {f} USD · 환율 {usd} ({fx})\n{at}",
                    src = if mid { " (호가 중간값)" } else { "" },
                    coin = self.coin,
                    pair = self.pair,
                    at = self.at.with_timezone(&kst).format("%Y-%m-%d %H:%M:%S KST"),
                )
            }
        };
        if let Some(why) = &self.suspect {
            let head = match lang {
                Language::En => "⚠ suspect",
                Language::Ko => "⚠ 이상치 의심",
            };
            text.push_str(&format!("\n{head}: {why}"));
        }
        if let Some(url) = public_url {
            text.push('\n');
            text.push_str(&self.link(url));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Venue;
    use rust_decimal_macros::dec;

    fn rule(op: Op) -> Rule {
        Rule {
            id: 1,
            coin: CoinFilter::Any,
            pair: VenuePair::new(Venue::Upbit, Venue::Binance).unwrap(),
            metric: Metric::Rate,
            op,
            threshold: dec!(3.0),
            hysteresis: DEFAULT_HYSTERESIS,
            cooldown_secs: DEFAULT_COOLDOWN_SECS,
            allow_suspect: true,
        }
    }

    #[test]
    fn above_fires_at_the_threshold_and_rearms_only_past_the_band() {
        let r = rule(Op::Above);
        assert_eq!(DEFAULT_HYSTERESIS, dec!(0.2));
        assert_eq!(r.decide(dec!(3.0)), Decision::Fire);
        assert_eq!(r.decide(dec!(3.1)), Decision::Fire);
        assert_eq!(r.decide(dec!(2.9)), Decision::Hold);
        assert_eq!(r.decide(dec!(2.81)), Decision::Hold);
        assert_eq!(r.decide(dec!(2.8)), Decision::Rearm);
    }

    #[test]
    fn below_is_the_mirror_image() {
        let r = rule(Op::Below);
        assert_eq!(r.decide(dec!(3.0)), Decision::Fire);
        assert_eq!(r.decide(dec!(3.1)), Decision::Hold);
        assert_eq!(r.decide(dec!(3.2)), Decision::Rearm);
    }

    #[test]
    fn messages_carry_the_value_the_threshold_the_inputs_and_the_link() {
        let f = Firing {
            rule_id: 7,
            coin: Coin::parse("BTC").unwrap(),
            pair: VenuePair::new(Venue::Upbit, Venue::Binance).unwrap(),
            metric: Metric::Rate,
            op: Op::Above,
            value: dec!(3.1234),
            threshold: dec!(3.0),
            korea_krw: dec!(129555000),
            korea_price_source: crate::PriceSource::LastTrade,
            foreign_usd: dec!(89277.1),
            usd_krw: dec!(1432.6),
            fx_source: FxSource::Dunamu,
            usdt_krw: None,
            at: DateTime::from_timestamp(1_796_029_200, 0).unwrap(),
            tick: 1_796_029_200,
            suspect: None,
        };
        let en = f.text(Language::En, Some("https://kimp.example/"));
        assert!(
            en.starts_with("BTC rate above 3 %: now 3.12 % (upbit-binance)"),
            "{en}"
        );
        assert!(en.contains("Korea 129555000 KRW · foreign 89277.1 USD · USD/KRW 1432.6 (dunamu)"));
        assert!(en.contains("2026-11-30 09:00:00 UTC"));
        assert!(en.ends_with("https://kimp.example/?coin=BTC&pair=upbit-binance"));
        let ko = f.text(Language::Ko, None);
        assert!(
            ko.starts_with("BTC 김치 프리미엄 3 % 이상: 현재 3.12 %"),
            "{ko}"
        );
        assert!(ko.contains("2026-11-30 18:00:00 KST"));
        assert!(!ko.contains("http"));
        assert!(!en.contains("suspect") && !en.contains("mid"));
        let mid = Firing {
            korea_price_source: crate::PriceSource::BookMid,
            ..f.clone()
        };
        let en_mid = mid.text(Language::En, None);
        assert!(
            en_mid.contains("Korea 129555000 KRW (book mid) · foreign"),
            "{en_mid}"
        );
        let ko_mid = mid.text(Language::Ko, None);
        assert!(
            ko_mid.contains("국내 129555000 KRW (호가 중간값) · 해외"),
            "{ko_mid}"
        );
        let why = "premium 51.00 % is 49.50 points from the upbit-binance median 1.50 (limit 20)";
        let f = Firing {
            suspect: Some(why.into()),
            ..f
        };
        let en = f.text(Language::En, Some("https://kimp.example/"));
        assert!(en.contains(&format!("\n⚠ suspect: {why}\n")), "{en}");
        assert!(
            f.text(Language::Ko, None)
                .ends_with(&format!("⚠ 이상치 의심: {why}"))
        );
    }

    #[test]
    fn names_round_trip() {
        for m in Metric::ALL {
            assert_eq!(m.as_str().parse::<Metric>().unwrap(), m);
        }
        assert!("price".parse::<Metric>().is_err());
        assert_eq!("below".parse::<Op>().unwrap(), Op::Below);
        assert_eq!("ko".parse::<Language>().unwrap(), Language::Ko);
    }
}
