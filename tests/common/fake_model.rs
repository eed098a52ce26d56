//! An OpenAI-compatible chat server on loopback standing in for the network: it answers
//! each request with what a test's reply function makes of the prompt, after a delay the
//! test can change while it runs, or holds requests unanswered until the test lets them go.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};

/// Makes the reply's text from the request's messages (as JSON text).
pub type Reply = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// The model name the fake server gives.
pub const MODEL: &str = "fake-coder";

/// A running fake model server.
pub struct FakeModel {
    /// `http://127.0.0.1:PORT/v1`, for `--llm-url`.
    pub base_url: String,
    /// Requests received so far (counted before the delay).
    pub requests: Arc<AtomicUsize>,
    /// Milliseconds each reply waits before it is sent.
    pub delay_ms: Arc<AtomicU64>,
    /// Requests from this one on (counting from 0) wait unanswered while it stays at most
    /// their number (`usize::MAX`, the default: none waits).
    pub hold_from: Arc<AtomicUsize>,
    /// Every request's body, in the order received.
    pub bodies: Arc<Mutex<Vec<Value>>>,
}

#[derive(Clone)]
struct ServerState {
    reply: Reply,
    requests: Arc<AtomicUsize>,
    delay_ms: Arc<AtomicU64>,
    hold_from: Arc<AtomicUsize>,
    bodies: Arc<Mutex<Vec<Value>>>,
}

async fn complete(State(state): State<ServerState>, body: String) -> axum::Json<Value> {
    let request: Value = serde_json::from_str(&body).unwrap();
    let number = {
        // Counted and recorded together, so the bodies are in the order of the numbers.
        let mut bodies = state.bodies.lock().unwrap();
        bodies.push(request.clone());
        state.requests.fetch_add(1, Ordering::SeqCst)
    };
    while number >= state.hold_from.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let delay = state.delay_ms.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(delay)).await;
    let content = (state.reply)(&request["messages"].to_string());
    axum::Json(completion(&content))
}

/// A chat completion of `content`, 100 prompt and 40 completion tokens.
pub fn completion(content: &str) -> Value {
    json!({
        "id": "chatcmpl-test", "object": "chat.completion", "model": MODEL,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 40, "total_tokens": 140}
    })
}

/// The coder's reply holding `code` in a fenced block.
pub fn code_reply(code: &str) -> String {
    format!("Here it is:\n```javascript\n{code}\n```")
}

impl FakeModel {
    /// Starts a server answering with `reply` on a free loopback port.
    pub async fn start(reply: impl Fn(&str) -> String + Send + Sync + 'static) -> FakeModel {
        let state = ServerState {
            reply: Arc::new(reply),
            requests: Arc::new(AtomicUsize::new(0)),
            delay_ms: Arc::new(AtomicU64::new(0)),
            hold_from: Arc::new(AtomicUsize::new(usize::MAX)),
            bodies: Arc::default(),
        };
        let app = Router::new()
            .route("/v1/chat/completions", post(complete))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeModel {
            base_url: format!("http://{addr}/v1"),
            requests: state.requests,
            delay_ms: state.delay_ms,
            hold_from: state.hold_from,
            bodies: state.bodies,
        }
    }

    /// The command-line options that point skillforge at this server.
    pub fn args(&self) -> [&str; 4] {
        ["--llm-url", &self.base_url, "--llm-model", MODEL]
    }
}
