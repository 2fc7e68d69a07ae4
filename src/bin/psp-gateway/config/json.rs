//! `-j/--json PATH`: the flags as a JSON object keyed by the long flag
//! names (or the DOCA guide's short letters). Sans-IO: takes the text.

use super::args::{self, Kind};
use super::{ConfigError, Origin, Raw, Setting, Settings};
use serde_json::Value;

/// The 1-based line of the first `"key":` in `text`, for error messages
/// (serde_json's values carry no positions).
pub fn key_line(text: &str, key: &str) -> Option<usize> {
    let quoted = format!("\"{key}\"");
    let mut from = 0;
    while let Some(i) = text[from..].find(&quoted) {
        let at = from + i;
        let after = text[at + quoted.len()..].trim_start();
        if after.starts_with(':') {
            return Some(text[..at].matches('\n').count() + 1);
        }
        from = at + quoted.len();
    }
    None
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("{s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
        other => other.to_string(),
    }
}

/// `text` as JSON, or the syntax error at its line and column of `file`
/// (serde's own " at line L column C" suffix dropped: the error says it).
pub(super) fn syntax(file: &str, text: &str) -> Result<Value, ConfigError> {
    serde_json::from_str(text).map_err(|e| {
        let msg = e.to_string();
        let msg = match msg.rfind(" at line ") {
            Some(i) => format!("JSON syntax error: {}", &msg[..i]),
            None => format!("JSON syntax error: {msg}"),
        };
        ConfigError::Json { file: file.to_string(), line: e.line(), column: e.column(), msg }
    })
}

