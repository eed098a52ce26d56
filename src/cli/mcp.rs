//! `skillforge mcp`: the library as an MCP server, over stdio or streamable HTTP. The server
//! itself is `skillforge::mcp`; this is its command line.

use super::agent::AgentArgs;
use super::skills::DataArgs;
use super::{EXIT_OK, runtime};
use anyhow::Context;
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::{
    StreamableHttpServerConfig, StreamableHttpService, session::local::LocalSessionManager,
};
use skillforge::library::OpenMode;
use skillforge::mcp::SkillServer;
use skillforge::runtime::EnvironmentSpec;
use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

/// The address `--http` serves on when given without one.
const DEFAULT_HTTP: &str = "127.0.0.1:8765";

/// `skillforge mcp`.
#[derive(Debug, clap::Args)]
pub struct McpArgs {
    /// Serve streamable HTTP at ADDR (default 127.0.0.1:8765; port 0 picks a free one) on
    /// the path /mcp, instead of stdio. The address served is printed on stdout.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = DEFAULT_HTTP)]
    http: Option<SocketAddr>,
    /// Serve without solve_task: no language model is started.
    #[arg(long)]
    no_solve: bool,
    /// Open the library read-only (add_skill and solve_task are refused), so that other
    /// processes may write to it meanwhile.
    #[arg(long)]
    read_only: bool,
    /// Skills per page of `resources/list`.
    #[arg(long, value_name = "N", default_value_t = skillforge::mcp::RESOURCE_PAGE)]
    resource_page: usize,
    #[command(flatten)]
    agent: AgentArgs,
}

/// Runs `mcp`.
pub fn mcp(data: &DataArgs, args: McpArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let mode = if args.read_only {
            OpenMode::ReadOnly
        } else {
            OpenMode::ReadWrite
        };
        let builder = data
            .builder(mode)?
            .llm_config(args.agent.llm_config())
            .agent_config(args.agent.agent_config())
            .environment_spec(EnvironmentSpec::Code {
                domain: args.agent.domain.clone(),
            });
        let runtime = data.build(builder).await?;
        let server = SkillServer::new(runtime.clone(), !args.no_solve)
            .with_resource_page(args.resource_page);
        match args.http {
            None => {
                let running = server
                    .serve(rmcp::transport::stdio())
                    .await
                    .context("starting the MCP server on stdio")?;
                running.waiting().await.context("serving MCP on stdio")?;
            }
            Some(addr) => serve_http(server, addr).await?,
        }
        runtime.close().await;
        Ok(EXIT_OK)
    })
}

/// Serves streamable HTTP on `addr` until Ctrl-C or SIGTERM.
async fn serve_http(server: SkillServer, addr: SocketAddr) -> anyhow::Result<()> {
    let mut config = StreamableHttpServerConfig::default();
    if !addr.ip().is_loopback() {
        // The SDK accepts only loopback `Host` headers by default (DNS rebinding).
        tracing::warn!("serving MCP on {addr}, beyond this machine; there is no authentication");
        config.allowed_hosts.push(addr.ip().to_string());
    }
    let shutdown = config.cancellation_token.clone();
    let service: StreamableHttpService<SkillServer, LocalSessionManager> =
        StreamableHttpService::new(move || Ok(server.clone()), Default::default(), config);
    let router = axum::Router::new().nest_service("/mcp", service);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    println!("skillforge mcp: serving http://{local}/mcp");
    std::io::stdout().flush()?;
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
            }
            shutdown.cancel();
        })
        .await
        .context("serving MCP over HTTP")
}
