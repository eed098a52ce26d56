//! One test suite, run against SQLite (a file in a tempdir) and PostgreSQL (a fresh
//! schema per test in `SKILLFORGE_TEST_POSTGRES_URL`; `#[ignore]`d: `cargo test -- --ignored postgres`).

use std::time::Duration;

use serde_json::json;

use super::*;

const PG_ENV: &str = "SKILLFORGE_TEST_POSTGRES_URL";

/// A database a test can open (and reopen, to simulate a restart).
enum Fixture {
    Sqlite {
        _dir: tempfile::TempDir,
        url: String,
    },
    Postgres {
        base: String,
        schema: String,
        url: String,
    },
}

impl Fixture {
    fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        // A nested directory: open must create it.
        let url = format!("sqlite://{}/lib/skills.db", dir.path().display());
        Fixture::Sqlite { _dir: dir, url }
    }

    async fn postgres() -> Fixture {
        let base = std::env::var(PG_ENV).unwrap_or_else(|_| {
            panic!("{PG_ENV} not set; run `export {PG_ENV}=$(scripts/start-postgres)` to test PostgreSQL")
        });
        let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&base)
            .await
            .expect("connect to test postgres");
        sqlx::query(&format!("CREATE SCHEMA {schema}"))
            .execute(&admin)
            .await
            .unwrap();
        admin.close().await;
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options[search_path]={schema}");
        Fixture::Postgres { base, schema, url }
    }

    fn url(&self) -> &str {
        match self {
            Fixture::Sqlite { url, .. } | Fixture::Postgres { url, .. } => url,
        }
    }

    async fn open(&self) -> Store {
        Store::open(self.url()).await.expect("open store")
    }

    async fn cleanup(self) {
        if let Fixture::Postgres { base, schema, .. } = self {
            let admin = sqlx::PgPool::connect(&base).await.unwrap();
            sqlx::query(&format!("DROP SCHEMA {schema} CASCADE"))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
        }
    }
}

fn new_version(namespace: &str, name: &str, code: &str) -> NewVersion {
    NewVersion {
        namespace: namespace.into(),
        name: name.into(),
        description: format!("{name} does something useful"),
        signature: format!("/** @param {{number}} x */ function {name}(x)"),
        code: code.into(),
        tests: json!([{ "input": [1], "expect": 2 }]),
        capabilities: vec!["log".into()],
        embedder_id: Some("test-embedder".into()),
        runnable: true,
        provenance: Provenance {
            task: Some("double a number".into()),
            episode: Some("ep-1".into()),
            model: Some("scripted".into()),
            unchecked: false,
        },
        calls: vec![],
        expect: Expect::Any,
    }
}

async fn add_and_get(fx: &Fixture) {
    let store = fx.open().await;
    let new = new_version("math", "double", "function double(x) { return 2 * x }");
    let v = store.add_version(&new).await.unwrap();
    assert_eq!(v.version, 1);
    assert_eq!(v.code, new.code);
    assert_eq!(v.tests, new.tests);
    assert_eq!(v.capabilities, ["log"]);
    assert_eq!(v.provenance, new.provenance);
    assert_eq!(v.embedder_id.as_deref(), Some("test-embedder"));
    assert!(v.runnable);
    assert_eq!(v.content_hash, content_hash(&new.code, &new.tests));

    let skill = store.get("math", "double").await.unwrap();
    assert_eq!(skill.record.id, v.skill_id);
    assert_eq!(skill.record.status, SkillStatus::Active);
    assert_eq!(skill.record.current_version, 1);
    assert_eq!(skill.version, v);
    assert_eq!(skill.stats.calls, 0);
    assert_eq!(store.get_by_id(v.skill_id).await.unwrap(), skill);
    assert_eq!(store.version(v.id).await.unwrap(), v);
    assert_eq!(store.namespaces().await.unwrap(), ["math"]);
    assert_eq!(
        store.find_by_content_hash(&v.content_hash).await.unwrap(),
        std::slice::from_ref(&v)
    );

    let mut unrunnable = new_version("voyager", "mineWood", "async function mineWood(bot) {}");
    unrunnable.runnable = false;
    unrunnable.embedder_id = None;
    let u = store.add_version(&unrunnable).await.unwrap();
    assert!(!u.runnable);
    assert_eq!(u.embedder_id, None);

    assert!(matches!(
        store.get("math", "missing").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.version(VersionId(999_999)).await,
        Err(StoreError::NotFound(_))
    ));
    let mut empty = new_version("", "x", "");
    empty.namespace = " ".into();
    assert!(matches!(
        store.add_version(&empty).await,
        Err(StoreError::Invalid(_))
    ));
    store.close().await;
}

async fn version_bump_and_rollback(fx: &Fixture) {
    let store = fx.open().await;
    let v1 = store
        .add_version(&new_version("m", "f", "function f(x) { return x }"))
        .await
        .unwrap();

    let mut next = new_version("m", "f", "function f(x) { return x + 0 }");
    next.expect = Expect::Current(1);
    let v2 = store.add_version(&next).await.unwrap();
    assert_eq!((v2.version, v2.skill_id), (2, v1.skill_id));
    assert_ne!(v2.content_hash, v1.content_hash);

    // Stale expectation and duplicate creation are conflicts and write nothing.
    assert!(matches!(
        store.add_version(&next).await,
        Err(StoreError::Conflict(_))
    ));
    let mut fresh = new_version("m", "f", "x");
    fresh.expect = Expect::New;
    assert!(matches!(
        store.add_version(&fresh).await,
        Err(StoreError::Conflict(_))
    ));
    let mut ghost = new_version("m", "ghost", "x");
    ghost.expect = Expect::Current(1);
    assert!(matches!(
        store.add_version(&ghost).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.versions(v1.skill_id).await.unwrap(),
        [v1.clone(), v2.clone()]
    );

    store.set_current_version(v1.skill_id, 1).await.unwrap();
    assert_eq!(store.get("m", "f").await.unwrap().version, v1);
    assert!(matches!(
        store.set_current_version(v1.skill_id, 7).await,
        Err(StoreError::NotFound(_))
    ));
    // After a rollback, the next version still gets a new number.
    let v3 = store
        .add_version(&new_version("m", "f", "v3"))
        .await
        .unwrap();
    assert_eq!(v3.version, 3);
    let current = store.all_current_versions().await.unwrap();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].version, v3);
    assert_eq!(current[0].skill.current_version, 3);
    store.close().await;
}

