//! The start banners (`up`'s addresses, the simulator's and the API's address, `stopping…`):
//! plain lines with text logs, one JSON event per line with `log_format = "json"`, so that a log
//! collector reading stdout sees nothing but JSON. They bypass `RUST_LOG`: a banner is printed
//! whatever the level, as it is with text logs.

use std::io::Write;

use settings::LogFormat;

/// Prints `message` on stdout: as is with text logs, as an `INFO` event shaped like the JSON log
/// lines (`timestamp`, `level`, `fields.message`) with JSON logs.
pub fn say(format: LogFormat, message: &str) {
    let line = match format {
        LogFormat::Text => message.to_string(),
        LogFormat::Json => json_event(message),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn json_event(message: &str) -> String {
    serde_json::json!({
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "level": "INFO",
        "fields": { "message": message },
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_banner_is_one_line_of_json_with_the_message_in_its_fields() {
        let line = json_event("premium-spread is up: \"quoted\"\nand a second line");
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "INFO");
        assert_eq!(
            v["fields"]["message"],
            "premium-spread is up: \"quoted\"\nand a second line"
        );
        assert!(v["timestamp"].is_string());
    }
}
