//! The `webhook` channel's signature: `X-Rescaler-Signature: v1=<hex HMAC-SHA256(secret,
//! "<timestamp>.<body>")>` beside `X-Rescaler-Timestamp: <unix seconds>`. Receivers recompute
//! it and refuse timestamps more than [`REPLAY_WINDOW_SECS`] away from their clock.

use sha2::{Digest, Sha256};

/// How far from the receiver's clock a timestamp may be (documented for receivers).
pub const REPLAY_WINDOW_SECS: u64 = 300;

pub const TIMESTAMP_HEADER: &str = "X-Rescaler-Timestamp";
pub const SIGNATURE_HEADER: &str = "X-Rescaler-Signature";
/// The delivery's idempotency key: the same for every attempt of one event to one channel.
pub const DELIVERY_HEADER: &str = "X-Rescaler-Delivery";
pub const EVENT_HEADER: &str = "X-Rescaler-Event";

const BLOCK: usize = 64;

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

/// The `X-Rescaler-Signature` value of `body` sent at `timestamp_secs`.
pub fn signature(secret: &str, timestamp_secs: u64, body: &[u8]) -> String {
    let mut signed = format!("{timestamp_secs}.").into_bytes();
    signed.extend_from_slice(body);
    format!("v1={}", hex::encode(hmac_sha256(secret.as_bytes(), &signed)))
}

#[cfg(test)]
mod tests {
    use super::{hmac_sha256, signature};

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test cases 1, 2 and 6 (a key longer than the block).
        let table: [(&[u8], &[u8], &str); 3] = [
            (&[0x0b; 20], b"Hi There", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
            (
                b"Jefe",
                b"what do ya want for nothing?",
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First",
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
        ];
        for (key, message, expected) in table {
            assert_eq!(hex::encode(hmac_sha256(key, message)), expected);
        }
    }

    #[test]
    fn the_signature_covers_timestamp_and_body() {
        let signed = signature("s3cret", 1_700_000_000, b"{}");
        assert!(signed.starts_with("v1=") && signed.len() == 3 + 64, "{signed}");
        assert_ne!(signed, signature("s3cret", 1_700_000_001, b"{}"));
        assert_ne!(signed, signature("s3cret", 1_700_000_000, b"{ }"));
        assert_ne!(signed, signature("other", 1_700_000_000, b"{}"));
    }
}
