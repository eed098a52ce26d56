//! The SDK: `skillforge::Runtime` as an embedding program uses it, and the two examples in
//! `examples/` run through the same API. A scripted model stands in for the network;
//! everything else is real: wasmtime, ONNX embeddings, qdrant-edge and SQLite. Needs
//! `scripts/setup embed`.

mod common;

#[allow(dead_code)] // `main` is the example's; the test calls what main calls
#[path = "../examples/embed_agent.rs"]
mod embed_agent;
#[allow(dead_code)]
#[path = "../examples/library_only.rs"]
mod library_only;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;
use skillforge::agent::{AgentError, Environment};
use skillforge::index::{
    EdgeIndex, IndexError, IndexPoint, IndexSpec, SearchHit, SearchQuery, VectorIndex,
};
use skillforge::llm::{
    ChatRequest, ChatResponse, LanguageModel, LlmError, Message, ScriptedModel, UsageCounter,
};
use skillforge::runtime::{
    CancellationToken, EpisodeLeases, LimitOverrides, Runtime, RuntimeBuilder, RuntimeError,
    SkillRun,
};
use skillforge::store::{EpisodeStatus, Lease, SkillId};

/// A reply the way a small model writes it: prose around a fenced block.
fn reply(code: &str) -> String {
    format!("Here it is:\n\n```javascript\n{code}\n```\n")
}

/// A runtime builder on a fresh data dir without the starter library, with the tests'
/// shared embedder.
fn builder(dir: &std::path::Path) -> RuntimeBuilder {
    Runtime::builder()
        .data_dir(dir)
        .load_starter(false)
        .embedder(common::embedder())
}

const STOCK_OF: &str = "/**\n * Returns how many units of an item the warehouse holds.\n * @param {string} item\n * @returns {number}\n * @capability inventory.count\n * @example stockOf(\"pear\") => 5\n */\nfunction stockOf(item) {\n  return host.call(\"inventory.count\", { item });\n}";

const CAN_FILL: &str = "/**\n * Tells whether the warehouse holds enough of every line of an order.\n * @param {{item: string, quantity: number}[]} order\n * @returns {boolean}\n * @example canFill([{item: \"pear\", quantity: 5}]) => true\n * @example canFill([{item: \"pear\", quantity: 6}]) => false\n */\nfunction canFill(order) {\n  return order.every((line) => stockOf(line.item) >= line.quantity);\n}";

