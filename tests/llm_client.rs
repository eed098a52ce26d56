//! `OpenAiClient` against a real HTTP server on loopback (axum on 127.0.0.1:0), scripted to answer
//! with errors, delays and bad bodies.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use skillforge::llm::{
    ChatRequest, FinishReason, LanguageModel, LlmError, Message, OpenAiClient, OpenAiConfig,
    RetryPolicy, UsageCounter,
};

/// One canned answer of the test server.
#[derive(Clone)]
struct Canned {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    delay: Duration,
}

impl Canned {
    fn ok(text: &str, prompt_tokens: u32, completion_tokens: u32) -> Self {
        let body = json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "served-model",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}
        });
        Self::raw(200, &body.to_string())
    }

    fn error(status: u16, message: &str) -> Self {
        let body = json!({"error": {"message": message, "type": "test"}});
        Self::raw(status, &body.to_string())
    }

    fn raw(status: u16, body: &str) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// What the server received.
struct Received {
    authorization: Option<String>,
    body: Value,
    at: Instant,
}

#[derive(Default)]
struct Script {
    replies: VecDeque<Canned>,
    received: Vec<Received>,
}

struct TestServer {
    base_url: String,
    script: Arc<Mutex<Script>>,
}

impl TestServer {
    async fn start(replies: Vec<Canned>) -> Self {
        let script = Arc::new(Mutex::new(Script {
            replies: replies.into(),
            received: Vec::new(),
        }));
        let app = Router::new()
            .route("/v1/chat/completions", post(answer))
            .with_state(Arc::clone(&script));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self {
            base_url: format!("http://{addr}/v1"),
            script,
        }
    }

    fn requests(&self) -> usize {
        self.script.lock().unwrap().received.len()
    }

    fn with_received<T>(&self, f: impl FnOnce(&[Received]) -> T) -> T {
        f(&self.script.lock().unwrap().received)
    }
}