async fn edges_and_callers(fx: &Fixture) {
    let store = fx.open().await;
    let a = store
        .add_version(&new_version("g", "a", "function a() {}"))
        .await
        .unwrap();
    let b0 = store
        .add_version(&new_version("g", "b0", "function b0() {}"))
        .await
        .unwrap();
    let mut b = new_version("g", "b", "function b() { return a() + b0() }");
    b.calls = vec![a.id, b0.id, a.id];
    let b1 = store.add_version(&b).await.unwrap();
    let mut c = new_version("other", "c", "function c() { return a() }");
    c.calls = vec![a.id];
    let c1 = store.add_version(&c).await.unwrap();

    let callees: Vec<_> = store
        .callees(b1.skill_id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.namespace, r.name, r.version_id))
        .collect();
    assert_eq!(
        callees,
        [
            ("g".into(), "a".into(), a.id),
            ("g".into(), "b0".into(), b0.id)
        ]
    );
    let callers: Vec<_> = store
        .callers(a.skill_id)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.name, r.version))
        .collect();
    assert_eq!(callers, [("b".to_string(), 1), ("c".to_string(), 1)]);

    // A new version of a callee keeps the callers (they pin the old version) ...
    store
        .add_version(&new_version("g", "a", "function a() { return 1 }"))
        .await
        .unwrap();
    assert_eq!(store.callers(a.skill_id).await.unwrap().len(), 2);
    // ... and a caller whose current version no longer calls it drops out.
    store
        .add_version(&new_version("other", "c", "function c() {}"))
        .await
        .unwrap();
    let callers = store.callers(a.skill_id).await.unwrap();
    assert_eq!(callers.len(), 1);
    assert_eq!(callers[0].name, "b");
    assert!(store.callees(c1.skill_id).await.unwrap().is_empty());

    let mut dangling = new_version("g", "d", "function d() {}");
    dangling.calls = vec![VersionId(424_242)];
    assert!(matches!(
        store.add_version(&dangling).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.get("g", "d").await,
        Err(StoreError::NotFound(_))
    ));
    let mut self_call = new_version("g", "a", "function a() { return a() }");
    self_call.calls = vec![a.id];
    assert!(matches!(
        store.add_version(&self_call).await,
        Err(StoreError::Invalid(_))
    ));

    // Deleting a skill that others call is refused; deleting the caller works.
    assert!(matches!(
        store.delete_skill(a.skill_id).await,
        Err(StoreError::Conflict(_))
    ));
    store.delete_skill(b1.skill_id).await.unwrap();
    assert!(matches!(
        store.get("g", "b").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.version(b1.id).await,
        Err(StoreError::NotFound(_))
    ));
    // c's first version still calls a: refused until c is gone too.
    assert!(matches!(
        store.delete_skill(a.skill_id).await,
        Err(StoreError::Conflict(_))
    ));
    store.delete_skill(c1.skill_id).await.unwrap();
    store.delete_skill(a.skill_id).await.unwrap();
    assert!(matches!(
        store.callers(a.skill_id).await,
        Err(StoreError::NotFound(_))
    ));
    store.close().await;
}

