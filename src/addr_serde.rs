//! `UnixAddr` in serde: the same string it parses from and displays as
//! (`/run/app.sock`, `unix:/path`, `@name`).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde::ser::{self, Serialize, Serializer};

use crate::addr::{AddrView, UnixAddr};

#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
impl Serialize for UnixAddr {
    /// Fails for a path or name that is not UTF-8, which no string could
    /// give back.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let utf8 = match self.view() {
            AddrView::Path(path) => path.to_str().is_some(),
            AddrView::Abstract(name) => std::str::from_utf8(name).is_ok(),
        };
        if !utf8 {
            return Err(ser::Error::custom(format_args!(
                "socket address {self} is not UTF-8, so it cannot be written as a string"
            )));
        }
        serializer.collect_str(self)
    }
}

#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
impl<'de> Deserialize<'de> for UnixAddr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(AddrVisitor)
    }
}

struct AddrVisitor;

impl Visitor<'_> for AddrVisitor {
    type Value = UnixAddr;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Unix socket address: a path, unix:/path or @name")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<UnixAddr, E> {
        s.parse().map_err(E::custom)
    }
}