async fn answer(
    State(script): State<Arc<Mutex<Script>>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    let canned = {
        let mut script = script.lock().unwrap();
        script.received.push(Received {
            authorization: headers
                .get("authorization")
                .map(|v| v.to_str().unwrap().to_string()),
            body: serde_json::from_str(&body).unwrap_or(Value::Null),
            at: Instant::now(),
        });
        script.replies.pop_front()
    };
    let Some(canned) = canned else {
        return (StatusCode::IM_A_TEAPOT, "test server script exhausted").into_response();
    };
    tokio::time::sleep(canned.delay).await;
    let mut response = (StatusCode::from_u16(canned.status).unwrap(), canned.body).into_response();
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    for (name, value) in canned.headers {
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// A client with fast retries so tests do not wait for backoff.
fn client(base_url: &str, max_attempts: u32) -> OpenAiClient {
    let mut config = OpenAiConfig::new(base_url, "test-model");
    config.request_timeout = Duration::from_secs(5);
    config.retry = RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        max_retry_after: Duration::from_secs(5),
    };
    OpenAiClient::new(config).unwrap()
}

fn ask(text: &str) -> ChatRequest {
    ChatRequest::new(vec![
        Message::system("You write JavaScript."),
        Message::user(text),
    ])
}

#[tokio::test]
async fn success_parses_the_reply_and_sends_an_openai_request() {
    let server = TestServer::start(vec![
        Canned::ok("function f() {}", 21, 5),
        Canned::ok("again", 3, 1),
    ])
    .await;
    let mut config = OpenAiConfig::new(format!("{}/", server.base_url), "test-model");
    config.api_key = Some("sk-test".into());
    config.temperature = 0.7;
    config.max_tokens = 99;
    let client = OpenAiClient::new(config).unwrap();
    assert_eq!(
        client.url(),
        format!("{}/chat/completions", server.base_url)
    );

    let reply = client
        .complete(
            ask("write f")
                .with_temperature(0.0)
                .with_max_tokens(64)
                .with_stop(vec!["```\n".into()])
                .with_json_object()
                .with_seed(4_000_000_000),
        )
        .await
        .unwrap();
    assert_eq!(reply.text, "function f() {}");
    assert_eq!((reply.prompt_tokens, reply.completion_tokens), (21, 5));
    assert_eq!(reply.model, "served-model");
    assert_eq!(reply.finish_reason, FinishReason::Stop);
    assert_eq!(reply.attempts, 1);
    assert!(reply.latency > Duration::ZERO);

    // Defaults of the client fill what the request leaves unset; no stop list when empty.
    client.complete(ask("again")).await.unwrap();
    server.with_received(|received| {
        let first = &received[0];
        assert_eq!(first.authorization.as_deref(), Some("Bearer sk-test"));
        assert_eq!(first.body["model"], "test-model");
        assert_eq!(
            first.body["messages"][0],
            json!({"role": "system", "content": "You write JavaScript."})
        );
        assert_eq!(
            first.body["messages"][1],
            json!({"role": "user", "content": "write f"})
        );
        assert_eq!(first.body["temperature"], 0.0);
        assert_eq!(first.body["max_tokens"], 64);
        assert_eq!(first.body["stop"], json!(["```\n"]));
        assert_eq!(
            first.body["response_format"],
            json!({"type": "json_object"})
        );
        assert_eq!(first.body["seed"], 4_000_000_000u32);
        // Not a llama.cpp server as far as the client knows: no field of its own.
        assert!(first.body.get("cache_prompt").is_none());
        assert_eq!(first.body["stream"], false);
        let second = &received[1];
        assert_eq!(
            second.body["temperature"]
                .as_f64()
                .map(|t| (t * 10.0).round()),
            Some(7.0)
        );
        assert_eq!(second.body["max_tokens"], 99);
        assert!(second.body.get("stop").is_none());
        assert!(second.body.get("response_format").is_none());
        assert!(second.body.get("seed").is_none());
    });
}

/// A client for llama.cpp's server sends a seeded request past its prompt cache (with it,
/// the reply to a seed depends on what the cache held); an unseeded one as usual.
#[tokio::test]
async fn a_seeded_request_to_llama_cpp_skips_its_prompt_cache() {
    let server = TestServer::start(vec![Canned::ok("a", 1, 1), Canned::ok("b", 1, 1)]).await;
    let client = OpenAiClient::new(OpenAiConfig {
        uncached_seeds: true,
        ..OpenAiConfig::new(&server.base_url, "m")
    })
    .unwrap();
    client.complete(ask("seeded").with_seed(9)).await.unwrap();
    client.complete(ask("not seeded")).await.unwrap();
    server.with_received(|received| {
        assert_eq!(received[0].body["seed"], 9);
        assert_eq!(received[0].body["cache_prompt"], false);
        assert!(received[1].body.get("seed").is_none());
        assert!(received[1].body.get("cache_prompt").is_none());
    });
}

#[tokio::test]
async fn a_json_schema_is_sent_as_openai_response_format() {
    let server = TestServer::start(vec![Canned::ok("{\"ok\": true}", 9, 4)]).await;
    let schema = json!({
        "type": "object",
        "properties": {"ok": {"type": "boolean"}},
        "required": ["ok"]
    });
    client(&server.base_url, 1)
        .complete(ask("answer in JSON").with_json_schema("verdict", schema.clone()))
        .await
        .unwrap();
    server.with_received(|received| {
        assert_eq!(
            received[0].body["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "verdict", "schema": schema}})
        );
    });
}

#[tokio::test]
async fn no_api_key_sends_no_authorization_header() {
    let server = TestServer::start(vec![Canned::ok("ok", 1, 1)]).await;
    let config = OpenAiConfig::new(&server.base_url, "m")
        .with_api_key_from_env("SKILLFORGE_TEST_UNSET_KEY_VAR");
    assert!(config.api_key.is_none());
    OpenAiClient::new(config)
        .unwrap()
        .complete(ask("hi"))
        .await
        .unwrap();
    server.with_received(|received| assert_eq!(received[0].authorization, None));
}

#[tokio::test]
async fn rate_limit_with_retry_after_seconds_is_honoured() {
    let server = TestServer::start(vec![
        Canned::error(429, "slow down").header("retry-after", "1"),
        Canned::ok("done", 4, 2),
    ])
    .await;
    let client = client(&server.base_url, 3);
    let reply = client.complete(ask("x")).await.unwrap();
    assert_eq!(reply.text, "done");
    assert_eq!(reply.attempts, 2);
    let gap = server.with_received(|r| r[1].at - r[0].at);
    assert!(
        gap >= Duration::from_millis(950),
        "retried after {gap:?}, the server asked for 1 s"
    );
    assert_eq!(client.usage().snapshot().retries, 1);
}

#[tokio::test]
async fn rate_limit_with_retry_after_http_date_is_honoured() {
    let at = chrono::Utc::now() + chrono::Duration::seconds(2);
    let date = at.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
    let server = TestServer::start(vec![
        Canned::error(429, "slow down").header("retry-after", date),
        Canned::ok("done", 4, 2),
    ])
    .await;
    let reply = client(&server.base_url, 3)
        .complete(ask("x"))
        .await
        .unwrap();
    assert_eq!(reply.attempts, 2);
    // The date has one-second resolution: the wait is between 1 and 2 s.
    let gap = server.with_received(|r| r[1].at - r[0].at);
    assert!(gap >= Duration::from_millis(950), "retried after {gap:?}");
}

#[tokio::test]
async fn retry_after_longer_than_allowed_fails_at_once() {
    let server = TestServer::start(vec![
        Canned::error(429, "quota").header("retry-after", "3600"),
    ])
    .await;
    let error = client(&server.base_url, 5)
        .complete(ask("x"))
        .await
        .unwrap_err();
    match &error {
        LlmError::RetryAfterTooLong {
            status,
            retry_after,
            ..
        } => {
            assert_eq!(*status, 429);
            assert_eq!(*retry_after, Duration::from_secs(3600));
        }
        other => panic!("unexpected error {other}"),
    }
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_then_succeed() {
    let server = TestServer::start(vec![
        Canned::error(500, "boom"),
        Canned::error(503, "overloaded"),
        Canned::ok("finally", 10, 3),
    ])
    .await;
    let reply = client(&server.base_url, 4)
        .complete(ask("x"))
        .await
        .unwrap();
    assert_eq!(reply.text, "finally");
    assert_eq!(reply.attempts, 3);
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn server_errors_until_attempts_run_out_give_unavailable() {
    let server = TestServer::start(vec![
        Canned::error(500, "boom 1"),
        Canned::error(502, "boom 2"),
        Canned::error(500, "boom 3"),
        Canned::ok("never asked for", 1, 1),
    ])
    .await;
    let client = client(&server.base_url, 3);
    let error = client.complete(ask("x")).await.unwrap_err();
    match &error {
        LlmError::Unavailable {
            status,
            message,
            attempts,
            ..
        } => {
            assert_eq!((*status, message.as_str(), *attempts), (500, "boom 3", 3));
        }
        other => panic!("unexpected error {other}"),
    }
    assert!(error.to_string().contains("try again later"), "{error}");
    assert_eq!(server.requests(), 3);
    let usage = client.usage().snapshot();
    assert_eq!((usage.calls, usage.failed_calls, usage.retries), (0, 1, 2));
}

#[tokio::test]
async fn non_retryable_client_errors_return_at_once_with_the_server_message() {
    let server = TestServer::start(vec![
        Canned::error(400, "maximum context length is 4096 tokens"),
        Canned::error(401, "invalid api key"),
        Canned::raw(404, "no such route"),
    ])
    .await;
    let client = client(&server.base_url, 5);
    let started = Instant::now();
    let error = client.complete(ask("x")).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::Rejected { status: 400, message, .. } if message == "maximum context length is 4096 tokens"),
        "{error}"
    );
    assert!(error.to_string().contains("not retried"), "{error}");
    let error = client.complete(ask("x")).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::Rejected { status: 401, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("llm.api_key_env"), "{error}");
    let error = client.complete(ask("x")).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::Rejected { status: 404, message, .. } if message == "no such route"),
        "{error}"
    );
    assert_eq!(server.requests(), 3, "each call made exactly one attempt");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn slow_replies_time_out_and_are_retried() {
    let server = TestServer::start(vec![
        Canned::ok("too late", 1, 1).delayed(Duration::from_secs(3)),
        Canned::ok("in time", 2, 2),
        Canned::ok("too late", 1, 1).delayed(Duration::from_secs(3)),
        Canned::ok("too late", 1, 1).delayed(Duration::from_secs(3)),
    ])
    .await;
    let mut config = OpenAiConfig::new(&server.base_url, "m");
    config.request_timeout = Duration::from_millis(300);
    config.retry = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(10),
        ..RetryPolicy::default()
    };
    let client = OpenAiClient::new(config).unwrap();

    let reply = client.complete(ask("x")).await.unwrap();
    assert_eq!((reply.text.as_str(), reply.attempts), ("in time", 2));

    let started = Instant::now();
    let error = client.complete(ask("x")).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::Timeout { attempts: 2, .. }),
        "{error}"
    );
    assert!(
        error.to_string().contains("llm.request_timeout_ms"),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "timed out after {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn malformed_replies_are_not_retried() {
    let server = TestServer::start(vec![
        Canned::raw(200, "{\"choices\": [oops"),
        Canned::raw(200, r#"{"model": "m", "choices": []}"#),
        Canned::ok("unused", 1, 1),
    ])
    .await;
    let client = client(&server.base_url, 5);
    let error = client.complete(ask("x")).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::MalformedResponse { detail, .. } if detail.contains("invalid JSON") && detail.contains("oops")),
        "{error}"
    );
    let error = client.complete(ask("x")).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::MalformedResponse { detail, .. } if detail.contains("no choices")),
        "{error}"
    );
    assert!(error.to_string().contains("/v1"), "{error}");
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn missing_usage_and_content_are_tolerated() {
    let body = json!({"choices": [{"message": {"role": "assistant", "content": null}, "finish_reason": "length"}]});
    let server = TestServer::start(vec![Canned::raw(200, &body.to_string())]).await;
    let reply = client(&server.base_url, 1)
        .complete(ask("x"))
        .await
        .unwrap();
    assert_eq!(reply.text, "");
    assert_eq!((reply.prompt_tokens, reply.completion_tokens), (0, 0));
    assert_eq!(
        reply.model, "test-model",
        "falls back to the configured model"
    );
    assert_eq!(reply.finish_reason, FinishReason::Length);
}

