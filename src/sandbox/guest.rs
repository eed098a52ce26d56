//! The guest module, committed as a build output of `guest/build.sh` (see guest/README.md).

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

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn committed_guest_matches_its_recorded_sha256() {
        assert_eq!(guest_sha256().len(), 64);
        assert_eq!(hex::encode(Sha256::digest(GUEST_WASM)), guest_sha256());
    }
}
