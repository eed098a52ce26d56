//! What an episode lease costs the journal: one event appended in its own transaction, as
//! the agent did before leases (`append_event` alone) and as it does with them
//! (`hold_episode` then `append_event`, in one transaction), on SQLite (a file in a tempdir)
//! and, when `SKILLFORGE_TEST_POSTGRES_URL` is set (`scripts/start-postgres`), on PostgreSQL
//! (a fresh schema, dropped after). docs/benchmarks.md has the figures.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use skillforge::store::{EpisodeSource, Lease, NewEpisode, Store};

/// Appends one event to `episode` in its own transaction, holding `lease` first if given.
async fn append(store: &Store, episode: &str, lease: Option<&Lease>) {
    let mut tx = store.begin().await.unwrap();
    if let Some(lease) = lease {
        assert!(tx.hold_episode(episode, lease).await.unwrap());
    }
    let payload = json!({"round": 1, "passed": false, "problems": "a test failed"});
    tx.append_event(episode, "verdict", &payload).await.unwrap();
    tx.commit().await.unwrap();
}

fn journal_writes(c: &mut Criterion, backend: &str, url: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt.block_on(Store::open(url)).unwrap();
    let lease = Lease {
        owner: "bench".into(),
        duration: Duration::from_secs(30),
    };
    let new = NewEpisode {
        task: json!({"description": "bench"}),
        source: EpisodeSource::User,
    };
    let mut group = c.benchmark_group(format!("journal_{backend}"));
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for (name, lease) in [("append", None), ("hold_and_append", Some(&lease))] {
        let episode = rt.block_on(store.create_episode(&new)).unwrap().id;
        group.bench_function(name, |b| {
            b.iter(|| rt.block_on(append(&store, &episode, lease)))
        });
    }
    group.finish();
    rt.block_on(store.close());
}

fn journal(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/bench.db", dir.path().display());
    journal_writes(c, "sqlite", &url);

    let Ok(base) = std::env::var("SKILLFORGE_TEST_POSTGRES_URL") else {
        eprintln!("SKILLFORGE_TEST_POSTGRES_URL is not set: PostgreSQL not measured");
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
    let admin = rt.block_on(sqlx::PgPool::connect(&base)).unwrap();
    let run = |sql: String| rt.block_on(sqlx::query(&sql).execute(&admin)).unwrap();
    run(format!("CREATE SCHEMA {schema}"));
    let sep = if base.contains('?') { '&' } else { '?' };
    journal_writes(
        c,
        "postgres",
        &format!("{base}{sep}options[search_path]={schema}"),
    );
    run(format!("DROP SCHEMA {schema} CASCADE"));
}

criterion_group!(benches, journal);
criterion_main!(benches);
