//! Which venue lists which coin, under which symbol, at which multiplier, in which state: the
//! simulator's listings and the ground truth (`GET /_sim/universe`) derived from them.
//!
//! Two shapes:
//! - **basic** ([`Universe::basic`]): every venue lists every configured coin (BTC, ETH, XRP,
//!   SOL, DOGE, then `SIM001…`) one to one, all trading, no flags. The historical default.
//! - **realistic** ([`Universe::realistic`], `SimConfig::realistic`): ~230 Upbit KRW markets,
//!   ~400 Bithumb, ~520 Binance perps (plus SETTLING ones), ~500 Bybit, ~250 OKX, overlapping the
//!   way real listings do (majors everywhere, a long tail listed on some venues only, Korean-only
//!   coins), built from a table of real tickers and generated ones, seeded. On top of that:
//!   multiplier contracts (`1000PEPE`, `SHIB1000`, `1MBABYDOGE`, `10000SATS`, `1000000MOG`, OKX
//!   `ctVal`), the non-multiplier `1INCH`, a ticker collision (Korean `TON` is Tokamak Network,
//!   foreign `TON` is Toncoin), a rename (`MATIC` → `POL`, Binance keeps `MATICUSDT` SETTLING),
//!   Korean coins under warning / caution / suspended deposits, a SETTLING Binance perp of a
//!   Korean-listed coin, OKX `suspend` and `preopen` rows, and illiquid Korean coins whose last
//!   trade is minutes old.
//!
//! A listing is priced from its *asset* (a coin of the price model): a foreign price is
//! `multiplier × asset price`, a Korean price is the asset's KRW price (always one coin). A
//! Korean listing whose ticker equals a foreign one but whose asset differs is a collision.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use domain::{Region, Venue};
use rand::{Rng, SeedableRng, rngs::SmallRng};
use rust_decimal::{
    Decimal,
    prelude::{FromPrimitive, ToPrimitive},
};
use serde_json::{Value, json};

use crate::{
    hash::{fnv, mix, unit},
    market::decimals,
};

/// Listed coins per venue in the realistic universe (Korean venues: without KRW-USDT).
const TARGETS: [(Venue, usize); 5] = [
    (Venue::Upbit, 229),
    (Venue::Bithumb, 399),
    (Venue::Binance, 520),
    (Venue::Bybit, 500),
    (Venue::Okx, 250),
];
/// Distinct assets the realistic universe draws from.
const POOL: usize = 880;
/// `onboardDate` / `launchTime` of the oldest listings (2019-09-25).
const FIRST_LISTING_MS: i64 = 1_569_398_400_000;

/// A listing's trading state, spelled per venue by [`Status::binance`] and friends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Trading,
    /// Delisted perpetual that stays in Binance's list (`SETTLING`).
    Settling,
    /// OKX `suspend`.
    Suspend,
    /// OKX `preopen` (announced, not trading yet).
    Preopen,
}

impl Status {
    pub(crate) fn trading(self) -> bool {
        self == Status::Trading
    }

    pub(crate) fn binance(self) -> &'static str {
        match self {
            Status::Trading => "TRADING",
            Status::Settling => "SETTLING",
            Status::Suspend => "TRADING_HALT",
            Status::Preopen => "PENDING_TRADING",
        }
    }

    pub(crate) fn bybit(self) -> &'static str {
        match self {
            Status::Trading => "Trading",
            Status::Settling => "Closed",
            Status::Suspend => "Delivering",
            Status::Preopen => "PreLaunch",
        }
    }

    pub(crate) fn okx(self) -> &'static str {
        match self {
            Status::Trading => "live",
            Status::Settling | Status::Suspend => "suspend",
            Status::Preopen => "preopen",
        }
    }
}

/// One instrument of one venue.
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    /// The base as the venue spells it: `1000PEPE`, `SHIB1000`, `PEPE`, `TON`.
    pub native: String,
    /// The coin's ticker on this venue with any multiplier stripped (`PEPE`).
    pub coin: String,
    /// The asset it really is: the price-model coin it is priced from.
    pub asset: String,
    /// Coins per quoted price unit (1000 for `1000PEPEUSDT`); 1 on Korean venues and OKX.
    pub mult: Decimal,
    /// OKX contract value in coins (`ctVal`); 1 elsewhere.
    pub ct_val: Decimal,
    pub status: Status,
    pub onboard_ms: i64,
}

/// Names and per-coin Korean-side facts of an asset.
#[derive(Debug, Clone)]
pub(crate) struct AssetMeta {
    pub english: String,
    pub korean: String,
}

/// A Korean coin's flags (truth `flagged`).
pub(crate) const WARNING: &str = "warning";
pub(crate) const CAUTION: &str = "caution";
pub(crate) const DEPOSIT_SUSPENDED: &str = "deposit_suspended";