async fn stats_status_and_list(fx: &Fixture) {
    let store = fx.open().await;
    let a = store
        .add_version(&new_version("n1", "a", "1"))
        .await
        .unwrap();
    let b = store
        .add_version(&new_version("n1", "b", "2"))
        .await
        .unwrap();
    let c = store
        .add_version(&new_version("n2", "c", "3"))
        .await
        .unwrap();

    store
        .record_call(a.skill_id, CallOutcome::Success, Duration::from_millis(10))
        .await
        .unwrap();
    store
        .record_call(a.skill_id, CallOutcome::Failure, Duration::from_millis(30))
        .await
        .unwrap();
    store
        .record_call(a.skill_id, CallOutcome::Success, Duration::from_millis(20))
        .await
        .unwrap();
    // A miss is a call, neither a success nor a failure, and leaves the rate alone.
    store
        .record_call(a.skill_id, CallOutcome::Miss, Duration::from_millis(20))
        .await
        .unwrap();
    let stats = store.stats(a.skill_id).await.unwrap();
    assert_eq!(
        (stats.calls, stats.successes, stats.failures, stats.misses),
        (4, 2, 1, 1)
    );
    assert_eq!(stats.total_latency_ms, 80);
    assert_eq!(stats.mean_latency(), Some(Duration::from_millis(20)));
    assert!((stats.success_rate().unwrap() - 2.0 / 3.0).abs() < 1e-9);
    assert!(stats.last_used_at.is_some());
    assert!(stats.last_verified_at.is_none());
    store.mark_verified(a.skill_id).await.unwrap();
    let verified = store
        .stats(a.skill_id)
        .await
        .unwrap()
        .last_verified_at
        .unwrap();
    assert!(verified <= chrono::Utc::now());
    let stats_of_a_after_verification = store.stats(a.skill_id).await.unwrap();
    assert_eq!(stats_of_a_after_verification.misses, 1);
    assert!(matches!(
        store
            .record_call(SkillId(777_777), CallOutcome::Success, Duration::ZERO)
            .await,
        Err(StoreError::NotFound(_))
    ));

    store
        .set_status(b.skill_id, SkillStatus::Deprecated)
        .await
        .unwrap();
    store
        .set_status(c.skill_id, SkillStatus::Quarantined)
        .await
        .unwrap();
    assert_eq!(
        store.get("n1", "b").await.unwrap().record.status,
        SkillStatus::Deprecated
    );
    assert!(matches!(
        store
            .set_status(SkillId(777_777), SkillStatus::Active)
            .await,
        Err(StoreError::NotFound(_))
    ));

    let names = |records: Vec<SkillRecord>| -> Vec<String> {
        records.into_iter().map(|r| r.name).collect()
    };
    assert_eq!(
        names(store.list(&ListFilter::default()).await.unwrap()),
        ["a", "b", "c"]
    );
    let active = ListFilter {
        namespace: None,
        statuses: vec![SkillStatus::Active],
        ..Default::default()
    };
    assert_eq!(names(store.list(&active).await.unwrap()), ["a"]);
    let n1_any = ListFilter {
        namespace: Some("n1".into()),
        statuses: vec![],
        ..Default::default()
    };
    assert_eq!(names(store.list(&n1_any).await.unwrap()), ["a", "b"]);
    let n2_not_active = ListFilter {
        namespace: Some("n2".into()),
        statuses: vec![SkillStatus::Deprecated, SkillStatus::Quarantined],
        ..Default::default()
    };
    assert_eq!(names(store.list(&n2_not_active).await.unwrap()), ["c"]);
    assert_eq!(store.namespaces().await.unwrap(), ["n1", "n2"]);
    assert_eq!(store.count_skills(None).await.unwrap(), 3);
    assert_eq!(store.count_skills(Some("n1")).await.unwrap(), 2);
    assert_eq!(store.count_skills(Some("none")).await.unwrap(), 0);

    // Pages: the skills after a (namespace, name), at most `limit` of them, with the other
    // conditions still applied.
    let page = |after: Option<(&str, &str)>, limit, filter: &ListFilter| ListFilter {
        after: after.map(|(ns, name)| (ns.to_string(), name.to_string())),
        limit,
        ..filter.clone()
    };
    let any = ListFilter::default();
    for (filter, expected) in [
        (page(None, Some(2), &any), vec!["a", "b"]),
        (page(Some(("n1", "b")), Some(2), &any), vec!["c"]),
        (page(Some(("n1", "a")), None, &any), vec!["b", "c"]),
        (page(Some(("n1", "zz")), Some(5), &any), vec!["c"]),
        (page(Some(("n2", "c")), Some(5), &any), vec![]),
        (page(Some(("n1", "a")), Some(5), &n1_any), vec!["b"]),
        (page(Some(("n1", "a")), Some(5), &n2_not_active), vec!["c"]),
        (page(Some(("n1", "")), Some(1), &active), vec!["a"]),
    ] {
        assert_eq!(
            names(store.list(&filter).await.unwrap()),
            expected,
            "{filter:?}"
        );
        let joined: Vec<String> = store
            .list_skills(&filter)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.record.name)
            .collect();
        assert_eq!(joined, expected, "{filter:?}");
    }

    // The joined listing agrees with one `get` per skill, for every filter.
    for filter in [ListFilter::default(), active, n1_any, n2_not_active] {
        let listed = store.list_skills(&filter).await.unwrap();
        let one_by_one: Vec<Skill> = futures::future::try_join_all(
            store
                .list(&filter)
                .await
                .unwrap()
                .iter()
                .map(|r| store.get_by_id(r.id)),
        )
        .await
        .unwrap();
        assert_eq!(listed, one_by_one, "{filter:?}");
    }
    let a_listed = store.list_skills(&ListFilter::default()).await.unwrap();
    assert_eq!(a_listed[0].stats, stats_of_a_after_verification);
    store.close().await;
}

async fn outbox_replay(fx: &Fixture) {
    let store = fx.open().await;
    let a = store
        .add_version(&new_version("o", "a", "1"))
        .await
        .unwrap();
    let b = store
        .add_version(&new_version("o", "b", "2"))
        .await
        .unwrap();
    store
        .set_status(a.skill_id, SkillStatus::Deprecated)
        .await
        .unwrap();
    // Stats do not change what the index holds: no outbox entry.
    store
        .record_call(b.skill_id, CallOutcome::Success, Duration::from_millis(1))
        .await
        .unwrap();
    let pending = store.pending().await.unwrap();
    let ops: Vec<_> = pending.iter().map(|e| (e.skill_id, e.op)).collect();
    assert_eq!(
        ops,
        [
            (a.skill_id, OutboxOp::Upsert),
            (b.skill_id, OutboxOp::Upsert),
            (a.skill_id, OutboxOp::Upsert)
        ]
    );
    // Apply the first entry, then "crash" before acking the rest.
    store.ack(pending[0].id).await.unwrap();
    store.close().await;
    drop(store);

    let store = fx.open().await;
    let replay = store.pending().await.unwrap();
    assert_eq!(replay, pending[1..]);
    for entry in &replay {
        store.ack(entry.id).await.unwrap();
    }
    assert!(store.pending().await.unwrap().is_empty());
    assert!(matches!(
        store.ack(pending[1].id).await,
        Err(StoreError::NotFound(_))
    ));

    store.delete_skill(b.skill_id).await.unwrap();
    let pending = store.pending().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(
        (pending[0].skill_id, pending[0].op),
        (b.skill_id, OutboxOp::Delete)
    );
    store.close().await;
}

