//! Helpers shared by the integration tests: the real embedder and sandbox, loaded once per
//! test binary, and facts about the starter library.

#![allow(dead_code)] // each test binary uses its own subset

pub mod fake_model;

use std::path::Path;
use std::sync::{Arc, OnceLock};

use skillforge::embed::{Embedder, OnnxEmbedder};
use skillforge::library::{Library, LibraryConfig};
use skillforge::sandbox::{HostFunctions, Sandbox, SandboxConfig};
use skillforge::skill::SkillSource;

/// Environment variables that point the binary at a server shared beyond one test (a
/// developer's PostgreSQL or Qdrant): processes started by tests run without them, so each
/// test's library lives in its own data dir only.
pub const SHARED_SERVER_VARIABLES: [&str; 3] =
    ["SKILLFORGE_DATABASE_URL", "QDRANT_URL", "QDRANT_API_KEY"];

/// The ONNX embedder (needs `scripts/setup embed`), loaded once.
pub fn embedder() -> Arc<dyn Embedder> {
    static EMBEDDER: OnceLock<Arc<OnnxEmbedder>> = OnceLock::new();
    EMBEDDER
        .get_or_init(|| Arc::new(OnnxEmbedder::from_env().unwrap_or_else(|e| panic!("{e}"))))
        .clone()
}

/// A sandbox without host functions, started once.
pub fn sandbox() -> Arc<Sandbox> {
    static SANDBOX: OnceLock<Arc<Sandbox>> = OnceLock::new();
    SANDBOX
        .get_or_init(|| {
            Arc::new(Sandbox::new(SandboxConfig::default(), HostFunctions::empty()).unwrap())
        })
        .clone()
}

/// A library in `dir` with the defaults but no starter library.
pub fn config(dir: &Path) -> LibraryConfig {
    let mut config = LibraryConfig::new(dir);
    config.load_starter = false;
    config
}

/// The library of [`config`] in `dir`, opened with the shared embedder and sandbox.
pub async fn open(dir: &Path) -> Library {
    Library::open(&config(dir), embedder(), sandbox())
        .await
        .unwrap()
}

/// A skill file's source, which must parse.
pub fn skill(code: &str) -> SkillSource {
    SkillSource::parse(code, None).unwrap()
}

/// How many skills the starter library (`skills/*.js`) holds.
pub fn starter_count() -> usize {
    std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/skills"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "js")
        })
        .count()
}

/// The JSON a command printed on stdout; on anything else, a panic showing both streams.
pub fn json_of(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

/// A TextCraft skill: oak planks from the logs it fetches (the `get` and `craft` actions).
pub const PLANKS: &str = r#"/**
 * Crafts oak planks from oak logs it fetches, four planks a log.
 * @param {number} [count] planks wanted (rounded up to a multiple of 4)
 * @returns {object} the inventory afterwards
 * @capability get
 * @capability craft
 * @test const inventory = craftOakPlanks(8); assert.strictEqual(inventory["oak planks"], 8);
 */
function craftOakPlanks(count = 4) {
  const logs = Math.ceil(count / 4);
  host.call("get", { item: "oak logs", count: logs });
  let step;
  for (let i = 0; i < logs; i++) {
    step = host.call("craft", { item: "oak planks", count: 4, ingredients: [{ item: "oak logs", count: 1 }] });
  }
  return step.state.inventory;
}"#;

/// A TextCraft skill that calls [`PLANKS`]'s `craftOakPlanks`: a crafting table.
pub const TABLE: &str = r#"/**
 * Crafts a crafting table from four oak planks.
 * @returns {object} the inventory afterwards
 * @capability craft
 * @test const inventory = craftCraftingTable(); assert.strictEqual(inventory["crafting table"], 1);
 */
function craftCraftingTable() {
  craftOakPlanks(4);
  return host.call("craft", { item: "crafting table", count: 1, ingredients: [{ item: "oak planks", count: 4 }] }).state.inventory;
}"#;

/// The offline default model (`scripts/setup llm`), started on loopback with a fixed
/// sampling seed (a test's replies are the same in every run, so a failure is reproduced by
/// running it again); `None` after saying why on stderr when it is not installed, or a panic
/// when `SKILLFORGE_REQUIRE_LOCAL_LLM=1` (as `scripts/test` sets it) demands it.
pub async fn local_model() -> Option<Arc<dyn skillforge::llm::LanguageModel>> {
    use std::io::Write;
    let config = skillforge::llm::LlmConfig {
        sampling_seed: Some(1),
        ..skillforge::llm::LlmConfig::default()
    };
    if let Err(error) = config.local_server_config().check_installed() {
        if std::env::var("SKILLFORGE_REQUIRE_LOCAL_LLM").is_ok_and(|v| v == "1") {
            panic!("SKILLFORGE_REQUIRE_LOCAL_LLM=1 but {error}");
        }
        let _ = writeln!(
            std::io::stderr(),
            "\n!!! SKIPPED a local-model test: {error}\n"
        );
        return None;
    }
    Some(config.build().await.expect("the local model server starts"))
}