#[derive(Debug, Clone)]
pub(crate) struct Universe {
    pub realistic: bool,
    /// Asset key → names; base prices live in the price model.
    pub assets: BTreeMap<String, AssetMeta>,
    listings: BTreeMap<Venue, Vec<Listing>>,
    /// Old ticker → new ticker.
    pub renamed: BTreeMap<String, String>,
    /// Korean coin → flags ([`WARNING`], [`CAUTION`], [`DEPOSIT_SUSPENDED`]).
    pub flagged: BTreeMap<String, Vec<&'static str>>,
    /// Korean coin → how far its last trade lags, ms.
    pub illiquid: BTreeMap<String, i64>,
}

/// The result of `POST /_sim/listings`.
#[derive(Debug)]
pub(crate) enum Change {
    Listed(Listing),
    Delisted(Listing),
}

impl Universe {
    /// Every venue lists every coin of the model, one to one, trading.
    pub(crate) fn basic(coins: &[String]) -> Self {
        let mut listings = BTreeMap::new();
        for venue in Venue::ALL {
            let rows = coins
                .iter()
                .enumerate()
                .map(|(i, c)| plain(c, c, listed_ms(c, i)))
                .collect();
            listings.insert(venue, rows);
        }
        Universe {
            realistic: false,
            assets: coins
                .iter()
                .map(|c| {
                    let meta = AssetMeta {
                        english: c.clone(),
                        korean: c.clone(),
                    };
                    (c.clone(), meta)
                })
                .collect(),
            listings,
            renamed: BTreeMap::new(),
            flagged: BTreeMap::new(),
            illiquid: BTreeMap::new(),
        }
    }

    /// The realistic universe for `seed`; `majors` (the configured coins with their base
    /// prices) are listed on every venue. Returns it with every asset's base USD price.
    pub(crate) fn realistic(
        seed: u64,
        majors: &[(String, Decimal)],
    ) -> (Self, Vec<(String, Decimal)>) {
        Builder::new(seed, majors).build()
    }