async fn transaction_rollback_leaves_nothing(fx: &Fixture) {
    let store = fx.open().await;
    let base = store
        .add_version(&new_version("t", "base", "0"))
        .await
        .unwrap();
    store
        .ack(store.pending().await.unwrap()[0].id)
        .await
        .unwrap();

    // Followers of this process's writes (`commits`) hear of commits only.
    let mut commits = store.clone().commits();
    commits.mark_unchanged();

    // Dropped without commit.
    {
        let mut tx = store.begin().await.unwrap();
        let mut new = new_version("tx", "admitted", "1");
        new.calls = vec![base.id];
        let v = tx.add_version(&new).await.unwrap();
        // Reads inside the transaction see its writes.
        assert_eq!(tx.get("tx", "admitted").await.unwrap().version, v);
        tx.record_call(
            base.skill_id,
            CallOutcome::Success,
            Duration::from_millis(5),
        )
        .await
        .unwrap();
        tx.mark_verified(base.skill_id).await.unwrap();
        tx.set_meta("k", "v").await.unwrap();
    }
    // Explicit rollback.
    let mut tx = store.begin().await.unwrap();
    tx.add_version(&new_version("tx", "other", "2"))
        .await
        .unwrap();
    tx.set_status(base.skill_id, SkillStatus::Quarantined)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(!commits.has_changed().unwrap(), "a rollback is no write");
    store.set_meta("k2", "v").await.unwrap();
    assert!(commits.has_changed().unwrap(), "a write is one commit");
    commits.mark_unchanged();

    assert!(matches!(
        store.get("tx", "admitted").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.get("tx", "other").await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.namespaces().await.unwrap(), ["t"]);
    assert!(store.callers(base.skill_id).await.unwrap().is_empty());
    let base_now = store.get("t", "base").await.unwrap();
    assert_eq!(base_now.record.status, SkillStatus::Active);
    assert_eq!(base_now.stats.calls, 0);
    assert!(base_now.stats.last_verified_at.is_none());
    assert!(store.pending().await.unwrap().is_empty());
    assert_eq!(store.get_meta("k").await.unwrap(), None);

    // A failing operation inside a transaction leaves the earlier ones uncommitted
    // once the transaction is dropped.
    let mut tx = store.begin().await.unwrap();
    tx.add_version(&new_version("tx", "first", "1"))
        .await
        .unwrap();
    let mut bad = new_version("tx", "second", "2");
    bad.calls = vec![VersionId(31_337)];
    assert!(tx.add_version(&bad).await.is_err());
    drop(tx);
    assert!(matches!(
        store.get("tx", "first").await,
        Err(StoreError::NotFound(_))
    ));

    // Committed: everything at once.
    let mut tx = store.begin().await.unwrap();
    let mut new = new_version("tx", "admitted", "1");
    new.calls = vec![base.id];
    let v = tx.add_version(&new).await.unwrap();
    tx.record_call(
        base.skill_id,
        CallOutcome::Success,
        Duration::from_millis(5),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.get("tx", "admitted").await.unwrap().version, v);
    assert_eq!(store.stats(base.skill_id).await.unwrap().calls, 1);
    assert_eq!(
        store.callers(base.skill_id).await.unwrap()[0].name,
        "admitted"
    );
    assert_eq!(store.pending().await.unwrap().len(), 1);
    store.close().await;
}

async fn meta_and_reopen(fx: &Fixture) {
    let store = fx.open().await;
    assert_eq!(store.get_meta("index.embedder").await.unwrap(), None);
    store.set_meta("index.embedder", "a").await.unwrap();
    store.set_meta("index.embedder", "b").await.unwrap();
    store
        .add_version(&new_version("p", "kept", "1"))
        .await
        .unwrap();
    store.close().await;
    // Reopening runs the (already applied) migrations again and keeps the data.
    let store = fx.open().await;
    assert_eq!(
        store.get_meta("index.embedder").await.unwrap().as_deref(),
        Some("b")
    );
    assert_eq!(
        store.get("p", "kept").await.unwrap().record.current_version,
        1
    );
    store.close().await;
}

async fn concurrent_writers_conflict_or_serialize(fx: &Fixture) {
    let store = fx.open().await;
    store
        .add_version(&new_version("c", "shared", "0"))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut new = new_version("c", "shared", &format!("v{i}"));
            new.expect = Expect::Current(1);
            store.add_version(&new).await
        }));
    }
    let mut ok = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(v) => {
                assert_eq!(v.version, 2);
                ok += 1;
            }
            Err(StoreError::Conflict(_)) => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
    }
    assert_eq!(ok, 1, "exactly one writer wins version 2");
    assert_eq!(
        store
            .get("c", "shared")
            .await
            .unwrap()
            .record
            .current_version,
        2
    );
    store.close().await;
}

