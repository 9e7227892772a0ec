//! PKCE (RFC 7636, `S256`) and the random `state`: browser randomness, the browser's SHA-256.

use wasm_bindgen::JsCast;
use web_sys::js_sys::{ArrayBuffer, Uint8Array};

/// A fresh `code_verifier` or `state`: 32 random bytes, base64url (43 characters).
pub fn random_token() -> Result<String, String> {
    let crypto = web_sys::window().and_then(|window| window.crypto().ok()).ok_or("this browser has no crypto")?;
    let mut bytes = [0_u8; 32];
    crypto.get_random_values_with_u8_array(&mut bytes).map_err(|_| "this browser gives no random numbers")?;
    Ok(base64url(&bytes))
}

/// `code_challenge = BASE64URL(SHA256(code_verifier))`.
pub async fn challenge(verifier: &str) -> Result<String, String> {
    let subtle = web_sys::window()
        .and_then(|window| window.crypto().ok())
        .map(|crypto| crypto.subtle())
        .ok_or("this browser has no SubtleCrypto (the console needs https or localhost)")?;
    let promise =
        subtle.digest_with_str_and_u8_array("SHA-256", verifier.as_bytes()).map_err(|_| "SHA-256 is unavailable")?;
    let digest = wasm_bindgen_futures::JsFuture::from(promise).await.map_err(|_| "SHA-256 failed")?;
    let buffer = digest.dyn_into::<ArrayBuffer>().map_err(|_| "SHA-256 gave no bytes")?;
    Ok(base64url(&Uint8Array::new(&buffer).to_vec()))
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding (RFC 4648 §5).
pub fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let group =
            chunk.iter().enumerate().fold(0_u32, |group, (index, byte)| group | u32::from(*byte) << (16 - 8 * index));
        for index in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(group >> (18 - 6 * index) & 0x3f) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::base64url;

    #[test]
    fn base64url_matches_rfc_4648_vectors_without_padding() {
        let cases: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg"),
            (b"fooba", "Zm9vYmE"),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (input, expected) in cases {
            assert_eq!(base64url(input), expected);
        }
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }
}