#[tokio::test]
async fn unreachable_server_gives_a_connect_error_after_retrying() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let client = client(&format!("http://127.0.0.1:{port}/v1"), 3);
    let error = client.complete(ask("x")).await.unwrap_err();
    assert!(
        matches!(&error, LlmError::Connect { attempts: 3, .. }),
        "{error}"
    );
    assert!(error.to_string().contains("llm.base_url"), "{error}");
}

#[tokio::test]
async fn usage_counts_calls_tokens_and_latency_across_shared_clients() {
    let server = TestServer::start(vec![
        Canned::ok("a", 100, 10).delayed(Duration::from_millis(50)),
        Canned::error(500, "flaky"),
        Canned::ok("b", 200, 20),
        Canned::error(400, "bad"),
    ])
    .await;
    let shared = Arc::new(UsageCounter::new());
    let coder = client(&server.base_url, 3).with_usage(Arc::clone(&shared));
    let critic = client(&server.base_url, 3).with_usage(Arc::clone(&shared));
    coder.complete(ask("1")).await.unwrap();
    critic.complete(ask("2")).await.unwrap();
    coder.complete(ask("3")).await.unwrap_err();
    let usage = shared.snapshot();
    assert_eq!(usage.calls, 2);
    assert_eq!(usage.failed_calls, 1);
    assert_eq!(usage.retries, 1);
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens()
        ),
        (300, 30, 330)
    );
    assert!(usage.total_latency >= Duration::from_millis(50));
    assert_eq!(
        coder.usage().snapshot(),
        usage,
        "both clients report the shared counter"
    );
}

