//! The `banter` binary: parse the configuration, open the store, serve.

use std::process::ExitCode;

use banter::cli::Cli;
use banter::error::error_chain;
use banter::{AppState, Config, run};
use clap::Parser;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let done = match cli.command {
        Some(command) => banter::cli::run(command).await,
        None => serve(cli.serve).await,
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %error_chain(err.as_ref()), "banter failed");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    tracing::info!(?config, "starting");
    // Before the state is set up: the metric handles register with it.
    let metrics = match config.metrics_bind {
        Some(bind) => Some((bind, banter::metrics::install()?)),
        None => None,
    };
    let state = AppState::new(&config).await?;
    if let Some((bind, handle)) = metrics {
        let listener = TcpListener::bind(bind).await?;
        // Printed before the main address, so scripts that wait for that
        // line have this one too.
        println!(
            "Banter metrics on http://{}/metrics",
            listener.local_addr()?
        );
        let app = banter::metrics::router(handle, state.io.clone());
        tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(%err, "the metrics listener failed");
            }
        });
    }
    let listener = TcpListener::bind(config.bind).await?;
    let addr = listener.local_addr()?;
    // A plain line on stdout, for people and for scripts that bind port 0.
    println!("Banter listening on http://{addr}");
    if !addr.ip().is_loopback() && config.public_origin.is_empty() {
        tracing::warn!(
            %addr,
            "listening beyond loopback without --public-origin: pages served under a \
             host name or address are refused (sockets and sign-in); set --public-origin \
             to the origin people open, e.g. https://chat.example.com"
        );
    }
    // On a worker of the runtime, not on this thread: `block_on` runs its
    // future on the main thread, and an accept loop there wakes that thread
    // for every connection and hands each one over to a worker.
    let grace = config.shutdown_grace();
    tokio::spawn(run(listener, state, grace, shutdown_signal())).await??;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(err) => {
                tracing::error!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
