//! `skillforge serve` and `skillforge token ...`: the daemon's command line. The daemon
//! itself is `skillforge::daemon`.

use super::agent::{AgentArgs, EnvArgs};
use super::skills::{DataArgs, namespace_arg};
use super::{EXIT_OK, runtime};
use anyhow::Context;
use skillforge::daemon::{self, Access, Daemon, FileConfig, Policies};
use skillforge::library::{LibraryConfig, OpenMode};
use skillforge::runtime::CancellationToken;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// `skillforge serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:8420; port 0 picks a free one). The address
    /// served is printed on stdout. Beyond loopback, tokens are required.
    #[arg(long, env = "SKILLFORGE_LISTEN", value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Configuration file (TOML; see docs/skillforge.example.toml). Options and environment
    /// variables override it.
    #[arg(long, env = "SKILLFORGE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// The token file (default DATA_DIR/tokens.toml; `skillforge token add` writes it).
    #[arg(long, env = "SKILLFORGE_TOKENS_FILE", value_name = "FILE")]
    tokens_file: Option<PathBuf>,
    /// The largest request body in bytes (bigger ones are refused with 413).
    #[arg(long, env = "SKILLFORGE_BODY_LIMIT", value_name = "BYTES")]
    body_limit: Option<usize>,
    /// Log JSON lines instead of text.
    #[arg(long, env = "SKILLFORGE_LOG_JSON")]
    log_json: bool,
    /// Serve without the agent: no language model; tasks and runs are refused (503).
    #[arg(long)]
    no_agent: bool,
    #[command(flatten)]
    agent: AgentArgs,
    #[command(flatten)]
    env: EnvArgs,
}

/// `skillforge token ...`.
#[derive(Debug, clap::Subcommand)]
pub enum TokenCommand {
    /// Make a token for the daemon; it is printed once, and only its sha256 is kept.
    Add {
        /// A name for who holds it (unique).
        #[arg(long, default_value = "default")]
        name: String,
        /// A namespace it may act on (repeatable; `*` for all).
        #[arg(long = "namespace", required = true, value_name = "NS", value_parser = token_namespace)]
        namespaces: Vec<String>,
        /// The token file (default DATA_DIR/tokens.toml).
        #[arg(long, env = "SKILLFORGE_TOKENS_FILE", value_name = "FILE")]
        tokens_file: Option<PathBuf>,
    },
    /// List the tokens' names and namespaces.
    List {
        /// The token file (default DATA_DIR/tokens.toml).
        #[arg(long, env = "SKILLFORGE_TOKENS_FILE", value_name = "FILE")]
        tokens_file: Option<PathBuf>,
    },
    /// Revoke a token (a running daemon sees it at its next request).
    Remove {
        /// The token's name.
        name: String,
        /// The token file (default DATA_DIR/tokens.toml).
        #[arg(long, env = "SKILLFORGE_TOKENS_FILE", value_name = "FILE")]
        tokens_file: Option<PathBuf>,
    },
}

fn token_namespace(value: &str) -> Result<String, String> {
    if value == daemon::auth::ALL_NAMESPACES {
        Ok(value.to_string())
    } else {
        namespace_arg(value)
    }
}

fn data_dir(data: &DataArgs) -> PathBuf {
    data.data_dir
        .clone()
        .unwrap_or_else(LibraryConfig::default_data_dir)
}

/// Runs `token ...`.
pub fn token(data: &DataArgs, command: TokenCommand) -> anyhow::Result<ExitCode> {
    let file = |tokens_file: Option<PathBuf>| {
        tokens_file.unwrap_or_else(|| data_dir(data).join("tokens.toml"))
    };
    match command {
        TokenCommand::List { tokens_file } => {
            for token in daemon::auth::list_tokens(&file(tokens_file))? {
                println!("{}  {}", token.name, token.namespaces.join(","));
            }
            Ok(EXIT_OK)
        }
        TokenCommand::Remove { name, tokens_file } => {
            let path = file(tokens_file);
            anyhow::ensure!(
                daemon::auth::remove_token(&path, &name)?,
                "no token named {name:?} in {}; `skillforge token list` shows them",
                path.display()
            );
            eprintln!("token {name} removed from {}", path.display());
            Ok(EXIT_OK)
        }
        TokenCommand::Add {
            name,
            namespaces,
            tokens_file,
        } => {
            let path = file(tokens_file);
            let token = daemon::auth::add_token(&path, &name, &namespaces)?;
            eprintln!(
                "token {name} for {} added to {}; it is shown only now:",
                namespaces.join(", "),
                path.display()
            );
            println!("{token}");
            Ok(EXIT_OK)
        }
    }
}

