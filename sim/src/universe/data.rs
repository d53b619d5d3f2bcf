//! The realistic shape's tables: how many coins each venue lists, the real tickers with their
//! names and prices, the hand-placed special cases and the multiplier contracts. Data only; the
//! builder (`build.rs`) turns them into listings.

use domain::Venue;

/// Listed coins per venue in the realistic universe (Korean venues: without KRW-USDT).
pub(super) const TARGETS: [(Venue, usize); 5] = [
    (Venue::Upbit, 229),
    (Venue::Bithumb, 399),
    (Venue::Binance, 520),
    (Venue::Bybit, 500),
    (Venue::Okx, 250),
];
/// Distinct assets the realistic universe draws from.
pub(super) const POOL: usize = 880;
/// `onboardDate` / `launchTime` of the oldest listings (2019-09-25).
pub(super) const FIRST_LISTING_MS: i64 = 1_569_398_400_000;

/// Real tickers: (ticker, English name, Korean name, USD price). The head of the popularity
/// order after the configured majors.
pub(super) const REAL: &[(&str, &str, &str, &str)] = &[
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
pub(super) const SPECIALS: &[(&str, &str, &str, &str)] = &[
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
pub(super) const KOREAN_ONLY: &[(&str, &str, &str, &str)] = &[
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

/// (coin, Korean venues, Binance base + multiplier, Bybit base + multiplier, OKX ctVal).
pub(super) type MultiplierRow<'a> = (
    &'a str,
    &'a [Venue],
    Option<(&'a str, &'a str)>,
    Option<(&'a str, &'a str)>,
    Option<&'a str>,
);

/// Coins whose foreign contracts carry a multiplier (`1000PEPE`, `SHIB1000`, `1MBABYDOGE`, …;
/// OKX carries it in `ctVal`), and `1INCH`, whose leading digit is part of the name: (coin,
/// Korean venues, Binance base + multiplier, Bybit base + multiplier, OKX ctVal).
pub(super) const MULTIPLIER_COINS: [MultiplierRow<'static>; 9] = [
    (
        "PEPE",
        &[Venue::Upbit, Venue::Bithumb],
        Some(("1000PEPE", "1000")),
        Some(("1000PEPE", "1000")),
        Some("10000000"),
    ),
    (
        "SHIB",
        &[Venue::Upbit, Venue::Bithumb],
        Some(("1000SHIB", "1000")),
        Some(("SHIB1000", "1000")),
        Some("1000000"),
    ),
    (
        "BONK",
        &[Venue::Upbit, Venue::Bithumb],
        Some(("1000BONK", "1000")),
        Some(("1000BONK", "1000")),
        Some("100000"),
    ),
    (
        "FLOKI",
        &[Venue::Bithumb],
        Some(("1000FLOKI", "1000")),
        Some(("1000FLOKI", "1000")),
        Some("100"),
    ),
    (
        "BABYDOGE",
        &[Venue::Bithumb],
        Some(("1MBABYDOGE", "1000000")),
        Some(("1000000BABYDOGE", "1000000")),
        None,
    ),
    (
        "SATS",
        &[Venue::Bithumb],
        Some(("1000SATS", "1000")),
        Some(("10000SATS", "10000")),
        Some("10000000"),
    ),
    (
        "MOG",
        &[Venue::Bithumb],
        Some(("1000000MOG", "1000000")),
        Some(("1000000MOG", "1000000")),
        None,
    ),
    (
        "LUNC",
        &[Venue::Bithumb],
        Some(("1000LUNC", "1000")),
        Some(("1000LUNC", "1000")),
        Some("10000"),
    ),
    (
        "1INCH",
        &[Venue::Upbit, Venue::Bithumb],
        Some(("1INCH", "1")),
        Some(("1INCH", "1")),
        Some("1"),
    ),
];

/// Name endings of generated coins (`Bazor Network`).
pub(super) const SUFFIXES: [&str; 6] = ["Protocol", "Network", "Token", "Finance", "Chain", "Coin"];