    pub(crate) fn listings(&self, venue: Venue) -> &[Listing] {
        self.listings.get(&venue).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The listing of `venue` whose native base (or, failing that, coin) is `symbol`.
    pub(crate) fn find(&self, venue: Venue, symbol: &str) -> Option<&Listing> {
        let rows = self.listings(venue);
        rows.iter()
            .find(|l| l.native == symbol)
            .or_else(|| rows.iter().find(|l| l.coin == symbol))
    }

    pub(crate) fn meta(&self, asset: &str) -> Option<&AssetMeta> {
        self.assets.get(asset)
    }

    /// Korean coins whose ticker a foreign venue uses for a different asset.
    pub(crate) fn collisions(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        for k in Venue::ALL
            .into_iter()
            .filter(|v| v.region() == Region::Korea)
        {
            for l in self.listings(k) {
                let clash = Venue::ALL
                    .into_iter()
                    .filter(|v| v.region() == Region::Foreign)
                    .any(|f| {
                        self.listings(f)
                            .iter()
                            .any(|x| x.coin == l.coin && x.asset != l.asset)
                    });
                if clash {
                    out.insert(l.coin.clone());
                }
            }
        }
        out
    }

    /// `GET /_sim/universe`.
    pub(crate) fn truth(&self) -> Value {
        let mut pairs = serde_json::Map::new();
        for k in [Venue::Upbit, Venue::Bithumb] {
            for f in [Venue::Binance, Venue::Bybit, Venue::Okx] {
                let foreign: BTreeSet<&str> = self
                    .listings(f)
                    .iter()
                    .filter(|l| l.status.trading())
                    .map(|l| l.asset.as_str())
                    .collect();
                let coins: BTreeSet<&str> = self
                    .listings(k)
                    .iter()
                    .filter(|l| l.status.trading() && l.coin == l.asset)
                    .filter(|l| foreign.contains(l.asset.as_str()))
                    .map(|l| l.coin.as_str())
                    .collect();
                pairs.insert(format!("{k}-{f}"), json!(coins));
            }
        }
        let mut multiplied = serde_json::Map::new();
        for f in [Venue::Binance, Venue::Bybit, Venue::Okx] {
            let m: BTreeMap<&str, String> = self
                .listings(f)
                .iter()
                .filter(|l| l.mult != Decimal::ONE)
                .map(|l| (l.coin.as_str(), l.mult.normalize().to_string()))
                .collect();
            multiplied.insert(f.to_string(), json!(m));
        }
        let contract_values: BTreeMap<&str, String> = self
            .listings(Venue::Okx)
            .iter()
            .filter(|l| l.ct_val >= Decimal::from(1_000))
            .map(|l| (l.coin.as_str(), l.ct_val.normalize().to_string()))
            .collect();
        let counts: BTreeMap<&str, usize> = Venue::ALL
            .into_iter()
            .map(|v| (v.as_str(), self.listings(v).len()))
            .collect();
        json!({
            "realistic": self.realistic,
            "pairs": pairs,
            "collisions": self.collisions(),
            "renamed": self.renamed,
            "flagged": self.flagged,
            "illiquid": self.illiquid.keys().collect::<Vec<_>>(),
            "multiplied": multiplied,
            "contract_values": {"okx": contract_values},
            "listings": counts,
        })
    }

    /// Lists `coin` on `venue` (a re-listing of a SETTLING perp trades again); the caller adds
    /// the asset to the price model when it is new.
    pub(crate) fn list(
        &mut self,
        venue: Venue,
        coin: &str,
        mult: Decimal,
    ) -> Result<Change, String> {
        let native = native_symbol(venue, coin, mult);
        let asset = self.asset_for(coin);
        let rows = self.listings.entry(venue).or_default();
        if let Some(l) = rows
            .iter_mut()
            .find(|l| l.native == native || l.coin == coin)
        {
            if l.status.trading() {
                return Err(format!("`{venue}` already lists `{}`", l.native));
            }
            l.status = Status::Trading;
            return Ok(Change::Listed(l.clone()));
        }
        let mut l = plain(&native, coin, chrono::Utc::now().timestamp_millis());
        l.asset = asset;
        l.mult = if venue == Venue::Okx || venue.region() == Region::Korea {
            Decimal::ONE
        } else {
            mult
        };
        if venue == Venue::Okx {
            l.ct_val = mult;
        }
        rows.push(l.clone());
        Ok(Change::Listed(l))
    }

    /// Delists `symbol` (native base or coin) from `venue`: Binance keeps it as SETTLING, every
    /// other venue drops it.
    pub(crate) fn delist(&mut self, venue: Venue, symbol: &str) -> Result<Change, String> {
        let rows = self.listings.entry(venue).or_default();
        let pos = rows
            .iter()
            .position(|l| l.native == symbol)
            .or_else(|| rows.iter().position(|l| l.coin == symbol))
            .ok_or_else(|| format!("`{venue}` does not list `{symbol}`"))?;
        if venue == Venue::Binance {
            if rows[pos].status == Status::Settling {
                return Err(format!("`{venue}` already delisted `{symbol}`"));
            }
            rows[pos].status = Status::Settling;
            return Ok(Change::Delisted(rows[pos].clone()));
        }
        Ok(Change::Delisted(rows.remove(pos)))
    }

    /// The asset a newly listed `coin` is: the one every other venue already prices under that
    /// ticker (a foreign one first), else a new asset of that name.
    fn asset_for(&self, coin: &str) -> String {
        for v in [
            Venue::Binance,
            Venue::Bybit,
            Venue::Okx,
            Venue::Upbit,
            Venue::Bithumb,
        ] {
            if let Some(l) = self.listings(v).iter().find(|l| l.coin == coin) {
                return l.asset.clone();
            }
        }
        coin.to_string()
    }

    /// Registers names for a new asset.
    pub(crate) fn add_asset(&mut self, key: &str) {
        self.assets
            .entry(key.to_string())
            .or_insert_with(|| AssetMeta {
                english: title(key),
                korean: title(key),
            });
    }
}

/// A venue's base symbol for `coin` at `mult` (`1000PEPE`, `1MBABYDOGE`, `SHIB1000`, `PEPE`).
fn native_symbol(venue: Venue, coin: &str, mult: Decimal) -> String {
    if mult == Decimal::ONE || venue == Venue::Okx || venue.region() == Region::Korea {
        return coin.to_string();
    }
    let m = mult.normalize().to_string();
    if venue == Venue::Binance && m == "1000000" && coin == "BABYDOGE" {
        return format!("1M{coin}");
    }
    format!("{m}{coin}")
}

fn plain(native: &str, coin: &str, onboard_ms: i64) -> Listing {
    Listing {
        native: native.to_string(),
        coin: coin.to_string(),
        asset: coin.to_string(),
        mult: Decimal::ONE,
        ct_val: Decimal::ONE,
        status: Status::Trading,
        onboard_ms,
    }
}

/// A deterministic listing date between 2019-09 and 2026-01.
fn listed_ms(coin: &str, rank: usize) -> i64 {
    let span = 6.3 * 365.0 * 86_400_000.0;
    let u = unit(mix(&[fnv(coin), 0x11]));
    let bias = (rank as f64 / POOL as f64).min(1.0);
    let days = ((u * 0.4 + bias * 0.6) * span / 86_400_000.0).floor() as i64;
    FIRST_LISTING_MS + days * 86_400_000
}

fn title(s: &str) -> String {
    let lower = s.to_ascii_lowercase();
    let mut c = lower.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap_or(Decimal::ONE)
}

/// Real tickers: (ticker, English name, Korean name, USD price). The head of the popularity
/// order after the configured majors.
const REAL: &[(&str, &str, &str, &str)] = &[
    ("ADA", "Cardano", "에이다", "0.62"),
    ("TRX", "TRON", "트론", "0.27"),
    ("AVAX", "Avalanche", "아발란체", "24.1"),
    ("LINK", "Chainlink", "체인링크", "14.3"),
    ("DOT", "Polkadot", "폴카닷", "4.1"),
    ("BCH", "Bitcoin Cash", "비트코인캐시", "452"),
    ("LTC", "Litecoin", "라이트코인", "88.4"),
    ("NEAR", "NEAR Protocol", "니어프로토콜", "2.71"),
    ("UNI", "Uniswap", "유니스왑", "7.9"),
    ("APT", "Aptos", "앱토스", "4.6"),
    ("SUI", "Sui", "수이", "3.12"),
    ("ETC", "Ethereum Classic", "이더리움클래식", "18.2"),
    ("XLM", "Stellar", "스텔라루멘", "0.31"),
    ("HBAR", "Hedera", "헤데라", "0.19"),
    ("ARB", "Arbitrum", "아비트럼", "0.41"),
    ("OP", "Optimism", "옵티미즘", "0.72"),
    ("ATOM", "Cosmos", "코스모스", "4.4"),
    ("FIL", "Filecoin", "파일코인", "2.6"),
    ("AAVE", "Aave", "에이브", "262"),
    ("SEI", "Sei", "세이", "0.28"),
    ("STX", "Stacks", "스택스", "0.66"),
    ("INJ", "Injective", "인젝티브", "12.7"),
    ("IMX", "Immutable", "이뮤터블엑스", "0.58"),
    ("GRT", "The Graph", "더그래프", "0.091"),
    ("ALGO", "Algorand", "알고랜드", "0.22"),
    ("SAND", "The Sandbox", "샌드박스", "0.27"),
    ("MANA", "Decentraland", "디센트럴랜드", "0.29"),
    ("AXS", "Axie Infinity", "엑시인피니티", "2.41"),
    ("EOS", "EOS", "이오스", "0.55"),
    ("XTZ", "Tezos", "테조스", "0.71"),
    ("THETA", "Theta Token", "쎄타토큰", "0.83"),
    ("CHZ", "Chiliz", "칠리즈", "0.041"),
    ("ENS", "Ethereum Name Service", "이더리움네임서비스", "19.8"),
    ("CRV", "Curve", "커브", "0.71"),
    ("SUSHI", "SushiSwap", "스시스왑", "0.72"),
    ("COMP", "Compound", "컴파운드", "41.5"),
    ("ZRX", "0x Protocol", "제로엑스", "0.26"),
    ("BAT", "Basic Attention Token", "베이직어텐션토큰", "0.15"),
    ("ZIL", "Zilliqa", "질리카", "0.012"),
    ("IOTA", "IOTA", "아이오타", "0.19"),
    ("QTUM", "Qtum", "퀀텀", "2.3"),
    ("NEO", "NEO", "네오", "5.8"),
    ("ONT", "Ontology", "온톨로지", "0.15"),
    ("ICX", "ICON", "아이콘", "0.11"),
    ("KAVA", "Kava", "카바", "0.38"),
    ("FLOW", "Flow", "플로우", "0.44"),
    ("EGLD", "MultiversX", "멀티버스엑스", "14.9"),
    ("MINA", "Mina", "미나", "0.34"),
    ("ANKR", "Ankr", "앵커", "0.018"),
    ("STORJ", "Storj", "스토리지", "0.27"),
    ("GLM", "Golem", "골렘", "0.24"),
    ("SNT", "Status", "스테이터스네트워크토큰", "0.021"),
    ("ARKM", "Arkham", "아캄", "0.42"),
    ("BLUR", "Blur", "블러", "0.081"),
    ("WLD", "Worldcoin", "월드코인", "0.91"),
    ("JUP", "Jupiter", "주피터", "0.47"),
    ("PYTH", "Pyth Network", "피스네트워크", "0.12"),
    ("TIA", "Celestia", "셀레스티아", "1.62"),
    ("ONDO", "Ondo", "온도파이낸스", "0.83"),
    ("ENA", "Ethena", "에테나", "0.44"),
    ("W", "Wormhole", "웜홀", "0.091"),
    ("ZRO", "LayerZero", "레이어제로", "1.93"),
    ("STRK", "Starknet", "스타크넷", "0.13"),
    ("MEW", "cat in a dogs world", "캣인어독스월드", "0.0028"),
    ("WIF", "dogwifhat", "도그위프햇", "0.81"),
    ("TRUMP", "OFFICIAL TRUMP", "오피셜트럼프", "8.2"),
    ("RENDER", "Render", "렌더토큰", "3.4"),
    ("AUCTION", "Bounce", "바운스토큰", "9.7"),
    ("ID", "SPACE ID", "스페이스아이디", "0.16"),
    ("ALT", "AltLayer", "알트레이어", "0.031"),
    ("GAS", "Gas", "가스", "2.9"),
    ("CELO", "Celo", "셀로", "0.33"),
    ("ASTR", "Astar", "아스타", "0.028"),
    ("AERGO", "Aergo", "아르고", "0.11"),
    ("HIVE", "Hive", "하이브", "0.21"),
    ("STEEM", "Steem", "스팀", "0.14"),
    ("ARDR", "Ardor", "아더", "0.071"),
    ("CVC", "Civic", "시빅", "0.091"),
    ("POWR", "Powerledger", "파워렛저", "0.17"),
    ("SXP", "Solar", "솔라", "0.16"),
    ("T", "Threshold", "쓰레스홀드", "0.015"),
    ("BIGTIME", "Big Time", "빅타임", "0.061"),
    ("PENDLE", "Pendle", "펜들", "3.9"),
    ("ETHFI", "ether.fi", "이더파이", "0.88"),
    ("MOVE", "Movement", "무브먼트", "0.11"),
    ("ME", "Magic Eden", "매직에덴", "0.71"),
    ("VANA", "Vana", "바나", "5.1"),
    ("USUAL", "Usual", "유니버설", "0.061"),
    ("LAYER", "Solayer", "솔레이어", "0.53"),
];

/// Coins placed by hand (multipliers, the collision, the rename, a delisted perp); the fill
/// leaves them alone.
const SPECIALS: &[(&str, &str, &str, &str)] = &[
    ("PEPE", "Pepe", "페페", "0.0000098"),
    ("SHIB", "Shiba Inu", "시바이누", "0.0000121"),
    ("BONK", "Bonk", "봉크", "0.0000183"),
    ("FLOKI", "FLOKI", "플로키", "0.000081"),
    (
        "BABYDOGE",
        "Baby Doge Coin",
        "베이비도지코인",
        "0.00000000131",
    ),
    ("SATS", "SATS (Ordinals)", "사츠", "0.0000000412"),
    ("MOG", "Mog Coin", "모그코인", "0.00000061"),
    ("LUNC", "Terra Classic", "테라클래식", "0.000061"),
    ("1INCH", "1inch", "1인치네트워크", "0.23"),
    ("TON", "Toncoin", "톤코인", "3.21"),
    ("TOKAMAK", "Tokamak Network", "토카막네트워크", "0.52"),
    (
        "POL",
        "Polygon Ecosystem Token",
        "폴리곤에코시스템토큰",
        "0.21",
    ),
    ("MATIC", "Polygon", "폴리곤", "0.38"),
    ("WAVES", "Waves", "웨이브", "1.02"),
];

/// Korean-only real tickers (no foreign perp): (ticker, English name, Korean name, USD price).
const KOREAN_ONLY: &[(&str, &str, &str, &str)] = &[
    ("MED", "Medibloc", "메디블록", "0.0061"),
    ("META", "Metadium", "메타디움", "0.021"),
    ("BORA", "BORA", "보라", "0.071"),
    ("HUNT", "Hunt", "헌트", "0.21"),
    ("MBL", "MovieBloc", "무비블록", "0.0019"),
    ("UPP", "Sentinel Protocol", "센티넬프로토콜", "0.041"),
    ("AHT", "AhaToken", "아하토큰", "0.0021"),
    ("MLK", "MiL.k", "밀크", "0.17"),
    ("CBK", "Cobak Token", "코박토큰", "0.41"),
    ("FCT2", "FirmaChain", "피르마체인", "0.031"),
    ("GRND", "SuperWalk", "슈퍼워크", "0.061"),
    ("WEMIX", "WEMIX", "위믹스", "0.62"),
];

/// A coin the builder places.
struct Entry {
    key: String,
    base: Decimal,
    english: String,
    korean: String,
    korea_only: bool,
}

struct Builder {
    seed: u64,
    majors: Vec<(String, Decimal)>,
    entries: Vec<Entry>,
    index: HashMap<String, usize>,
    u: Universe,
}

impl Builder {
    fn new(seed: u64, majors: &[(String, Decimal)]) -> Self {
        Builder {
            seed,
            majors: majors.to_vec(),
            entries: Vec::new(),
            index: HashMap::new(),
            u: Universe {
                realistic: true,
                assets: BTreeMap::new(),
                listings: Venue::ALL.into_iter().map(|v| (v, Vec::new())).collect(),
                renamed: BTreeMap::new(),
                flagged: BTreeMap::new(),
                illiquid: BTreeMap::new(),
            },
        }
    }