async fn episode_journal(fx: &Fixture) {
    let store = fx.open().await;
    let task = json!({"description": "reverse a string", "name": "reverse", "tests": []});
    let first = store
        .create_episode(&NewEpisode {
            task: task.clone(),
            source: EpisodeSource::User,
        })
        .await
        .unwrap();
    assert!(uuid::Uuid::parse_str(&first.id).is_ok(), "{}", first.id);
    assert_eq!(first.task, task);
    assert_eq!(first.source, EpisodeSource::User);
    assert_eq!(first.status, EpisodeStatus::Running);
    assert_eq!((first.finished_at, first.outcome.clone()), (None, None));
    assert_eq!(store.episode(&first.id).await.unwrap(), first);
    assert!(store.episode_events(&first.id).await.unwrap().is_empty());

    // Events are numbered 1, 2, ... per episode and come back in order.
    let call = json!({"messages": [{"role": "user", "content": "hi"}], "reply": "x",
                      "prompt_tokens": 12, "completion_tokens": 3});
    let e1 = store
        .append_event(&first.id, "retrieval", &json!({"skills": ["words"]}))
        .await
        .unwrap();
    let e2 = store
        .append_event(&first.id, "llm_call", &call)
        .await
        .unwrap();
    assert_eq!((e1.seq, e2.seq), (1, 2));
    assert!(e2.id > e1.id);
    assert_eq!(e2.episode_id, first.id);
    assert_eq!(e2.payload, call);
    std::thread::sleep(Duration::from_millis(5));
    let second = store
        .create_episode(&NewEpisode {
            task: json!({"description": "sum a list"}),
            source: EpisodeSource::Curriculum,
        })
        .await
        .unwrap();
    // Another episode's numbering is its own.
    let other = store
        .append_event(&second.id, "attempt", &json!({"round": 1}))
        .await
        .unwrap();
    assert_eq!(other.seq, 1);
    let e3 = store
        .append_event(&first.id, "verdict", &json!({"passed": true}))
        .await
        .unwrap();
    assert_eq!(e3.seq, 3);
    let events = store.episode_events(&first.id).await.unwrap();
    assert_eq!(events, [e1, e2, e3.clone()]);
    let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["retrieval", "llm_call", "verdict"]);

    assert_eq!(
        ids(store.unfinished_episodes().await.unwrap()),
        [first.id.clone(), second.id.clone()]
    );
    assert_eq!(
        ids(store.list_episodes(10).await.unwrap()),
        [second.id.clone(), first.id.clone()]
    );
    assert_eq!(
        ids(store.list_episodes(1).await.unwrap()),
        std::slice::from_ref(&second.id)
    );
    assert!(store.list_episodes(0).await.unwrap().is_empty());
    assert!(matches!(
        store.list_episodes(-1).await,
        Err(StoreError::Invalid(_))
    ));

    // Finishing closes the journal.
    let outcome = json!({"skill": "reverse", "version": 1});
    store
        .finish_episode(&first.id, EpisodeStatus::Admitted, &outcome)
        .await
        .unwrap();
    let done = store.episode(&first.id).await.unwrap();
    assert_eq!(done.status, EpisodeStatus::Admitted);
    assert_eq!(done.outcome, Some(outcome));
    assert!(done.finished_at.unwrap() >= done.started_at);
    assert!(matches!(
        store.append_event(&first.id, "attempt", &json!({})).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .finish_episode(&first.id, EpisodeStatus::Failed, &json!(null))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store
            .finish_episode(&second.id, EpisodeStatus::Running, &json!(null))
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(store.episode_events(&first.id).await.unwrap().len(), 3);
    assert_eq!(
        ids(store.unfinished_episodes().await.unwrap()),
        std::slice::from_ref(&second.id)
    );

    // Unknown episodes and empty kinds.
    for missing in [
        store.episode("nope").await.err(),
        store.episode_events("nope").await.err(),
        store
            .append_event("nope", "attempt", &json!({}))
            .await
            .err(),
        store
            .finish_episode("nope", EpisodeStatus::Failed, &json!({}))
            .await
            .err(),
    ] {
        assert!(
            matches!(missing, Some(StoreError::NotFound(_))),
            "{missing:?}"
        );
    }
    assert!(matches!(
        store.append_event(&second.id, " ", &json!({})).await,
        Err(StoreError::Invalid(_))
    ));

    // A restart finds the unfinished episode and its events as they were.
    store.close().await;
    let store = fx.open().await;
    let unfinished = store.unfinished_episodes().await.unwrap();
    assert_eq!(unfinished, std::slice::from_ref(&second));
    assert_eq!(store.episode_events(&second.id).await.unwrap(), [other]);
    // Interrupted is not an end: the episode stays open, its journal too.
    assert!(matches!(
        store
            .finish_episode(&second.id, EpisodeStatus::Interrupted, &json!(null))
            .await,
        Err(StoreError::Invalid(_))
    ));
    store.interrupt_episode(&second.id).await.unwrap();
    let interrupted = store.unfinished_episodes().await.unwrap();
    assert_eq!(ids(interrupted.clone()), std::slice::from_ref(&second.id));
    assert_eq!(interrupted[0].status, EpisodeStatus::Interrupted);
    assert_eq!(interrupted[0].finished_at, None);
    store
        .append_event(&second.id, "interrupted", &json!({"error": "boom"}))
        .await
        .unwrap();
    store
        .finish_episode(
            &second.id,
            EpisodeStatus::Failed,
            &json!({"abandoned": "boom"}),
        )
        .await
        .unwrap();
    assert!(store.unfinished_episodes().await.unwrap().is_empty());
    assert!(matches!(
        store.interrupt_episode(&second.id).await,
        Err(StoreError::Conflict(_))
    ));
    store.close().await;
}

fn ids(episodes: Vec<EpisodeRecord>) -> Vec<String> {
    episodes.into_iter().map(|e| e.id).collect()
}

async fn admission_event_shares_the_transaction(fx: &Fixture) {
    let store = fx.open().await;
    let episode = store
        .create_episode(&NewEpisode {
            task: json!({"description": "double a number"}),
            source: EpisodeSource::Curriculum,
        })
        .await
        .unwrap();
    store
        .append_event(&episode.id, "verdict", &json!({"passed": true}))
        .await
        .unwrap();

    // Rolled back: neither the skill nor the admission event nor the finish remain.
    let mut tx = store.begin().await.unwrap();
    let v = tx
        .add_version(&new_version(
            "a",
            "double",
            "function double(x) { return 2 * x }",
        ))
        .await
        .unwrap();
    let event = tx
        .append_event(&episode.id, "admission", &json!({"version_id": v.id}))
        .await
        .unwrap();
    assert_eq!(event.seq, 2);
    tx.finish_episode(&episode.id, EpisodeStatus::Admitted, &json!({}))
        .await
        .unwrap();
    assert_eq!(
        tx.episode(&episode.id).await.unwrap().status,
        EpisodeStatus::Admitted
    );
    tx.rollback().await.unwrap();
    assert!(store.get("a", "double").await.is_err());
    assert_eq!(store.episode_events(&episode.id).await.unwrap().len(), 1);
    assert_eq!(
        store.episode(&episode.id).await.unwrap().status,
        EpisodeStatus::Running
    );

    // Committed: all of it.
    let mut tx = store.begin().await.unwrap();
    let v = tx
        .add_version(&new_version(
            "a",
            "double",
            "function double(x) { return 2 * x }",
        ))
        .await
        .unwrap();
    let event = tx
        .append_event(&episode.id, "admission", &json!({"version_id": v.id}))
        .await
        .unwrap();
    tx.finish_episode(
        &episode.id,
        EpisodeStatus::Admitted,
        &json!({"version_id": v.id}),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.get("a", "double").await.unwrap().version, v);
    let events = store.episode_events(&episode.id).await.unwrap();
    assert_eq!(events.last(), Some(&event));
    assert_eq!(event.seq, 2);
    assert_eq!(
        store.episode(&episode.id).await.unwrap().status,
        EpisodeStatus::Admitted
    );
    store.close().await;
}

/// A read-only store beside a writer: it reads while the writer's transaction is open
/// (SQLite's WAL: no waiting for the write lock), sees only committed rows, and cannot write.
async fn read_only_beside_a_writer(fx: &Fixture) {
    let writer = fx.open().await;
    let double = writer
        .add_version(&new_version(
            "math",
            "double",
            "function double(x) { return 2 * x }",
        ))
        .await
        .unwrap();
    let reader = Store::open_read_only(fx.url()).await.unwrap();
    let mut tx = writer.begin().await.unwrap();
    tx.add_version(&new_version(
        "math",
        "triple",
        "function triple(x) { return 3 * x }",
    ))
    .await
    .unwrap();
    let seen = tokio::time::timeout(
        Duration::from_secs(5),
        reader.list_skills(&ListFilter::default()),
    )
    .await
    .expect("a reader does not wait for a writer")
    .unwrap();
    assert_eq!(seen.len(), 1, "uncommitted rows are not read");
    assert_eq!(seen[0].version, double);
    tx.commit().await.unwrap();
    assert_eq!(
        reader
            .list_skills(&ListFilter::default())
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        reader
            .add_version(&new_version(
                "math",
                "halve",
                "function halve(x) { return x / 2 }"
            ))
            .await
            .is_err(),
        "a read-only store refuses writes"
    );
    reader.close().await;
    writer.close().await;
}

async fn eval_runs(fx: &Fixture) {
    let store = fx.open().await;
    let first = store
        .create_eval_run("suite a.jsonl", &json!({"arms": []}))
        .await
        .unwrap();
    assert_eq!(first.source, "suite a.jsonl");
    assert_eq!(first.report, json!({"arms": []}));
    assert_eq!(first.finished_at, None);
    let second = store
        .create_eval_run("textcraft", &json!({"arms": [1]}))
        .await
        .unwrap();

    // Reports are rewritten as tasks finish; the last one finishes the run.
    store
        .update_eval_run(&first.id, &json!({"arms": [2]}), false)
        .await
        .unwrap();
    assert_eq!(store.eval_run(&first.id).await.unwrap().finished_at, None);
    store
        .update_eval_run(&first.id, &json!({"arms": [3]}), true)
        .await
        .unwrap();
    let done = store.eval_run(&first.id).await.unwrap();
    assert_eq!(done.report, json!({"arms": [3]}));
    assert!(done.finished_at.is_some_and(|t| t >= done.started_at));

    let listed: Vec<String> = store
        .list_eval_runs(10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, [second.id.clone(), first.id.clone()]);
    assert_eq!(store.list_eval_runs(1).await.unwrap().len(), 1);
    assert!(matches!(
        store.eval_run("nope").await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store.update_eval_run("nope", &json!({}), true).await,
        Err(StoreError::NotFound(_))
    ));
    store.close().await;
}

fn lease(owner: &str, duration: Duration) -> Lease {
    Lease {
        owner: owner.into(),
        duration,
    }
}

async fn episode_leases(fx: &Fixture) {
    let store = fx.open().await;
    let new = NewEpisode {
        task: json!({"description": "t"}),
        source: EpisodeSource::User,
    };
    let episode = store.create_episode(&new).await.unwrap();
    assert_eq!(
        (episode.owner.clone(), episode.lease_expires_at),
        (None, None)
    );
    let id = episode.id.clone();
    let long = Duration::from_secs(30);

    // Of eight processes claiming a free episode at once, one gets it.
    let claims: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            let id = id.clone();
            tokio::spawn(async move {
                let owner = format!("p{i}");
                (
                    owner.clone(),
                    store.claim_episode(&id, &lease(&owner, long), false).await,
                )
            })
        })
        .collect();
    let mut winners = Vec::new();
    for claim in claims {
        let (owner, won) = claim.await.unwrap();
        if won.unwrap() {
            winners.push(owner);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let a = lease(&winners[0], long);
    let held = store.episode(&id).await.unwrap();
    assert_eq!(held.owner.as_deref(), Some(a.owner.as_str()));
    assert!(held.lease_expires_at.unwrap() > chrono::Utc::now() + chrono::TimeDelta::seconds(20));
    let b = lease(if a.owner == "p0" { "p1" } else { "p0" }, long);
    // A live lease is its owner's alone: renewed by it, refused to the others.
    assert!(store.hold_episode(&id, &a).await.unwrap());
    assert!(!store.hold_episode(&id, &b).await.unwrap());
    assert!(!store.claim_episode(&id, &b, false).await.unwrap());
    assert!(!store.release_episode(&id, &b.owner).await.unwrap());

    // Expired (its owner stopped renewing), it is taken over, and its old owner is shut out.
    assert!(
        store
            .hold_episode(&id, &lease(&a.owner, Duration::ZERO))
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(5)).await;
    assert!(store.claim_episode(&id, &b, false).await.unwrap());
    assert!(!store.hold_episode(&id, &a).await.unwrap());
    assert_eq!(
        store.episode(&id).await.unwrap().owner,
        Some(b.owner.clone())
    );
    // Its own live lease is not claimed back by its owner, whatever `others_stale` says.
    assert!(!store.claim_episode(&id, &b, true).await.unwrap());
    // `others_stale`: a sole writer takes what a dead predecessor holds.
    let c = lease("c", long);
    assert!(store.claim_episode(&id, &c, true).await.unwrap());

    // Released on a clean stop: interrupted and free for anyone at once.
    assert!(store.release_episode(&id, &c.owner).await.unwrap());
    let released = store.episode(&id).await.unwrap();
    assert_eq!(released.status, EpisodeStatus::Interrupted);
    assert_eq!((released.owner, released.lease_expires_at), (None, None));
    assert!(store.claim_episode(&id, &a, false).await.unwrap());

    // A finished episode has no lease to take.
    store
        .finish_episode(&id, EpisodeStatus::Failed, &json!({}))
        .await
        .unwrap();
    assert!(!store.hold_episode(&id, &a).await.unwrap());
    assert!(!store.claim_episode(&id, &b, true).await.unwrap());
    assert!(!store.release_episode(&id, &a.owner).await.unwrap());
    store.close().await;
}

/// Processes admitting different skills at once all keep theirs: none is lost, the stats of
/// a skill they all call count every call, and every admission queues its index entry.
async fn concurrent_admissions_are_all_kept(fx: &Fixture) {
    let store = fx.open().await;
    let callee = store
        .add_version(&new_version("base", "helper", "0"))
        .await
        .unwrap();
    let admissions: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut tx = store.begin().await?;
                let mut new = new_version("fresh", &format!("skill{i}"), &format!("{i}"));
                new.calls = vec![callee.id];
                tx.add_version(&new).await?;
                tx.record_call(
                    callee.skill_id,
                    CallOutcome::Success,
                    Duration::from_millis(1),
                )
                .await?;
                tx.commit().await
            })
        })
        .collect();
    for admission in admissions {
        admission.await.unwrap().unwrap();
    }
    let fresh = ListFilter {
        namespace: Some("fresh".into()),
        ..Default::default()
    };
    assert_eq!(store.list(&fresh).await.unwrap().len(), 8);
    assert_eq!(store.stats(callee.skill_id).await.unwrap().calls, 8);
    assert_eq!(store.callers(callee.skill_id).await.unwrap().len(), 8);
    assert_eq!(store.pending().await.unwrap().len(), 9);
    store.close().await;
}

