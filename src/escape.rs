//! Text from the file system or another process, made safe to print.
//!
//! A file name or a command line is chosen by whoever made it, and may hold
//! terminal escapes or characters that reorder what a terminal shows. Every
//! message of this crate prints such text through [`shown`] (paths) or
//! [`text`] (strings), which escape:
//!
//! - control characters (Unicode `Cc`: ESC, newline, DEL, C1 controls) as
//!   `\e`, `\n`, `\u{7f}` and the like;
//! - format characters (Unicode `Cf`: the bidirectional overrides such as
//!   U+202E, zero-width joiners) as `\u{202e}`;
//! - bytes that are not UTF-8, as `\x..`;
//! - the backslash itself, as `\\`, so that the escaping can be undone.

use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// `path`, escaped for printing.
pub(crate) fn shown(path: &Path) -> Shown<'_> {
    Shown(path.as_os_str().as_bytes())
}

/// `s`, escaped for printing.
pub(crate) fn text(s: &str) -> Shown<'_> {
    Shown(s.as_bytes())
}

/// Bytes that print escaped (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shown<'a>(pub(crate) &'a [u8]);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for chunk in self.0.utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '\\' => f.write_str("\\\\")?,
                    '\x1b' => f.write_str("\\e")?,
                    c if c.is_control() || is_format(c) => write!(f, "{}", c.escape_default())?,
                    c => write!(f, "{c}")?,
                }
            }
            for b in chunk.invalid() {
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

/// Unicode general category `Cf` (format characters).
fn is_format(c: char) -> bool {
    matches!(c,
        '\u{ad}' | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}' | '\u{890}'..='\u{891}'
        | '\u{8e2}' | '\u{180e}' | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}'
        | '\u{110bd}' | '\u{110cd}' | '\u{13430}'..='\u{1343f}' | '\u{1bca0}'..='\u{1bca3}'
        | '\u{1d173}'..='\u{1d17a}' | '\u{e0001}' | '\u{e0020}'..='\u{e007f}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_controls_formats_and_bad_bytes() {
        let raw = b"a\x1b]0;t\x07b\xe2\x80\xaec\xffd\\e\n";
        assert_eq!(
            Shown(raw).to_string(),
            "a\\e]0;t\\u{7}b\\u{202e}c\\xffd\\\\e\\n"
        );
        assert_eq!(text("/run/app.sock").to_string(), "/run/app.sock");
        assert_eq!(text("café").to_string(), "café");
    }
}