#[tokio::test]
async fn the_embedding_example_learns_a_skill_and_a_later_episode_calls_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = Arc::new(ScriptedModel::queue([reply(STOCK_OF), reply(CAN_FILL)]));
    let finished = Arc::new(AtomicUsize::new(0));
    let counter = finished.clone();
    let observer: skillforge::agent::Observer = Arc::new(move |progress| {
        if let skillforge::agent::Progress::Finished(_) = progress {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let runtime = embed_agent::with_warehouse(builder(dir.path()).model(model.clone()))
        .observer(observer)
        .build()
        .await
        .unwrap();
    let (first, second) = embed_agent::learn_and_reuse(&runtime).await.unwrap();
    assert_eq!(
        finished.load(Ordering::SeqCst),
        2,
        "the builder's observer saw both"
    );
    assert_eq!(first.status, EpisodeStatus::Admitted, "{first:#?}");
    assert_eq!(first.skill.as_deref(), Some("default/stockOf"));
    assert_eq!(second.status, EpisodeStatus::Admitted, "{second:#?}");
    assert_eq!(second.skill.as_deref(), Some("default/canFill"));
    // The second episode's code calls the skill the first one learned.
    assert_eq!(second.calls, ["stockOf"]);
    let coder_prompt = &model.requests()[1].messages[1].content;
    assert!(
        coder_prompt.contains("function stockOf(item)"),
        "{coder_prompt}"
    );
    // The example's host function serves the skills, through the capability the operator
    // allowed: the stock is the warehouse's (pear: 5, apple: 3).
    let run = runtime
        .run_skill(
            "canFill",
            json!([[{"item": "apple", "quantity": 3}, {"item": "pear", "quantity": 5}]]),
            LimitOverrides::default(),
        )
        .await
        .unwrap();
    assert_eq!(run.to_json()["value"], json!(true), "{}", run.to_json());
    let detail = runtime.show("stockOf").await.unwrap();
    assert_eq!(detail.called_by[0].name, "canFill");
    runtime.close().await;
}

#[tokio::test]
async fn without_the_operators_grant_the_environments_skill_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = Arc::new(ScriptedModel::queue([reply(STOCK_OF)]));
    let warehouse = embed_agent::Warehouse::new([("pear", 5)]);
    let runtime = builder(dir.path())
        .model(model)
        .environment(Arc::new(warehouse))
        .agent_config(skillforge::agent::AgentConfig {
            max_rounds: 1,
            ..Default::default()
        })
        .build()
        .await
        .unwrap();
    let task = skillforge::runtime::TaskRequest {
        task: "Return how many units of an item the warehouse holds".into(),
        name: Some("stockOf".into()),
        examples: vec![r#"stockOf("pear") => 5"#.into()],
        namespace: None,
    };
    let report = runtime.solve(task.to_task().unwrap()).await.unwrap();
    assert_eq!(report.status, EpisodeStatus::Failed, "{report:#?}");
    assert!(
        report
            .problems
            .as_deref()
            .is_some_and(|p| p.contains("inventory.count")),
        "{report:#?}"
    );
    assert!(runtime.list(&Default::default()).await.unwrap().is_empty());
    runtime.close().await;
}

#[tokio::test]
async fn the_library_only_example_adds_searches_and_runs_a_skill_without_a_model() {
    let dir = tempfile::tempdir().unwrap();
    // No model is given: one would only be built (the local model started) when asked for.
    let runtime = builder(dir.path()).build().await.unwrap();
    let (hits, run) = library_only::add_search_run(&runtime, "Embedding skillforge, the SDK")
        .await
        .unwrap();
    assert_eq!(hits[0].skill.record.qualified_name(), "default/slugify");
    assert!(run.is_ok());
    let printed = run.to_json();
    assert_eq!(printed["ok"], true);
    assert_eq!(printed["value"], "embedding-skillforge-the-sdk");
    assert!(
        printed["stats"]["fuel_used"].as_u64().unwrap() > 0,
        "{printed}"
    );

    // What the skill does wrong is its outcome, in `exec --json`'s shape; what the caller
    // asks wrong is an error it can fix.
    let failed = runtime
        .run_skill("slugify", json!(42), LimitOverrides::default())
        .await
        .unwrap();
    let SkillRun::Ran(outcome) = &failed else {
        panic!("{failed:?}")
    };
    assert_eq!(outcome.failure().unwrap().kind.as_str(), "js_error");
    assert_eq!(failed.to_json()["error"]["kind"], "js_error");
    let above = LimitOverrides {
        fuel: Some(u64::MAX),
        ..LimitOverrides::default()
    };
    let error = runtime
        .run_skill("slugify", json!(["x"]), above)
        .await
        .unwrap_err();
    assert!(error.is_bad_request(), "{error}");
    let error = runtime
        .run_skill("noSuchSkill", json!([]), LimitOverrides::default())
        .await
        .unwrap_err();
    assert!(error.is_bad_request(), "{error}");
    runtime.close().await;
}

/// A vector index of the caller's: qdrant-edge in a directory of its own, counting writes.
struct CountingIndex {
    inner: EdgeIndex,
    upserts: AtomicUsize,
}

#[async_trait::async_trait]
impl VectorIndex for CountingIndex {
    fn spec(&self) -> &IndexSpec {
        self.inner.spec()
    }
    async fn upsert(&self, points: Vec<IndexPoint>) -> Result<(), IndexError> {
        self.upserts.fetch_add(points.len(), Ordering::SeqCst);
        self.inner.upsert(points).await
    }
    async fn delete(&self, ids: &[SkillId]) -> Result<(), IndexError> {
        self.inner.delete(ids).await
    }
    async fn search(&self, query: &SearchQuery) -> Result<Vec<SearchHit>, IndexError> {
        self.inner.search(query).await
    }
    async fn count(&self) -> Result<usize, IndexError> {
        self.inner.count().await
    }
    async fn skill_ids(&self) -> Result<Vec<SkillId>, IndexError> {
        self.inner.skill_ids().await
    }
    async fn optimize(&self) -> Result<(), IndexError> {
        self.inner.optimize().await
    }
}

#[tokio::test]
async fn a_vector_index_of_the_callers_is_the_one_the_library_uses() {
    let dir = tempfile::tempdir().unwrap();
    let embedder = common::embedder();
    let spec = IndexSpec {
        embedder_id: embedder.id().to_string(),
        dimension: embedder.dimension(),
    };
    let index = Arc::new(CountingIndex {
        inner: EdgeIndex::open(&dir.path().join("own-index"), spec).unwrap(),
        upserts: AtomicUsize::new(0),
    });
    let runtime = builder(&dir.path().join("data"))
        .index(index.clone())
        .build()
        .await
        .unwrap();
    let (hits, run) = library_only::add_search_run(&runtime, "A B").await.unwrap();
    assert_eq!(index.upserts.load(Ordering::SeqCst), 1);
    assert_eq!(hits[0].skill.record.name, "slugify");
    assert_eq!(run.to_json()["value"], "a-b");
    // The library's own in-process index was never made.
    assert!(!dir.path().join("data").join("index").exists());
    runtime.close().await;
    drop(runtime);

    // An index made for another embedder is refused, not mixed.
    let other = IndexSpec {
        embedder_id: "another-model@0".into(),
        dimension: 384,
    };
    let foreign = Arc::new(CountingIndex {
        inner: EdgeIndex::open(&dir.path().join("foreign"), other).unwrap(),
        upserts: AtomicUsize::new(0),
    });
    let error = builder(&dir.path().join("data"))
        .index(foreign)
        .build()
        .await
        .err()
        .unwrap();
    assert!(error.to_string().contains("another-model@0"), "{error}");
}

/// A scripted model whose calls past the first `free` wait until the gate opens.
struct Gated {
    inner: ScriptedModel,
    free: usize,
    calls: AtomicUsize,
    reached: tokio::sync::Notify,
    open: tokio::sync::watch::Sender<bool>,
}

impl Gated {
    fn new(free: usize, replies: Vec<String>) -> Arc<Gated> {
        Arc::new(Gated {
            inner: ScriptedModel::queue(replies),
            free,
            calls: AtomicUsize::new(0),
            reached: tokio::sync::Notify::new(),
            open: tokio::sync::watch::channel(false).0,
        })
    }
}

#[async_trait::async_trait]
impl LanguageModel for Gated {
    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, LlmError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) >= self.free {
            self.reached.notify_one();
            let mut open = self.open.subscribe();
            open.wait_for(|open| *open).await.expect("the gate lives");
        }
        self.inner.complete(req).await
    }

    fn model_id(&self) -> &str {
        self.inner.model_id()
    }

    fn usage(&self) -> Arc<UsageCounter> {
        self.inner.usage()
    }

    fn context_tokens(&self) -> u32 {
        self.inner.context_tokens()
    }

    async fn count_tokens(&self, messages: &[Message]) -> Result<u32, LlmError> {
        self.inner.count_tokens(messages).await
    }
}