    fn add(&mut self, key: &str, english: &str, korean: &str, base: Decimal, korea_only: bool) {
        if self.index.contains_key(key) {
            return;
        }
        self.index.insert(key.to_string(), self.entries.len());
        self.entries.push(Entry {
            key: key.to_string(),
            base,
            english: english.to_string(),
            korean: korean.to_string(),
            korea_only,
        });
    }

    /// Puts a listing on `venue` (priced from `asset`, trading).
    fn put(
        &mut self,
        venue: Venue,
        native: &str,
        coin: &str,
        asset: &str,
        mult: &str,
    ) -> &mut Listing {
        let rank = self.index.get(asset).copied().unwrap_or(POOL);
        let mut l = plain(native, coin, listed_ms(native, rank));
        l.asset = asset.to_string();
        if venue == Venue::Okx {
            l.ct_val = d(mult);
        } else {
            l.mult = d(mult);
        }
        let rows = self.u.listings.entry(venue).or_default();
        rows.push(l);
        rows.last_mut().expect("just pushed")
    }

    fn lists(&self, venue: Venue, asset: &str) -> bool {
        self.u
            .listings(venue)
            .iter()
            .any(|l| l.asset == asset || l.coin == asset)
    }

    fn build(mut self) -> (Universe, Vec<(String, Decimal)>) {
        // The pool, most popular first: the configured majors, the special cases, real tickers,
        // Korean-only real tickers, then generated ones.
        for (c, base) in self.majors.clone() {
            let (e, k) = names_of(&c);
            self.add(&c, &e, &k, base, false);
        }
        for &(c, e, k, p) in SPECIALS {
            self.add(c, e, k, d(p), false);
        }
        for &(c, e, k, p) in REAL {
            self.add(c, e, k, d(p), false);
        }
        for &(c, e, k, p) in KOREAN_ONLY {
            self.add(c, e, k, d(p), true);
        }
        let mut rng = SmallRng::seed_from_u64(mix(&[self.seed, 0x0001_115e]));
        let mut n = 0u64;
        while self.entries.len() < POOL {
            n += 1;
            let name = generated_name(n);
            if self.index.contains_key(&name) || name.starts_with("SIM") {
                continue;
            }
            let usd = 10f64.powf(rng.random_range(-4.0..1.8));
            let base = Decimal::from_f64(usd).unwrap_or(Decimal::ONE);
            let base = base.round_dp(decimals(base, 0, 12));
            let korea_only = rng.random_bool(0.1);
            let english = format!(
                "{} {}",
                title(&name),
                SUFFIXES[(n as usize) % SUFFIXES.len()]
            );
            self.add(&name, &english, &english, base, korea_only);
        }

        self.place_specials();
        self.fill();
        self.flag();

        let prices = self
            .entries
            .iter()
            .map(|e| (e.key.clone(), e.base))
            .collect();
        for e in &self.entries {
            let meta = AssetMeta {
                english: e.english.clone(),
                korean: e.korean.clone(),
            };
            self.u.assets.insert(e.key.clone(), meta);
        }
        self.u.renamed.insert("MATIC".into(), "POL".into());
        (self.u, prices)
    }

