//! Where a value is in a JSON text: the 1-based line of a path such as
//! `peers[3].sessions[0]."remote-vips"[2]`, for error messages
//! (serde_json's values carry no positions). Sans-IO; the text is already
//! known to be valid JSON, so the scan is structural only. Used on the
//! error path, so a linear scan per error is fine even for large files.

/// One step of a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg<'a> {
    /// A key of an object (as written, escapes not decoded).
    Key(&'a str),
    /// An element of an array.
    Index(usize),
}

/// `peers[3].sessions[0]."remote-vips"` as errors show it.
pub fn show(path: &[Seg<'_>]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&format!("{k:?}"));
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The line where `path` is: of its key for a key, of the element's start
/// for an index (the whole text's start for an empty path). `None` when
/// the path is not in the text.
pub fn line_of(text: &str, path: &[Seg<'_>]) -> Option<usize> {
    let mut s = Scan { b: text.as_bytes(), i: 0 };
    s.ws();
    let mut at = s.i;
    for seg in path {
        match *seg {
            Seg::Key(want) => at = s.find_key(want)?,
            Seg::Index(n) => at = s.find_index(n)?,
        }
    }
    Some(text.as_bytes()[..at].iter().filter(|&&c| c == b'\n').count() + 1)
}

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Scan<'a> {
    fn ws(&mut self) {
        while self.b.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    /// A string at `i` (after whitespace): its raw content.
    fn string(&mut self) -> Option<&'a [u8]> {
        self.eat(b'"')?;
        let start = self.i;
        loop {
            match *self.b.get(self.i)? {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    return Some(&self.b[start..self.i - 1]);
                }
                _ => self.i += 1,
            }
        }
    }

    /// Skips one value.
    fn value(&mut self) -> Option<()> {
        self.ws();
        match *self.b.get(self.i)? {
            b'"' => self.string().map(drop),
            open @ (b'{' | b'[') => {
                let close = if open == b'{' { b'}' } else { b']' };
                self.i += 1;
                if self.eat(close).is_some() {
                    return Some(());
                }
                loop {
                    if open == b'{' {
                        self.string()?;
                        self.eat(b':')?;
                    }
                    self.value()?;
                    if self.eat(b',').is_none() {
                        return self.eat(close);
                    }
                }
            }
            _ => {
                while self.b.get(self.i).is_some_and(|c| !b",]} \t\r\n".contains(c)) {
                    self.i += 1;
                }
                Some(())
            }
        }
    }

    /// In the object at `i`: moves to the value of `want`, returns where
    /// its key starts.
    fn find_key(&mut self, want: &str) -> Option<usize> {
        self.eat(b'{')?;
        loop {
            self.ws();
            let key_at = self.i;
            let key = self.string()?;
            self.eat(b':')?;
            if key == want.as_bytes() {
                self.ws();
                return Some(key_at);
            }
            self.value()?;
            self.eat(b',')?;
        }
    }

    /// In the array at `i`: moves to element `n`, returns where it starts.
    fn find_index(&mut self, n: usize) -> Option<usize> {
        self.eat(b'[')?;
        for _ in 0..n {
            self.value()?;
            self.eat(b',')?;
        }
        self.ws();
        (self.b.get(self.i) != Some(&b']')).then_some(self.i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Seg::{Index, Key};

    const TEXT: &str = r#"{
  "config": {"local-grpc-address": "10.0.0.1"},
  "peers": [
    {"remote-grpc-address": "a\"b", "sessions": []},
    {
      "sessions": [
        {"remote-vips": [
          "192.168.1.1",
          "192.168.1.2"]}
      ],
      "remote-grpc-address": "x"
    }
  ]
}"#;

    #[test]
    fn finds_keys_and_elements_by_line() {
        assert_eq!(line_of(TEXT, &[]), Some(1));
        assert_eq!(line_of(TEXT, &[Key("config"), Key("local-grpc-address")]), Some(2));
        assert_eq!(line_of(TEXT, &[Key("peers")]), Some(3));
        assert_eq!(line_of(TEXT, &[Key("peers"), Index(0)]), Some(4));
        assert_eq!(line_of(TEXT, &[Key("peers"), Index(0), Key("sessions")]), Some(4));
        assert_eq!(line_of(TEXT, &[Key("peers"), Index(1)]), Some(5));
        let vips = [Key("peers"), Index(1), Key("sessions"), Index(0), Key("remote-vips")];
        assert_eq!(line_of(TEXT, &vips), Some(7));
        assert_eq!(line_of(TEXT, &[&vips[..], &[Index(1)]].concat()), Some(9));
        assert_eq!(line_of(TEXT, &[Key("peers"), Index(1), Key("remote-grpc-address")]), Some(11));
    }

    #[test]
    fn absent_paths_have_no_line() {
        assert_eq!(line_of(TEXT, &[Key("nope")]), None);
        assert_eq!(line_of(TEXT, &[Key("peers"), Index(2)]), None);
        assert_eq!(line_of(TEXT, &[Key("peers"), Index(0), Key("sessions"), Index(0)]), None);
        assert_eq!(line_of(TEXT, &[Key("config"), Index(0)]), None);
    }

    #[test]
    fn shows_paths() {
        let p = [Key("peers"), Index(3), Key("sessions"), Index(0), Key("remote-vips"), Index(2)];
        assert_eq!(show(&p), r#""peers"[3]."sessions"[0]."remote-vips"[2]"#);
        assert_eq!(show(&[]), "");
    }
}
