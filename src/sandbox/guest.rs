//! The guest module, committed as a build output of `guest/build.sh` (see guest/README.md).

use sha2::{Digest, Sha256};

/// QuickJS-ng plus our driver, compiled to wasm32-wasi.
pub static GUEST_WASM: &[u8] = include_bytes!("../../guest/skillforge-js.wasm");

const GUEST_SHA256_FILE: &str = include_str!("../../guest/skillforge-js.wasm.sha256");

/// The sha256 (hex) recorded beside the committed guest module.
pub fn guest_sha256() -> &'static str {
    GUEST_SHA256_FILE
        .split_whitespace()
        .next()
        .unwrap_or_default()
}

/// Hex sha256 of bytes.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_guest_matches_its_recorded_sha256() {
        assert_eq!(guest_sha256().len(), 64);
        assert_eq!(sha256_hex(GUEST_WASM), guest_sha256());
    }
}