    fn place_specials(&mut self) {
        use Venue::{Binance, Bithumb, Bybit, Okx, Upbit};
        for (c, _) in self.majors.clone() {
            for v in Venue::ALL {
                self.put(v, &c, &c, &c, "1");
            }
        }
        // (coin, Korean venues, Binance base + multiplier, Bybit base + multiplier, OKX ctVal)
        let memes: [Meme; 9] = [
            (
                "PEPE",
                &[Upbit, Bithumb],
                Some(("1000PEPE", "1000")),
                Some(("1000PEPE", "1000")),
                Some("10000000"),
            ),
            (
                "SHIB",
                &[Upbit, Bithumb],
                Some(("1000SHIB", "1000")),
                Some(("SHIB1000", "1000")),
                Some("1000000"),
            ),
            (
                "BONK",
                &[Upbit, Bithumb],
                Some(("1000BONK", "1000")),
                Some(("1000BONK", "1000")),
                Some("100000"),
            ),
            (
                "FLOKI",
                &[Bithumb],
                Some(("1000FLOKI", "1000")),
                Some(("1000FLOKI", "1000")),
                Some("100"),
            ),
            (
                "BABYDOGE",
                &[Bithumb],
                Some(("1MBABYDOGE", "1000000")),
                Some(("1000000BABYDOGE", "1000000")),
                None,
            ),
            (
                "SATS",
                &[Bithumb],
                Some(("1000SATS", "1000")),
                Some(("10000SATS", "10000")),
                Some("10000000"),
            ),
            (
                "MOG",
                &[Bithumb],
                Some(("1000000MOG", "1000000")),
                Some(("1000000MOG", "1000000")),
                None,
            ),
            (
                "LUNC",
                &[Bithumb],
                Some(("1000LUNC", "1000")),
                Some(("1000LUNC", "1000")),
                Some("10000"),
            ),
            (
                "1INCH",
                &[Upbit, Bithumb],
                Some(("1INCH", "1")),
                Some(("1INCH", "1")),
                Some("1"),
            ),
        ];
        for (coin, korea, bin, byb, okx) in memes {
            for &k in korea {
                self.put(k, coin, coin, coin, "1");
            }
            if let Some((native, m)) = bin {
                self.put(Binance, native, coin, coin, m);
            }
            if let Some((native, m)) = byb {
                self.put(Bybit, native, coin, coin, m);
            }
            if let Some(ct) = okx {
                self.put(Okx, coin, coin, coin, ct);
            }
        }
        // Collision: Korean TON is Tokamak Network, foreign TON is Toncoin.
        for k in [Upbit, Bithumb] {
            self.put(k, "TON", "TON", "TOKAMAK", "1");
        }
        for f in [Binance, Bybit] {
            self.put(f, "TON", "TON", "TON", "1");
        }
        self.put(Okx, "TON", "TON", "TON", "1");
        // Rename: POL everywhere; Binance keeps the old MATICUSDT as SETTLING.
        for v in Venue::ALL {
            self.put(v, "POL", "POL", "POL", if v == Okx { "10" } else { "1" });
        }
        self.put(Binance, "MATIC", "MATIC", "MATIC", "1").status = Status::Settling;
        // A Korean-listed coin whose Binance perp was delisted (SETTLING) and is gone elsewhere.
        for k in [Upbit, Bithumb] {
            self.put(k, "WAVES", "WAVES", "WAVES", "1");
        }
        self.put(Binance, "WAVES", "WAVES", "WAVES", "1").status = Status::Settling;
    }