/// Whether `serve` sets up its own logging (it may log JSON).
pub fn logs_json(args: &ServeArgs) -> anyhow::Result<bool> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    Ok(args.log_json || file.log_json.unwrap_or(false))
}

/// Runs `serve` until SIGTERM or Ctrl-C.
pub fn serve(data: &DataArgs, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let file = match &args.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    // Options and environment variables first, then the file.
    let mut data = data.clone();
    data.data_dir = data.data_dir.or(file.library.data_dir.clone());
    data.database_url = data.database_url.or(file.library.database_url.clone());
    data.qdrant_url = data.qdrant_url.or(file.library.qdrant_url.clone());
    let mut agent = args.agent.clone();
    agent.llm_url = agent.llm_url.or(file.llm.url.clone());
    agent.llm_model = agent.llm_model.or(file.llm.model.clone());
    agent.sampling_seed = agent.sampling_seed.or(file.llm.sampling_seed);
    agent.cross_check_model = agent
        .cross_check_model
        .or(file.llm.cross_check_model.clone());
    let listen = match args.listen.or(file.listen) {
        Some(addr) => addr,
        None => daemon::DEFAULT_LISTEN.parse()?,
    };
    let body_limit = args
        .body_limit
        .or(file.body_limit_bytes)
        .unwrap_or(daemon::DEFAULT_BODY_LIMIT);
    let tokens_file = args
        .tokens_file
        .clone()
        .or(file.tokens_file.clone())
        .unwrap_or_else(|| data_dir(&data).join("tokens.toml"));
    let access = Access::load(&tokens_file)?;
    // Refused before anything is opened or bound.
    access.check_bind(listen)?;
    let tokens_required = access.required();
    let policies = Policies::new(file.namespaces.clone());
    let leases = file
        .episodes
        .leases()
        .map_err(|e| anyhow::anyhow!("the configuration's {e}"))?;
    let journal_retention = file
        .episodes
        .journal_retention()
        .map_err(|e| anyhow::anyhow!("the configuration's {e}"))?;
    if data.database_url.is_some() && data.qdrant_url.is_none() {
        tracing::warn!(
            "the store is a server but the index is this data dir's: beside other daemons on \
             this database, its search misses skills whose index entries they applied; share \
             a Qdrant server (--qdrant-url) between them"
        );
    }

    runtime()?.block_on(async {
        let metrics = daemon::metrics::install()?;
        let builder = data
            .builder(OpenMode::ReadWrite)?
            .llm_config(agent.llm_config())
            .agent_config(agent.agent_config())
            .environment_spec(args.env.spec(&agent.domain))
            .episode_leases(leases)
            .observer(daemon::metrics::episode_observer());
        let runtime = data.build(builder).await?;
        let stop = CancellationToken::new();
        let daemon = Daemon::new(
            runtime.clone(),
            !args.no_agent,
            access,
            policies,
            stop.clone(),
            Some(metrics),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.message))?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let local = listener.local_addr()?;
        println!("skillforge serve: listening on http://{local}");
        std::io::stdout().flush()?;
        tracing::info!(
            %local,
            tokens_required,
            instance = runtime.instance_id(),
            "serving"
        );
        tokio::spawn(stop_on_signal(stop.clone(), runtime.clone()));
        if let Some(keep) = journal_retention {
            tokio::spawn(daemon::retention::prune_journals_every(
                keep,
                daemon::retention::PRUNE_EVERY,
                runtime.clone(),
                stop.clone(),
            ));
        }
        let resumed = daemon
            .resume_unfinished()
            .await
            .map_err(|e| anyhow::anyhow!("resuming unfinished episodes: {}", e.message))?;
        if resumed > 0 {
            tracing::info!(episodes = resumed, "resuming unfinished episodes");
        }
        let router = daemon::router(Arc::clone(&daemon), body_limit);
        daemon::serve(listener, router, stop)
            .await
            .context("serving HTTP")?;
        tracing::info!("stopped accepting; checkpointing episodes in progress");
        runtime.shutdown().await;
        daemon.wait_for_work().await;
        drop(daemon);
        runtime.close().await;
        tracing::info!("stopped");
        Ok(EXIT_OK)
    })
}

/// On SIGTERM or SIGINT: cancels `stop` (no more connections; event streams end) and shuts
/// the runtime down (its episodes stop at their next step and are checkpointed).
async fn stop_on_signal(stop: CancellationToken, runtime: skillforge::Runtime) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).ok();
    let terminate = async {
        match term.as_mut() {
            Some(t) => {
                t.recv().await;
            }
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
        _ = terminate => tracing::info!("SIGTERM: stopping"),
    }
    stop.cancel();
    // Signals the stop now; `serve` waits for it once the requests in flight are answered.
    drop(runtime.shutdown());
}
