//! Index entry names and the cursor the API hands out.
//!
//! An entry is named `<inverted ms>-<id>`: thirteen digits of `MAX_MS - at_ms`, so that the
//! store's ascending order is newest first, then the record's id (ties: ascending id, the order
//! listings always had). A cursor is the name of the last entry a page answered, wrapped so that
//! callers treat it as opaque, and checked on the way back in.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The largest time an entry name can hold (13 digits of milliseconds: the year 2286).
const MAX_MS: u64 = 9_999_999_999_999;
const CURSOR_VERSION: &str = "v1:";

/// The name of the entry for a record made at `at_ms` with `id`.
pub fn entry_name(at_ms: u64, id: &str) -> String {
    format!("{:013}-{id}", MAX_MS - at_ms.min(MAX_MS))
}

/// The time and id an entry name holds, or `None` when it is not one.
pub fn parse_entry_name(name: &str) -> Option<(u64, &str)> {
    let (inverted, id) = name.split_at_checked(13)?;
    let id = id.strip_prefix('-')?;
    if !inverted.bytes().all(|b| b.is_ascii_digit()) || !valid_id(id) {
        return None;
    }
    Some((MAX_MS - inverted.parse::<u64>().ok()?, id))
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 200
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'='))
        && id != "."
        && id != ".."
}

/// A position in a listing: the entry a page ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

/// A cursor that is not one this server handed out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid cursor: pass back the value of the x-next-cursor header unchanged")]
pub struct BadCursor;

impl Cursor {
    /// The cursor after entry `name`.
    pub fn after(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The entry name the next page starts after.
    pub fn entry(&self) -> &str {
        &self.0
    }

    /// The opaque text handed to callers.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("{CURSOR_VERSION}{}", self.0))
    }

    /// Reads back a cursor from [`Cursor::encode`]; anything else is refused.
    pub fn decode(text: &str) -> Result<Self, BadCursor> {
        if text.len() > 400 {
            return Err(BadCursor);
        }
        let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| BadCursor)?;
        let text = String::from_utf8(bytes).map_err(|_| BadCursor)?;
        let name = text.strip_prefix(CURSOR_VERSION).ok_or(BadCursor)?;
        parse_entry_name(name).ok_or(BadCursor)?;
        Ok(Self(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::{BadCursor, Cursor, entry_name, parse_entry_name};

    #[test]
    fn newer_entries_sort_first_and_ties_by_ascending_id() {
        let mut names =
            vec![entry_name(5, "b"), entry_name(1_700_000_000_000, "z"), entry_name(5, "a"), entry_name(0, "c")];
        names.sort();
        assert_eq!(
            names,
            vec![entry_name(1_700_000_000_000, "z"), entry_name(5, "a"), entry_name(5, "b"), entry_name(0, "c")]
        );
        assert_eq!(entry_name(1_700_000_000_000, "z"), "8299999999999-z");
    }

    #[test]
    fn an_entry_name_gives_back_its_time_and_id() {
        let name = entry_name(1_764_600_000_123, "0123abcd-0007");
        assert_eq!(parse_entry_name(&name), Some((1_764_600_000_123, "0123abcd-0007")));
        for bad in [
            "",
            "123-abc",
            "12345678901234",
            "123456789012x-a",
            "1234567890123-",
            "1234567890123-a/b",
            "1234567890123_a",
        ] {
            assert_eq!(parse_entry_name(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_cursor_round_trips_and_is_not_the_plain_name() {
        let cursor = Cursor::after(entry_name(42, "abc"));
        let text = cursor.encode();
        assert!(!text.contains("abc"), "{text}");
        assert_eq!(Cursor::decode(&text), Ok(cursor));
    }

    #[test]
    fn a_cursor_the_server_did_not_hand_out_is_refused() {
        use base64::Engine;
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let unversioned = engine.encode(entry_name(42, "abc"));
        let traversal = engine.encode("v1:1234567890123-../x");
        let not_a_name = engine.encode("v1:operations/abc.json");
        for bad in ["", "!!!", "not base64 at all", &unversioned, &traversal, &not_a_name, &"A".repeat(401)] {
            assert_eq!(Cursor::decode(bad), Err(BadCursor), "{bad:?}");
        }
    }
}