const PRODUCT: &str = "/**\n * Product of a list.\n * @example product([2, 5]) => 10\n */\nfunction product(xs) {\n  return xs.reduce((p, x) => p * x, 1);\n}";

fn product_task() -> skillforge::agent::Task {
    skillforge::agent::CodeEnvironment::new("arithmetic")
        .seed_tasks()
        .remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_gives_the_episode_id_while_it_runs_and_a_stopped_one_is_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let model = Gated::new(0, vec![reply(PRODUCT)]);
    let runtime = builder(dir.path())
        .model(model.clone())
        .build()
        .await
        .unwrap();

    // The episode exists, with its journal growing, before the model has answered.
    let started = runtime.start(product_task(), None).await.unwrap();
    model.reached.notified().await;
    let record = runtime.episode(started.id()).await.unwrap();
    assert_eq!(record.status, EpisodeStatus::Running);
    let kinds: Vec<String> = runtime
        .episode_events(started.id())
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, ["retrieval"]);

    // Stopped, it is checkpointed; a resume finishes it from where its journal ends.
    started.stop();
    let id = started.id().to_string();
    assert!(matches!(started.report().await, Err(RuntimeError::Stopped)));
    assert_eq!(
        runtime.episode(&id).await.unwrap().status,
        EpisodeStatus::Interrupted
    );
    model.open.send_replace(true);
    let resumed = runtime.spawn_resume().await.unwrap().unwrap();
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0].episode, id);
    assert_eq!(resumed[0].status, EpisodeStatus::Admitted, "{resumed:#?}");
    runtime.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_started_episode_reports_under_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let model = Gated::new(0, vec![reply(PRODUCT)]);
    let runtime = builder(dir.path())
        .model(model.clone())
        .build()
        .await
        .unwrap();
    let started = runtime.start(product_task(), None).await.unwrap();
    let id = started.id().to_string();
    model.open.send_replace(true);
    let report = started.report().await.unwrap();
    assert_eq!(report.episode, id);
    assert_eq!(report.status, EpisodeStatus::Admitted, "{report:#?}");
    assert_eq!(
        runtime.show("product").await.unwrap().skill.version.version,
        1
    );
    runtime.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_run_returns_and_leaves_its_episode_for_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    // Three proposals that are not tasks (the loop falls back to the warm-up task
    // `product`), then the coder, held at the gate.
    let model = Gated::new(
        3,
        vec![
            "How about sorting?".into(),
            "Sorting!".into(),
            "I said sorting.".into(),
            reply(PRODUCT),
        ],
    );
    let runtime = builder(dir.path())
        .model(model.clone())
        .build()
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let run = runtime.spawn_run(5, stop.clone(), None);
    model.reached.notified().await;
    // The loop runs alone: it reads every open episode's journal to resume it.
    let refused = runtime.start(product_task(), None).await.err().unwrap();
    assert!(matches!(refused, RuntimeError::Busy), "{refused}");
    stop.cancel();
    let reports = run.await.unwrap().unwrap();
    assert!(reports.is_empty(), "{reports:#?}");
    let open = runtime.episodes(10).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].status, EpisodeStatus::Interrupted);

    // The next run finishes it first.
    model.open.send_replace(true);
    let reports = runtime
        .spawn_run(1, CancellationToken::new(), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].episode, open[0].id);
    assert!(reports[0].resumed);
    assert_eq!(reports[0].status, EpisodeStatus::Admitted, "{reports:#?}");
    runtime.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_checkpoints_every_episode_in_progress_and_refuses_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let model = Gated::new(0, vec![reply(PRODUCT), reply(PRODUCT)]);
    let runtime = builder(dir.path())
        .model(model.clone())
        .build()
        .await
        .unwrap();
    let started = runtime.start(product_task(), None).await.unwrap();
    model.reached.notified().await;
    let id = started.id().to_string();
    runtime.shutdown().await;
    assert!(runtime.is_shut_down());
    assert!(matches!(started.report().await, Err(RuntimeError::Stopped)));
    assert_eq!(
        runtime.episode(&id).await.unwrap().status,
        EpisodeStatus::Interrupted
    );
    let refused = runtime.start(product_task(), None).await.err().unwrap();
    assert!(matches!(refused, RuntimeError::Stopped), "{refused}");
    runtime.close().await;
    drop(runtime);

    // The next runtime on the library resumes it.
    model.open.send_replace(true);
    let runtime = builder(dir.path()).model(model).build().await.unwrap();
    let resumed = runtime.spawn_resume().await.unwrap().unwrap();
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0].episode, id);
    assert_eq!(resumed[0].status, EpisodeStatus::Admitted, "{resumed:#?}");
    runtime.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_episode_whose_lease_another_process_took_stops_and_writes_nothing_more() {
    let dir = tempfile::tempdir().unwrap();
    let model = Gated::new(0, vec![reply(PRODUCT)]);
    let leases = EpisodeLeases {
        duration: Duration::from_secs(2),
        heartbeat: Duration::from_millis(100),
    };
    let runtime = builder(dir.path())
        .model(model.clone())
        .episode_leases(leases)
        .build()
        .await
        .unwrap();
    let started = runtime.start(product_task(), None).await.unwrap();
    model.reached.notified().await;
    let id = started.id().to_string();
    let store = runtime.library().store();
    let held = store.episode(&id).await.unwrap();
    assert_eq!(held.owner.as_deref(), Some(runtime.instance_id()));
    assert!(held.lease_expires_at.is_some());

    // Another process takes it over (as one would that found this one's lease expired).
    let other = Lease {
        owner: "another-process".into(),
        duration: Duration::from_secs(60),
    };
    assert!(store.claim_episode(&id, &other, true).await.unwrap());
    let journal = store.episode_events(&id).await.unwrap().len();
    // The heartbeat finds the lease gone and stops the episode, ...
    let error = started.report().await.unwrap_err();
    assert!(
        matches!(error, RuntimeError::Agent(AgentError::LeaseLost { .. })),
        "{error}"
    );
    assert!(error.to_string().contains("another-process"), "{error}");
    // ... which writes nothing more, even once the model answers.
    model.open.send_replace(true);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = store.episode(&id).await.unwrap();
    assert_eq!(after.status, EpisodeStatus::Running);
    assert_eq!(after.owner.as_deref(), Some("another-process"));
    assert_eq!(store.episode_events(&id).await.unwrap().len(), journal);
    assert!(runtime.show("product").await.is_err(), "nothing admitted");
    runtime.close().await;
}

/// The daemon hands these futures to `tokio::spawn` and axum: they must be `Send`.
#[allow(dead_code)]
fn the_runtime_calls_a_server_makes_are_send(runtime: Runtime, task: skillforge::agent::Task) {
    fn send<T: Send>(_: T) {}
    send(runtime.start(task, None));
    send(runtime.run_skill("x", json!([]), LimitOverrides::default()));
    send(runtime.search("x", 1, Default::default()));
    send(runtime.list(&Default::default()));
    send(runtime.episode_events("x"));
    send(runtime.model());
    send(runtime.spawn_run(1, CancellationToken::new(), None));
    send(runtime.shutdown());
    send(runtime.environment().name().to_string());
}