#[test]
fn bad_configuration_is_rejected_up_front() {
    let error = OpenAiClient::new(OpenAiConfig::new("127.0.0.1:8080/v1", "m")).unwrap_err();
    assert!(
        matches!(&error, LlmError::Config(m) if m.contains("http")),
        "{error}"
    );
    let error = OpenAiClient::new(OpenAiConfig::new("http://127.0.0.1:8080/v1", " ")).unwrap_err();
    assert!(
        matches!(&error, LlmError::Config(m) if m.contains("llm.model")),
        "{error}"
    );
    let config = OpenAiConfig {
        api_key: Some("sk-secret".into()),
        ..OpenAiConfig::new("http://x/v1", "m")
    };
    assert!(
        !format!("{config:?}").contains("sk-secret"),
        "Debug must not print the key"
    );
}

#[tokio::test]
async fn a_reply_over_the_size_cap_is_refused_not_read() {
    // A whole reply that says how long it is.
    let server = TestServer::start(vec![Canned::ok(&"x".repeat(10_000), 5, 5)]).await;
    let mut config = OpenAiConfig::new(&server.base_url, "test-model");
    config.max_response_bytes = 4096;
    let error = OpenAiClient::new(config)
        .unwrap()
        .complete(ask("hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            LlmError::ResponseTooLarge {
                status: 200,
                limit: 4096,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(
        server.requests(),
        1,
        "a reply that is too large is not retried"
    );
}

#[tokio::test]
async fn an_endless_reply_is_cut_at_the_size_cap() {
    // No Content-Length: the body goes on until the client hangs up.
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 4096];
        let _ = socket.read(&mut request).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n";
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = vec![b' '; 64 * 1024];
        while socket.write_all(&chunk).await.is_ok() {}
    });
    let mut config = OpenAiConfig::new(format!("http://{addr}/v1"), "test-model");
    config.max_response_bytes = 1 << 20;
    config.retry.max_attempts = 1;
    // Only bounds how long this test can take where the body is read to the end.
    config.request_timeout = Duration::from_secs(30);
    let error = OpenAiClient::new(config)
        .unwrap()
        .complete(ask("hi"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, LlmError::ResponseTooLarge { limit, .. } if limit == 1 << 20),
        "{error}"
    );
}

#[tokio::test]
async fn a_password_in_the_endpoint_url_is_never_printed() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut config = OpenAiConfig::new(format!("http://user:sk-secret@127.0.0.1:{port}/v1"), "m");
    config.api_key = Some("sk-key".into());
    config.retry.max_attempts = 1;
    let client = OpenAiClient::new(config).unwrap();
    let shown = format!("{client:?}");
    assert!(
        !shown.contains("sk-secret") && !shown.contains("sk-key"),
        "{shown}"
    );
    let error = client.complete(ask("x")).await.unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(matches!(&error, LlmError::Connect { .. }), "{shown}");
    assert!(!shown.contains("sk-secret"), "{shown}");
    assert!(shown.contains("user:***@127.0.0.1"), "{shown}");
}