/// Parses the JSON file `file` (its name for errors) with content `text`.
pub fn parse(file: &str, text: &str) -> Result<Settings, ConfigError> {
    let root = syntax(file, text)?;
    let Value::Object(map) = root else {
        return Err(ConfigError::Json {
            file: file.to_string(),
            line: 1,
            column: 1,
            msg: "expected an object of flags ({\"pci-addr\": ..., ...})".into(),
        });
    };
    let mut out = Settings::new();
    // The guide's "static-tunnels": "192.168.1.99" form: a local address.
    let mut static_ip: Option<Setting> = None;
    for (key, value) in &map {
        let line = key_line(text, key);
        let origin = Origin::Json { file: file.to_string(), line, key: key.clone() };
        // DOCA 3.x's "c" is the peers file (a path), 2.8's the cookie switch.
        let opt = match value {
            Value::String(_) if key == "c" => Some(args::by_long("config")),
            _ => args::by_json_key(key),
        };
        let Some(opt) = opt else {
            let at = match line {
                Some(l) => format!("{file}:{l}"),
                None => file.to_string(),
            };
            return Err(ConfigError::JsonKey { at, key: key.clone() });
        };
        if let Some(prev) = out.get(opt.long) {
            return Err(ConfigError::Conflict(format!("{origin} repeats {}", prev.origin)));
        }
        let wrong = |expected: &'static str| ConfigError::JsonType {
            at: origin.to_string(),
            expected,
            got: show(value),
        };
        let raw = match (opt.kind, value) {
            (Kind::Switch, Value::Bool(b)) => Raw::Switch(*b),
            (Kind::Switch, Value::String(s)) if opt.long == "static-tunnels" => {
                if s.trim().parse::<std::net::Ipv4Addr>().is_err() {
                    return Err(wrong("true or false"));
                }
                let o = origin.clone();
                static_ip = Some(Setting { origin: o, raw: Raw::List(vec![s.trim().to_string()]) });
                Raw::Switch(true)
            }
            (Kind::Switch, _) => return Err(wrong("true or false")),
            (Kind::Value, Value::String(s)) => Raw::Str(s.clone()),
            (Kind::Value, Value::Number(n)) => Raw::Str(n.to_string()),
            (Kind::Value, _) => return Err(wrong("a string or a number")),
            (Kind::List, Value::String(s)) => Raw::List(vec![s.clone()]),
            (Kind::List, Value::Array(items)) => {
                let mut v = Vec::new();
                for item in items {
                    match item {
                        Value::String(s) => v.push(s.clone()),
                        _ => return Err(wrong("a string or an array of strings")),
                    }
                }
                Raw::List(v)
            }
            (Kind::List, _) => return Err(wrong("a string or an array of strings")),
        };
        out.insert(opt.long, Setting { origin, raw });
    }
    if let Some(s) = static_ip {
        match out.get("local-virt-ip") {
            Some(prev) => {
                // Both lists (local-virt-ip is a list flag): the address
                // must be the one local-virt-ip gives.
                let (Raw::List(a), Raw::List(b)) = (&prev.raw, &s.raw) else {
                    unreachable!("local-virt-ip is a list flag")
                };
                let same =
                    a.len() == 1 && a.iter().map(|v| v.trim()).eq(b.iter().map(|v| v.as_str()));
                if !same {
                    return Err(ConfigError::Conflict(format!(
                        "{} {} and {} {} differ",
                        s.origin,
                        b.join(","),
                        prev.origin,
                        a.join(",").trim()
                    )));
                }
            }
            None => {
                out.insert("local-virt-ip", s);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_key_lines() {
        let t = "{\n  \"p\": \"03:00.0\",\n  \"r\" : \"vf0pf0\",\n  \"x\": \"\\\"r\\\"\"\n}";
        assert_eq!(key_line(t, "p"), Some(2));
        assert_eq!(key_line(t, "r"), Some(3));
        assert_eq!(key_line(t, "x"), Some(4));
        assert_eq!(key_line(t, "zz"), None);
    }

    #[test]
    fn values_by_kind() {
        let t = r#"{"p": "03:00.0", "max-tunnels": 10, "cookie": true, "k": false,
                    "tunnel": ["10.0.0.1:192.168.1.1", "10.0.0.2:192.168.1.2"], "t2": 1}"#;
        let e = parse("gw.json", t).unwrap_err().to_string();
        assert_eq!(e, "gw.json:2: unknown key \"t2\"");
        let t = t.replace(", \"t2\": 1", "");
        let s = parse("gw.json", &t).unwrap();
        assert!(matches!(&s["pci-addr"].raw, Raw::Str(v) if v == "03:00.0"));
        assert!(matches!(&s["max-tunnels"].raw, Raw::Str(v) if v == "10"));
        assert!(matches!(s["cookie"].raw, Raw::Switch(true)));
        assert!(matches!(s["debug-keys"].raw, Raw::Switch(false)));
        assert!(matches!(&s["tunnel"].raw, Raw::List(v) if v.len() == 2));
        let s = parse("gw.json", r#"{"t": "10.0.0.1:192.168.1.1"}"#).unwrap();
        assert!(matches!(&s["tunnel"].raw, Raw::List(v) if v.len() == 1));
    }

    #[test]
    fn type_errors_name_file_line_and_key() {
        for (t, want) in [
            (
                "{\n\"cookie\": \"yes\"}",
                "gw.json:2: \"cookie\": expected true or false, got \"yes\"",
            ),
            (
                "{\"sample-rate\": true}",
                "gw.json:1: \"sample-rate\": expected a string or a number, got true",
            ),
            (
                "{\"t\": [1]}",
                "gw.json:1: \"t\": expected a string or an array of strings, got an array",
            ),
            ("{\"p\": null}", "gw.json:1: \"p\": expected a string or a number, got null"),
            (
                "{\"p\": \"a\", \"pci-addr\": \"b\"}",
                "gw.json:1: \"pci-addr\" repeats gw.json:1: \"p\"",
            ),
            ("[1]", "gw.json:1:1: expected an object of flags"),
        ] {
            let e = parse("gw.json", t).unwrap_err().to_string();
            assert!(e.starts_with(want), "{e}");
        }
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let e = parse("gw.json", "{\n  \"p\": \"03:00.0\",\n  \"r\" \"vf0pf0\"\n}").unwrap_err();
        assert_eq!(e.to_string(), "gw.json:3:7: JSON syntax error: expected `:`");
        let e = parse("gw.json", "").unwrap_err().to_string();
        assert!(e.starts_with("gw.json:1:0: JSON syntax error: EOF"), "{e}");
    }

    #[test]
    fn guide_static_tunnels_address_form() {
        let s = parse("g", r#"{"z": "192.168.1.99"}"#).unwrap();
        assert!(matches!(s["static-tunnels"].raw, Raw::Switch(true)));
        assert!(matches!(&s["local-virt-ip"].raw, Raw::List(v) if v == &["192.168.1.99"]));
        assert!(parse("g", r#"{"z": "192.168.1.99", "local-virt-ip": "192.168.1.99"}"#).is_ok());
        let e = parse("g", r#"{"z": "192.168.1.99", "local-virt-ip": "192.168.1.98"}"#);
        assert!(e.unwrap_err().to_string().contains("differ"));
        assert!(parse("g", r#"{"z": "yes"}"#).is_err());
    }
}