/// Drainers of the outbox take turns: a second waits for the first to commit, and then sees
/// none of the entries the first acknowledged.
async fn outbox_drainers_take_turns(fx: &Fixture) {
    let store = fx.open().await;
    store
        .add_version(&new_version("o", "a", "1"))
        .await
        .unwrap();
    let mut first = store.begin().await.unwrap();
    first.lock_outbox().await.unwrap();
    let entries = first.pending().await.unwrap();
    assert_eq!(entries.len(), 1);
    let (locked, mut turn) = tokio::sync::oneshot::channel();
    let second = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            tx.lock_outbox().await.unwrap();
            let _ = locked.send(());
            let pending = tx.pending().await.unwrap();
            tx.commit().await.unwrap();
            pending
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(turn.try_recv().is_err(), "the second drainer did not wait");
    first.ack(entries[0].id).await.unwrap();
    first.commit().await.unwrap();
    assert!(second.await.unwrap().is_empty());
    store.close().await;
}

/// Pruning deletes the journals of finished episodes that admitted nothing and finished
/// before the cutoff, marks their rows, keeps everything else, and does it once.
async fn journal_pruning(fx: &Fixture) {
    let store = fx.open().await;
    let mut episodes = Vec::new();
    for (name, finish) in [
        ("failed", Some(EpisodeStatus::Failed)),
        ("reused", Some(EpisodeStatus::SolvedWithExisting)),
        ("admitted", Some(EpisodeStatus::Admitted)),
        ("running", None),
    ] {
        let episode = store
            .create_episode(&NewEpisode {
                task: json!({"description": name}),
                source: EpisodeSource::User,
            })
            .await
            .unwrap();
        for round in 1..=3 {
            store
                .append_event(&episode.id, "attempt", &json!({"round": round}))
                .await
                .unwrap();
        }
        if let Some(status) = finish {
            store
                .finish_episode(&episode.id, status, &json!({"name": name}))
                .await
                .unwrap();
        }
        episodes.push(episode.id);
    }
    std::thread::sleep(Duration::from_millis(5));
    let cutoff = chrono::Utc::now();
    std::thread::sleep(Duration::from_millis(5));
    // Finished after the cutoff: too recent.
    let recent = store
        .create_episode(&NewEpisode {
            task: json!({"description": "recent"}),
            source: EpisodeSource::User,
        })
        .await
        .unwrap();
    store
        .append_event(&recent.id, "attempt", &json!({"round": 1}))
        .await
        .unwrap();
    store
        .finish_episode(&recent.id, EpisodeStatus::Failed, &json!({}))
        .await
        .unwrap();

    let pruned = store.prune_journals(cutoff).await.unwrap();
    assert_eq!(
        pruned,
        PrunedJournals {
            episodes: 2,
            events: 6
        }
    );
    for (id, kept) in episodes.iter().zip([false, false, true, true]) {
        let record = store.episode(id).await.unwrap();
        let events = store.episode_events(id).await.unwrap();
        assert_eq!(events.len(), if kept { 3 } else { 0 }, "{record:?}");
        assert_eq!(record.journal_pruned_at.is_none(), kept, "{record:?}");
        // The row keeps what the episode came to.
        assert!(record.task["description"].is_string());
    }
    let failed = store.episode(&episodes[0]).await.unwrap();
    assert_eq!(failed.status, EpisodeStatus::Failed);
    assert_eq!(failed.outcome, Some(json!({"name": "failed"})));
    assert_eq!(store.episode_events(&recent.id).await.unwrap().len(), 1);
    // Again: nothing more to prune, and the first prune's time stays.
    assert_eq!(
        store.prune_journals(cutoff).await.unwrap(),
        PrunedJournals::default()
    );
    assert_eq!(store.episode(&episodes[0]).await.unwrap(), failed);
    store.close().await;
}