    /// Fills every venue up to its target from the pool: each coin's rank, perturbed per venue,
    /// decides; Korean-only coins never list abroad and rank higher at home.
    fn fill(&mut self) {
        for (venue, target) in TARGETS {
            let korea = venue.region() == Region::Korea;
            let have = self
                .u
                .listings(venue)
                .iter()
                .filter(|l| l.status.trading() || venue == Venue::Okx)
                .count();
            let mut scored: Vec<(f64, usize)> = self
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| (korea || !e.korea_only) && !self.lists(venue, &e.key))
                .filter(|(_, e)| !SPECIALS.iter().any(|sp| sp.0 == e.key))
                .filter(|(_, e)| korea || !self.majors.iter().any(|(m, _)| *m == e.key))
                .map(|(i, e)| {
                    let u = unit(mix(&[self.seed, fnv(&e.key), fnv(venue.as_str())]));
                    let home = if korea && e.korea_only { 0.35 } else { 1.0 };
                    ((i as f64 + 10.0) * home * (2.6 * (u - 0.5)).exp(), i)
                })
                .collect();
            scored.sort_by(|a, b| a.0.total_cmp(&b.0));
            let picked: Vec<usize> = scored
                .into_iter()
                .take(target.saturating_sub(have))
                .map(|(_, i)| i)
                .collect();
            for i in picked {
                let key = self.entries[i].key.clone();
                let ct = if venue == Venue::Okx {
                    okx_ct_val(self.entries[i].base)
                } else {
                    "1".to_string()
                };
                self.put(venue, &key, &key, &key, &ct);
            }
        }
        // OKX: one listed coin suspended, one announced (preopen).
        let okx_generated: Vec<String> = self
            .u
            .listings(Venue::Okx)
            .iter()
            .filter(|l| is_generated(&l.coin))
            .map(|l| l.coin.clone())
            .collect();
        let upbit = self.korean_coins(Venue::Upbit);
        if let Some(c) = okx_generated.iter().find(|c| upbit.contains(*c)) {
            self.set_status(Venue::Okx, c, Status::Suspend);
        }
        if let Some(c) = okx_generated.iter().rev().find(|c| !upbit.contains(*c)) {
            self.set_status(Venue::Okx, c, Status::Preopen);
        }
    }

