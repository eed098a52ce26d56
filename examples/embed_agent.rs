//! Embedding skillforge with your own environment and host functions.
//!
//! A warehouse is the environment: skills read its stock through the host function
//! `inventory.count`, which this program implements. The agent learns `stockOf` in one
//! episode and, in a later one, `canFill`, which calls `stockOf` from the library.
//!
//! The language model is an OpenAI-compatible endpoint from `SKILLFORGE_LLM_URL` and
//! `SKILLFORGE_LLM_MODEL` (and `OPENAI_API_KEY`), or, like the CLI, the offline local model
//! when no endpoint is set (`scripts/setup llm`). The library lives in a temporary
//! directory. Run it with `cargo run --example embed_agent`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use skillforge::agent::{CodeEnvironment, Environment, EpisodeReport};
use skillforge::compose::Bundle;
use skillforge::runtime::{Runtime, RuntimeBuilder, RuntimeError, TaskRequest};
use skillforge::sandbox::{HostError, HostFunction, HostFunctions, Sandbox, SandboxError};
use skillforge::validate::TestReport;

/// The host function skills read the stock with: `host.call("inventory.count", {item})`.
pub const COUNT: &str = "inventory.count";

/// A warehouse: items and how many units of each it holds.
pub struct Warehouse {
    stock: Arc<BTreeMap<String, i64>>,
    /// Checks a task's examples against a skill the way the `code` environment does.
    checker: CodeEnvironment,
}

impl Warehouse {
    /// A warehouse holding `stock`.
    pub fn new(stock: impl IntoIterator<Item = (&'static str, i64)>) -> Warehouse {
        Warehouse {
            stock: Arc::new(stock.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
            checker: CodeEnvironment::new("warehouse stock"),
        }
    }
}

impl Environment for Warehouse {
    fn name(&self) -> &str {
        "warehouse"
    }

    fn describe(&self) -> String {
        format!(
            "A warehouse. JavaScript skills read its stock with \
             host.call(\"{COUNT}\", {{ item }}), which returns the number of units of that \
             item (0 for an unknown one); a skill that calls it declares `@capability {COUNT}` \
             in its JSDoc. Skills return values; they never print."
        )
    }

    fn host_functions(&self) -> HostFunctions {
        let stock = Arc::clone(&self.stock);
        HostFunctions::empty().with(HostFunction::new(
            COUNT,
            "The number of units of an item in stock: {item} -> number",
            move |_call, args: Value| {
                let item = args["item"]
                    .as_str()
                    .ok_or_else(|| HostError::new("inventory.count needs {item: string}"))?;
                Ok(json!(stock.get(item).copied().unwrap_or(0)))
            },
        ))
    }

    fn state(&self) -> Value {
        json!({ "environment": "warehouse", "items": self.stock.keys().collect::<Vec<_>>() })
    }

    fn check(
        &self,
        sandbox: &Sandbox,
        bundle: &Bundle,
        task: &skillforge::agent::Task,
    ) -> Result<TestReport, SandboxError> {
        self.checker.check(sandbox, bundle, task)
    }
}

/// `builder` set up for the warehouse: the environment, and the policy allowing its host
/// function.
pub fn with_warehouse(builder: RuntimeBuilder) -> RuntimeBuilder {
    let warehouse = Warehouse::new([("apple", 3), ("pear", 5)]);
    builder
        .environment(Arc::new(warehouse))
        .allow_capabilities([COUNT])
}

/// Two episodes: the first learns `stockOf`, the second `canFill`, which can reuse it.
pub async fn learn_and_reuse(
    runtime: &Runtime,
) -> Result<(EpisodeReport, EpisodeReport), RuntimeError> {
    let stock_of = TaskRequest {
        task: "Return how many units of an item the warehouse holds".into(),
        name: Some("stockOf".into()),
        examples: vec![
            r#"stockOf("apple") => 3"#.into(),
            r#"stockOf("kiwi") => 0"#.into(),
        ],
        namespace: None,
    };
    let first = runtime.solve(stock_of.to_task()?).await?;
    let can_fill = TaskRequest {
        task: "Tell whether the warehouse holds enough units of every line of an order \
               (a list of {item, quantity})"
            .into(),
        name: Some("canFill".into()),
        examples: vec![
            r#"canFill([{item: "apple", quantity: 2}]) => true"#.into(),
            r#"canFill([{item: "apple", quantity: 2}, {item: "pear", quantity: 9}]) => false"#
                .into(),
        ],
        namespace: None,
    };
    let second = runtime.solve(can_fill.to_task()?).await?;
    Ok((first, second))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // `from_env` reads the CLI's variables (SKILLFORGE_LLM_URL, ...); the data directory is
    // this example's own.
    let runtime = with_warehouse(Runtime::builder().from_env().data_dir(dir.path()))
        .build()
        .await?;
    let (first, second) = learn_and_reuse(&runtime).await?;
    for report in [&first, &second] {
        println!(
            "episode {}: {} {} (calls: {})",
            report.episode,
            report.status.as_str(),
            report.skill.as_deref().unwrap_or("-"),
            report.calls.join(", ")
        );
    }
    runtime.close().await;
    Ok(())
}