macro_rules! store_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let fx = super::Fixture::sqlite();
                    super::$name(&fx).await;
                    fx.cleanup().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs PostgreSQL: SKILLFORGE_TEST_POSTGRES_URL=$(scripts/start-postgres) cargo test -- --ignored postgres"]
                async fn $name() {
                    let fx = super::Fixture::postgres().await;
                    super::$name(&fx).await;
                    fx.cleanup().await;
                }
            )*
        }
    };
}

store_suite!(
    add_and_get,
    version_bump_and_rollback,
    edges_and_callers,
    stats_status_and_list,
    outbox_replay,
    transaction_rollback_leaves_nothing,
    meta_and_reopen,
    concurrent_writers_conflict_or_serialize,
    episode_journal,
    admission_event_shares_the_transaction,
    read_only_beside_a_writer,
    eval_runs,
    episode_leases,
    concurrent_admissions_are_all_kept,
    outbox_drainers_take_turns,
    journal_pruning,
);

#[tokio::test]
async fn bad_urls_are_explained() {
    for url in ["mysql://x", "sqlite://", "sqlite::memory:", "skills.db"] {
        let err = Store::open(url).await.unwrap_err();
        assert!(matches!(err, StoreError::Url { .. }), "{url}: {err}");
        assert!(err.to_string().contains("sqlite://PATH"));
    }
}

