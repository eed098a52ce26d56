//! Throughput of the offline local model (Qwen2.5-Coder-0.5B-Instruct Q4_K_M on llama.cpp via xllamacpp,
//! one thread): server start time, prompt tokens/s and generated tokens/s.
//!
//! `cargo bench --bench llm_local` (needs `scripts/setup llm`). Each prompt starts with a fresh
//! nonce so the server cannot reuse a cached prefix.

use std::time::{Duration, Instant};

use skillforge::llm::{
    ChatRequest, ChatResponse, LanguageModel, LocalModelServer, LocalServerConfig, Message,
    OpenAiClient,
};

const ROUNDS: usize = 3;

fn request(nonce: usize, body: &str, max_tokens: u32) -> ChatRequest {
    ChatRequest::new(vec![
        Message::system(format!("Session {nonce}. You are a coding assistant.")),
        Message::user(body),
    ])
    .with_temperature(0.0)
    .with_max_tokens(max_tokens)
}

async fn timed(client: &OpenAiClient, req: ChatRequest) -> ChatResponse {
    client.complete(req).await.expect("the local model answers")
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let config = LocalServerConfig::default();
    if let Err(error) = config.check_installed() {
        eprintln!("llm_local bench SKIPPED: {error}");
        return;
    }

    let mut starts = Vec::new();
    for _ in 0..ROUNDS {
        let began = Instant::now();
        let server = LocalModelServer::start(&config)
            .await
            .expect("server starts");
        starts.push(began.elapsed());
        server.shutdown().await;
    }

    let server = LocalModelServer::start(&config)
        .await
        .expect("server starts");
    let client = OpenAiClient::new(server.openai_config()).expect("client");
    // Warm up: the first request pays for page faults in the mmapped model.
    timed(&client, request(0, "Say hi.", 4)).await;

    // Prompt processing: a ~280-token and a ~1040-token prompt, one generated token each.
    let snippet = "/** Returns the sum of the squares of the numbers in `xs`. */\n\
                   function sumOfSquares(xs) { return xs.reduce((acc, x) => acc + x * x, 0); }\n";
    let mut prompt_rows = Vec::new();
    for (size, repeats) in [("short", 6), ("long", 24)] {
        let prompt = format!(
            "Review this code and name one bug.\n{}",
            snippet.repeat(repeats)
        );
        let mut rates = Vec::new();
        let mut tokens = 0;
        for round in 0..ROUNDS {
            let reply = timed(&client, request(100 * repeats + round, &prompt, 1)).await;
            rates.push(f64::from(reply.prompt_tokens) / reply.latency.as_secs_f64());
            tokens = reply.prompt_tokens;
        }
        prompt_rows.push((size, tokens, rates));
    }

    // Generation: a short prompt, up to 200 tokens; the prompt's share is subtracted using the
    // same prompt answered with one token.
    let ask = "Write a JavaScript module with ten small utility functions with JSDoc comments.";
    let mut gen_rates = Vec::new();
    let mut gen_sizes = Vec::new();
    for round in 0..ROUNDS {
        let nonce = 1000 + 2 * round;
        let one = timed(&client, request(nonce, ask, 1)).await;
        let full = timed(&client, request(nonce + 1, ask, 200)).await;
        let decode = full
            .latency
            .saturating_sub(one.latency)
            .max(Duration::from_millis(1));
        gen_rates.push(f64::from(full.completion_tokens.saturating_sub(1)) / decode.as_secs_f64());
        gen_sizes.push(full.completion_tokens);
    }
    server.shutdown().await;

    let start_ms: Vec<f64> = starts.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
    println!(
        "local model: {} (n_threads {}, n_ctx {})",
        config.model_id, config.n_threads, config.n_ctx
    );
    println!(
        "server start to /v1/models (ms): {start_ms:.0?}, median {:.0}",
        median(start_ms.clone())
    );
    for (size, tokens, rates) in prompt_rows {
        println!(
            "prompt processing ({size}, {tokens} tokens): tok/s {rates:.1?}, median {:.1}",
            median(rates.clone())
        );
    }
    println!(
        "generation: {gen_sizes:?} tokens, tok/s {gen_rates:.1?}, median {:.1}",
        median(gen_rates.clone())
    );
}