    fn korean_coins(&self, venue: Venue) -> BTreeSet<String> {
        self.u
            .listings(venue)
            .iter()
            .map(|l| l.coin.clone())
            .collect()
    }

    fn set_status(&mut self, venue: Venue, coin: &str, status: Status) {
        if let Some(l) = self
            .u
            .listings
            .get_mut(&venue)
            .and_then(|rows| rows.iter_mut().find(|l| l.coin == coin))
        {
            l.status = status;
        }
    }

    /// Flags and illiquidity on coins both Korean venues list (generated ones, so the majors
    /// stay clean), chosen by the seed.
    fn flag(&mut self) {
        let both: Vec<String> = self
            .korean_coins(Venue::Upbit)
            .intersection(&self.korean_coins(Venue::Bithumb))
            .filter(|c| is_generated(c))
            .cloned()
            .collect();
        let mut order: Vec<(u64, String)> = both
            .into_iter()
            .map(|c| (mix(&[self.seed, fnv(&c), 0xf1a9]), c))
            .collect();
        order.sort();
        let mut it = order.into_iter().map(|(_, c)| c);
        let mut take = |n: usize| -> Vec<String> { it.by_ref().take(n).collect() };
        let sets = [
            (take(4), &[WARNING][..]),
            (take(9), &[CAUTION][..]),
            (take(2), &[WARNING, CAUTION][..]),
            (take(4), &[DEPOSIT_SUSPENDED][..]),
            (take(1), &[CAUTION, DEPOSIT_SUSPENDED][..]),
        ];
        let illiquid = take(8);
        for (coins, flags) in sets {
            for c in coins {
                self.u.flagged.insert(c, flags.to_vec());
            }
        }
        for (i, c) in illiquid.into_iter().enumerate() {
            let minutes = 2 + (i as i64 * 3) % 14;
            self.u.illiquid.insert(c, minutes * 60_000 + 17_000);
        }
    }
}