#[tokio::test]
async fn unreachable_postgres_says_what_to_do() {
    // Port 1 on loopback: nothing listens there.
    let err = Store::open("postgres://u:secret@127.0.0.1:1/db")
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(
            err,
            StoreError::Database {
                backend: Backend::Postgres,
                ..
            }
        ),
        "{message}"
    );
    assert!(message.contains("127.0.0.1:1/db"), "{message}");
    assert!(
        message.contains("check that PostgreSQL is running"),
        "{message}"
    );
    assert!(!message.contains("secret"), "credentials leak: {message}");
}

#[test]
fn content_hash_ignores_key_order_but_not_content() {
    let a = json!({"input": [1, 2], "expect": {"x": 1, "y": 2}});
    let b: serde_json::Value =
        serde_json::from_str(r#"{"expect": {"y": 2, "x": 1}, "input": [1, 2]}"#).unwrap();
    assert_eq!(content_hash("code", &a), content_hash("code", &b));
    assert_ne!(content_hash("code", &a), content_hash("code ", &a));
    assert_ne!(content_hash("code", &a), content_hash("code", &json!([])));
    // The code/tests boundary is unambiguous.
    assert_ne!(
        content_hash("a", &json!("b")),
        content_hash("a\"", &json!(""))
    );
}

#[test]
fn statuses_round_trip() {
    for status in SkillStatus::ALL {
        assert_eq!(status.as_str().parse::<SkillStatus>().unwrap(), status);
    }
    assert!(matches!(
        "gone".parse::<SkillStatus>(),
        Err(StoreError::Invalid(_))
    ));
    for status in EpisodeStatus::ALL {
        assert_eq!(status.as_str().parse::<EpisodeStatus>().unwrap(), status);
        // serde and the database agree on the names.
        assert_eq!(json!(status), json!(status.as_str()));
    }
    for source in EpisodeSource::ALL {
        assert_eq!(source.as_str().parse::<EpisodeSource>().unwrap(), source);
        assert_eq!(json!(source), json!(source.as_str()));
    }
    assert!("done".parse::<EpisodeStatus>().is_err());
    assert!("robot".parse::<EpisodeSource>().is_err());
    // An unknown name lists the known ones.
    let message = |e: StoreError| e.to_string();
    assert!(
        message("gone".parse::<SkillStatus>().unwrap_err())
            .ends_with("unknown skill status \"gone\": expected active, deprecated or quarantined")
    );
    assert!(
        message("robot".parse::<EpisodeSource>().unwrap_err())
            .ends_with("unknown episode source \"robot\": expected curriculum or user")
    );
    assert!(
        message("done".parse::<EpisodeStatus>().unwrap_err())
            .ends_with("expected running, admitted, solved_with_existing, failed or interrupted")
    );
}
