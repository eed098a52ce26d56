//! On-disk cache of the compiled guest module.
//!
//! Compiling QuickJS with cranelift takes seconds; loading the compiled artefact takes well
//! under a millisecond: wasmtime maps the file (`Module::deserialize_open_file`) rather than
//! copying it. Deserializing trusts its input (it maps machine code), so a
//! cache entry is only used when its key matches and its bytes hash to the digest recorded
//! beside it; anything else is recompiled and rewritten atomically. The digest guards against
//! truncated or corrupted files (not against someone who can write the cache directory, who
//! could as well replace the binary), and it is checked on every start, so it is xxh3-128
//! (~10 GB/s) rather than sha256 (~0.4 GB/s: 10 ms of a 4 MB artefact).

use super::guest::{GUEST_WASM, guest_sha256};
use super::{SandboxError, WASMTIME_VERSION};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::Read;
use std::path::{Path, PathBuf};
use wasmtime::{Engine, Module};

/// Loads the guest module: from `cache_dir` when a valid entry exists, else by compiling it
/// (and then writing the entry).
pub(super) fn load_guest(
    engine: &Engine,
    cache_dir: Option<&Path>,
) -> Result<Module, SandboxError> {
    let Some(dir) = cache_dir else {
        return compile(engine);
    };
    let path = entry_path(engine, dir);
    match read_entry(engine, &path) {
        Ok(Some(module)) => return Ok(module),
        Ok(None) => {}
        Err(reason) => {
            tracing::warn!(path = %path.display(), "ignoring compiled-module cache entry: {reason}")
        }
    }
    let module = compile(engine)?;
    if let Err(err) = write_entry(&module, &path) {
        tracing::warn!(path = %path.display(), "cannot write compiled-module cache entry: {err}");
    }
    Ok(module)
}

/// Compiles the start-up snapshot of the guest; if the snapshot cannot be made, the plain
/// guest (slower calls, same behaviour).
fn compile(engine: &Engine) -> Result<Module, SandboxError> {
    tracing::info!("compiling the QuickJS guest module (once; cached afterwards)");
    let wasm = match super::snapshot::snapshot_guest(engine) {
        Ok(wasm) => wasm,
        Err(err) => {
            tracing::warn!("using the guest without a start-up snapshot: {err}");
            GUEST_WASM.to_vec()
        }
    };
    Module::new(engine, &wasm).map_err(|e| SandboxError::Module(format!("{e:#}")))
}

/// The entry's file name is a digest of everything the compiled code depends on: the guest's
/// bytes, the wasmtime release and the engine's compilation settings.
fn entry_path(engine: &Engine, dir: &Path) -> PathBuf {
    let mut config_hasher = std::collections::hash_map::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut config_hasher);
    let mut key = Sha256::new();
    key.update(b"skillforge-guest-module/2-wizer-snapshot\0");
    key.update(guest_sha256().as_bytes());
    key.update(WASMTIME_VERSION.as_bytes());
    key.update(config_hasher.finish().to_le_bytes());
    dir.join(format!("{}.cwasm", hex::encode(&key.finalize()[..16])))
}

fn digest_path(path: &Path) -> PathBuf {
    path.with_extension("cwasm.xxh3")
}

fn digest(bytes: &[u8]) -> String {
    format!("{:032x}", xxhash_rust::xxh3::xxh3_128(bytes))
}

/// The digest of everything `file` holds from its current position, read in small chunks
/// (no 4 MB buffer to allocate and fault in).
fn digest_of_file(file: &mut File) -> std::io::Result<String> {
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => hasher.update(&chunk[..n]),
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(format!("{:032x}", hasher.digest128()))
}

fn read_entry(engine: &Engine, path: &Path) -> Result<Option<Module>, String> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err.to_string()),
    };
    let recorded =
        std::fs::read_to_string(digest_path(path)).map_err(|e| format!("no digest: {e}"))?;
    if recorded.trim() != digest_of_file(&mut file).map_err(|e| e.to_string())? {
        return Err("digest mismatch (truncated or altered file)".into());
    }
    // SAFETY: the file was written by `write_entry` from `Module::serialize` for an engine
    // whose configuration and version are part of its name, and its bytes hash to the digest
    // recorded beside it, so they are exactly what wasmtime produced. wasmtime maps this same
    // open file (no copy), so the module keeps seeing the bytes just hashed as long as nobody
    // writes into the file in place: entries are only ever replaced whole, by `rename`, which
    // leaves this file untouched. wasmtime additionally checks its own version and
    // configuration header on load.
    let module =
        unsafe { Module::deserialize_open_file(engine, file) }.map_err(|e| format!("{e:#}"))?;
    Ok(Some(module))
}

fn write_entry(module: &Module, path: &Path) -> std::io::Result<()> {
    let bytes = module.serialize().map_err(std::io::Error::other)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let digest_tmp = tempfile_in(dir)?;
    std::fs::write(&digest_tmp, digest(&bytes))?;
    let module_tmp = tempfile_in(dir)?;
    std::fs::write(&module_tmp, &bytes)?;
    // Digest first: a reader that sees the new module also sees its digest.
    std::fs::rename(&digest_tmp, digest_path(path))?;
    std::fs::rename(&module_tmp, path)
}

fn tempfile_in(dir: &Path) -> std::io::Result<PathBuf> {
    let unique = format!(
        ".tmp-{}-{:?}-{}",
        std::process::id(),
        std::thread::current().id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    );
    Ok(dir.join(unique.replace(['(', ')'], "")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_used_only_while_it_matches_its_digest() {
        let engine = super::super::build_engine(1).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = entry_path(&engine, dir.path());
        assert!(
            read_entry(&engine, &path).unwrap().is_none(),
            "no entry yet"
        );

        let empty_module = Module::new(&engine, b"\0asm\x01\0\0\0").unwrap();
        write_entry(&empty_module, &path).unwrap();
        assert!(read_entry(&engine, &path).unwrap().is_some());

        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(
            read_entry(&engine, &path)
                .unwrap_err()
                .contains("digest mismatch")
        );

        std::fs::write(&path, &bytes[..last]).unwrap();
        assert!(
            read_entry(&engine, &path)
                .unwrap_err()
                .contains("digest mismatch")
        );
    }
}