/// (coin, Korean venues, Binance base + multiplier, Bybit base + multiplier, OKX ctVal).
type Meme<'a> = (
    &'a str,
    &'a [Venue],
    Option<(&'a str, &'a str)>,
    Option<(&'a str, &'a str)>,
    Option<&'a str>,
);

const SUFFIXES: [&str; 6] = ["Protocol", "Network", "Token", "Finance", "Chain", "Coin"];

/// Generated tickers are 3–6 letters of alternating consonants and vowels, plus an `X`/`Z`/`R`
/// ending: unlike any real ticker in the table.
fn generated_name(n: u64) -> String {
    const C: &[u8] = b"BCDFGHJKLMNPRSTVWZ";
    const V: &[u8] = b"AEIOU";
    const END: &[u8] = b"XZR";
    let h = mix(&[0x6e61_6d65, n]);
    let syllables = 1 + (h % 3) as usize;
    let mut s = String::new();
    let mut x = h >> 2;
    for _ in 0..syllables {
        s.push(C[(x % C.len() as u64) as usize] as char);
        x /= C.len() as u64;
        s.push(V[(x % V.len() as u64) as usize] as char);
        x /= V.len() as u64;
    }
    s.push(END[(x % END.len() as u64) as usize] as char);
    s
}

fn is_generated(coin: &str) -> bool {
    !REAL.iter().any(|r| r.0 == coin)
        && !KOREAN_ONLY.iter().any(|r| r.0 == coin)
        && coin.len() >= 3
        && matches!(coin.as_bytes()[coin.len() - 1], b'X' | b'Z' | b'R')
        && coin.bytes().all(|b| b.is_ascii_uppercase())
        && !matches!(
            coin,
            "BTC" | "ETH" | "XRP" | "SOL" | "DOGE" | "TOKAMAK" | "MATIC"
        )
}

/// OKX contract value: a power of ten worth roughly 10–100 USD a contract.
fn okx_ct_val(base: Decimal) -> String {
    let p = base.to_f64().unwrap_or(1.0).max(1e-12);
    let k = (10.0 / p).log10().ceil() as i32;
    let v = Decimal::from_f64(10f64.powi(k)).unwrap_or(Decimal::ONE);
    v.round_dp(8).normalize().to_string()
}

fn names_of(coin: &str) -> (String, String) {
    match coin {
        "BTC" => ("Bitcoin".into(), "비트코인".into()),
        "ETH" => ("Ethereum".into(), "이더리움".into()),
        "XRP" => ("XRP".into(), "엑스알피(리플)".into()),
        "SOL" => ("Solana".into(), "솔라나".into()),
        "DOGE" => ("Dogecoin".into(), "도지코인".into()),
        c => (c.to_string(), c.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn majors() -> Vec<(String, Decimal)> {
        crate::config::default_coins()
    }

    #[test]
    fn the_realistic_universe_has_the_stated_sizes_and_is_seeded() {
        let (u, prices) = Universe::realistic(42, &majors());
        assert_eq!(prices.len(), POOL);
        for (venue, target) in TARGETS {
            let n = u.listings(venue).len();
            assert!(n >= target && n <= target + 5, "{venue}: {n}");
            let natives: BTreeSet<&str> = u
                .listings(venue)
                .iter()
                .map(|l| l.native.as_str())
                .collect();
            assert_eq!(natives.len(), n, "{venue}: duplicate symbols");
        }
        let (again, _) = Universe::realistic(42, &majors());
        assert_eq!(again.truth(), u.truth());
        let (other, _) = Universe::realistic(43, &majors());
        assert_ne!(other.truth()["pairs"], u.truth()["pairs"]);
    }

    #[test]
    fn generated_names_are_valid_and_not_digit_led() {
        for n in 1..2_000 {
            let s = generated_name(n);
            assert!(domain::Coin::parse(&s).is_ok(), "{s}");
            assert!(s.len() >= 3 && s.len() <= 7, "{s}");
            assert!(is_generated(&s), "{s}");
        }
    }

    #[test]
    fn native_symbols_follow_each_venue() {
        assert_eq!(native_symbol(Venue::Binance, "PEPE", d("1000")), "1000PEPE");
        assert_eq!(
            native_symbol(Venue::Binance, "BABYDOGE", d("1000000")),
            "1MBABYDOGE"
        );
        assert_eq!(native_symbol(Venue::Okx, "PEPE", d("1000")), "PEPE");
        assert_eq!(native_symbol(Venue::Upbit, "PEPE", d("1000")), "PEPE");
        assert_eq!(okx_ct_val(d("90000")), "0.001");
        assert_eq!(okx_ct_val(d("0.5")), "100");
    }
}
